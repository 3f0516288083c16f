// The runs list: the filters apply as they change; the first page follows the store live (server-sent
// events, sent when the page's runs change), and asks again every few seconds if the stream breaks.
"use strict";
(function () {
  const { el, fmtTime, fmtDuration, phaseBadge, getJSON, island } = window.roost;
  const state = island("runs-state");
  const body = document.getElementById("runs-body");
  const form = document.getElementById("filters");
  const live = document.getElementById("live");
  document.getElementById("filter-phase").addEventListener("change", () => form.submit());

  function origin(run) {
    const parts = [run.mode];
    if (run.trigger) parts.push(`trigger ${run.trigger}`);
    if (run.version) parts.push(`version ${run.version}`);
    if (run.recovered_from) parts.push(`rerun of ${run.recovered_from}`);
    if (run.started_by) parts.push(`by ${run.started_by}`);
    return parts.join(", ");
  }

  function render(answer) {
    const rows = answer.runs.map((run) =>
      el("tr", { "data-run": run.name },
        el("td", {}, el("a", { href: "/runs/" + encodeURIComponent(run.name), text: run.name })),
        el("td", { text: run.task }),
        el("td", {}, phaseBadge(run.phase, run.controller_gone)),
        el("td", { text: fmtTime(run.started_at || run.created_at) }),
        el("td", { text: run.started_at ? fmtDuration(run.started_at, run.ended_at).replace(" ...", "") : "-" }),
        el("td", { text: origin(run) })));
    if (!rows.length) rows.push(el("tr", { class: "empty" }, el("td", { colspan: "6", text: "No runs match." })));
    body.replaceChildren(...rows);
    // The first page's link to the next follows the page: a run more makes an older one the last.
    const next = document.getElementById("next-page");
    if (next && answer.next) next.href = "/?" + new URLSearchParams({ ...state.filters, before: answer.next });
  }

  let stream = null;
  function follow() {
    if (!window.EventSource) { setTimeout(poll, 2000); return; }
    stream = new EventSource("/console/api/events/runs?" + new URLSearchParams(state.filters));
    stream.onopen = () => { live.textContent = "live"; live.dataset.stream = "open"; };
    stream.onmessage = (event) => { render(JSON.parse(event.data)); live.textContent = "live"; };
    stream.onerror = () => {
      // The server went away or the key is no longer valid: say so, ask once later, then follow again.
      stream.close();
      stream = null;
      live.dataset.stream = "closed";
      live.textContent = "not live: reconnecting";
      setTimeout(poll, 2000);
    };
  }

  async function poll() {
    try {
      render(await getJSON("/console/api/runs?" + new URLSearchParams(state.filters)));
      follow();
    } catch (e) {
      live.textContent = "not refreshing: " + e.message;
      setTimeout(poll, 5000);
    }
  }

  if (state.live) follow();
})();
