// The runs list: the filters apply as they change; the first page refreshes itself every 2 s.
"use strict";
(function () {
  const { el, fmtTime, fmtDuration, phaseBadge, getJSON, island } = window.roost;
  const state = island("runs-state");
  const body = document.getElementById("runs-body");
  const form = document.getElementById("filters");
  document.getElementById("filter-phase").addEventListener("change", () => form.submit());

  function origin(run) {
    const parts = [run.mode];
    if (run.trigger) parts.push(`trigger ${run.trigger}`);
    if (run.version) parts.push(`version ${run.version}`);
    if (run.recovered_from) parts.push(`rerun of ${run.recovered_from}`);
    return parts.join(", ");
  }

  function render(runs) {
    const rows = runs.map((run) =>
      el("tr", { "data-run": run.name },
        el("td", {}, el("a", { href: "/runs/" + encodeURIComponent(run.name), text: run.name })),
        el("td", { text: run.task }),
        el("td", {}, phaseBadge(run.phase, run.controller_gone)),
        el("td", { text: fmtTime(run.started_at || run.created_at) }),
        el("td", { text: run.started_at ? fmtDuration(run.started_at, run.ended_at).replace(" ...", "") : "-" }),
        el("td", { text: origin(run) })));
    if (!rows.length) rows.push(el("tr", { class: "empty" }, el("td", { colspan: "6", text: "No runs match." })));
    body.replaceChildren(...rows);
  }

  async function refresh() {
    try {
      const answer = await getJSON("/console/api/runs?" + new URLSearchParams(state.filters));
      render(answer.runs);
      document.getElementById("live").textContent = "live";
    } catch (e) {
      document.getElementById("live").textContent = "not refreshing: " + e.message;
    }
  }

  if (state.live) setInterval(refresh, 2000);
})();
