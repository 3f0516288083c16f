// A run's page: the action tree and timeline, kept live while the run goes; a selected action's
// inputs, outputs, attempts, error, logs and report; aborting the run.
"use strict";
(function () {
  const { el, fmtTime, fmtDuration, phaseBadge, getJSON, postJSON, island, conditionPanel } = window.roost;
  const initial = island("run-state");
  const runName = initial.run.name;
  const base = "/console/api/runs/" + encodeURIComponent(runName);
  const CHILDREN_SHOWN = 200;
  const TERMINAL = new Set(["succeeded", "failed", "aborted", "timed_out", "recovered"]);

  let run = initial.run;
  let actions = initial.actions;
  // A big run comes as a window (its roots, the children of the open nodes) with each node's count of
  // children: opening a node or asking for all its children asks the server for them.
  let windowed = initial.window;
  let selected = null;            // the selected action's id
  let detail = null;              // what the server said of it
  const expanded = new Set();     // ids of expanded nodes
  const showAll = new Set();      // parents whose children are all shown
  let logs = { key: null, next: 0, lines: [], timer: null };

  const known = new Set();        // ids seen so far: a new node of a small run opens, a closed one stays closed

  function expandNew() {
    for (const a of actions) {
      if (known.has(a.id)) continue;
      known.add(a.id);
      // Big runs open at the root's children (a windowed one shows only those until asked).
      if ((!windowed && actions.length <= 300) || !a.parent) expanded.add(a.id);
    }
  }
  expandNew();

  function childrenOf() {
    const kids = new Map();
    for (const a of actions) {
      const key = a.parent || "";
      if (!kids.has(key)) kids.set(key, []);
      kids.get(key).push(a);
    }
    return kids;
  }

  function where(a) {
    if (a.cache_hit) return "cache hit";
    const parts = [];
    if (a.isolation) parts.push(a.isolation);
    if (a.node) parts.push(a.node);
    return parts.join(" @ ");
  }

  // -- the tree ---------------------------------------------------------------------------------------
  function kidsCount(id, kids) {
    return windowed ? windowed.kids[id] || 0 : (kids.get(id) || []).length;
  }

  function nodeRow(a, hasKids) {
    const toggle = el("button", {
      type: "button", class: "toggle" + (hasKids ? "" : " leaf"), "aria-label": "expand",
      text: expanded.has(a.id) ? "\u25be" : "\u25b8",
      onclick: (event) => {
        event.stopPropagation();
        if (expanded.has(a.id)) expanded.delete(a.id); else expanded.add(a.id);
        renderTree();
        if (windowed && expanded.has(a.id)) refresh(false);  // its children, from the server
      },
    });
    const tags = [];
    if (a.attempts > 1) tags.push(el("span", { class: "tag", text: `${a.attempts} attempts` }));
    if (a.cache_hit) tags.push(el("span", { class: "tag", text: "cached" }));
    if (a.group) tags.push(el("span", { class: "tag", text: a.group }));
    if (a.isolation === "condition") {
      tags.push(a.phase === "paused"
        ? el("span", { class: "tag waiting", text: "paused \u2014 waiting for an answer" })
        : el("span", { class: "tag", text: "condition" }));
    }
    return el("div", {
      class: "node" + (a.id === selected ? " selected" : ""), "data-action": a.id, "data-phase": a.phase,
      title: a.isolation_reason || "", onclick: () => select(a.id),
    },
    toggle, el("span", { class: `dot phase-${a.phase}`, title: a.phase }),
    el("span", { class: "name", text: a.name }),
    a.name !== a.task ? el("span", { class: "task", text: a.task }) : null,
    ...tags,
    el("span", { class: "dur", text: a.started_at ? fmtDuration(a.started_at, a.ended_at) : a.phase.replace(/_/g, " ") }),
    el("span", { class: "where", text: where(a) }));
  }

  function branch(parentId, kids) {
    const list = kids.get(parentId) || [];
    const shown = showAll.has(parentId) ? list : list.slice(0, CHILDREN_SHOWN);
    const ul = el("ul");
    for (const a of shown) {
      const hasKids = kidsCount(a.id, kids) > 0;
      const li = el("li", {}, nodeRow(a, hasKids));
      if (hasKids && expanded.has(a.id)) li.append(branch(a.id, kids));
      ul.append(li);
    }
    const all = parentId && windowed ? kidsCount(parentId, kids) : list.length;
    if (shown.length < all) {
      ul.append(el("li", { class: "more", text: `show ${all - shown.length} more`,
        onclick: () => { showAll.add(parentId); renderTree(); if (windowed) refresh(false); } }));
    }
    return ul;
  }

  function renderTree() {
    const tree = document.getElementById("tree");
    const kids = childrenOf();
    const note = windowed
      ? el("p", { class: "muted", id: "window-note", text: `${windowed.total} actions: open a node to load its children.` })
      : null;
    tree.replaceChildren(...[note, actions.length ? branch("", kids) : el("p", { class: "muted", text: "No actions yet." })]
      .filter((part) => part !== null));
  }

  // -- the timeline -------------------------------------------------------------------------------------
  function renderTimeline() {
    const box = document.getElementById("timeline");
    if (box.closest("[hidden]")) return;
    const dated = actions.filter((a) => a.queued_at || a.started_at).slice(0, 500);
    if (!dated.length) { box.replaceChildren(el("p", { class: "muted", text: "Nothing has started yet." })); return; }
    const now = Date.now() / 1000;
    const t0 = Math.min(...dated.map((a) => a.queued_at || a.started_at));
    const t1 = Math.max(...dated.map((a) => a.ended_at || (TERMINAL.has(a.phase) ? a.started_at || t0 : now)));
    const span = Math.max(t1 - t0, 0.001);
    const pct = (t) => `${(((t - t0) / span) * 100).toFixed(3)}%`;
    const width = (a, b) => `${((Math.max(b - a, 0) / span) * 100).toFixed(3)}%`;
    const rows = [el("div", { class: "axis" }, el("span"),
      el("span", { class: "ticks" }, el("span", { text: "0" }), el("span", { text: fmtDuration(0, span / 2) }),
        el("span", { text: fmtDuration(0, span) })))];
    for (const a of dated) {
      const track = el("div", { class: "track" });
      const queued = a.queued_at || a.started_at;
      const start = a.started_at || (a.ended_at || now);
      const end = a.ended_at || (TERMINAL.has(a.phase) ? start : now);
      if (a.segments) {
        // Its record dates more: waiting for resources, initializing, each attempt -- a bar each.
        for (const [phase, from, to] of a.segments) {
          const until = to || (TERMINAL.has(a.phase) ? end : now);
          const kind = phase === "queued" || phase === "waiting_for_resources" || phase === "initializing" ? phase : `dot phase-${phase}`;
          track.append(el("div", { class: `bar ${kind}`, title: `${phase.replace(/_/g, " ")} ${fmtDuration(from, until)}`,
            style: { left: pct(from), width: width(from, until) } }));
        }
      } else {
        if (start > queued) track.append(el("div", { class: "bar queued", title: `queued ${fmtDuration(queued, start)}`, style: { left: pct(queued), width: width(queued, start) } }));
        if (a.started_at) track.append(el("div", { class: `bar dot phase-${a.phase}`, title: `${a.phase} ${fmtDuration(start, a.ended_at)}`, style: { left: pct(start), width: width(start, end) } }));
      }
      rows.push(el("div", { class: "row", "data-action": a.id },
        el("span", { class: "label", text: a.name, title: a.id, onclick: () => select(a.id) }), track));
    }
    if (actions.length > dated.length) rows.push(el("p", { class: "muted", text: `The first ${dated.length} actions of ${actions.length}.` }));
    box.replaceChildren(...rows);
  }

  // -- the selected action ------------------------------------------------------------------------------
  // A value by what it is: a scalar as text, a record as JSON, a DataFrame as a table of its first
  // rows, a File or a Dir as links that download through the console.
  function fileLink(actionId, link) {
    const q = new URLSearchParams({ ref: link.ref });
    if (link.member) q.set("member", link.member);
    return el("a", { class: "file-link", href: `${base}/actions/${encodeURIComponent(actionId)}/files?${q}`,
      download: "", text: link.label });
  }

  function tablePreview(table) {
    if (table.error) return el("p", { class: "muted", text: table.error });
    const head = el("tr", {}, ...table.columns.map((c) => el("th", { text: c })));
    const rows = table.rows.map((r) => el("tr", {}, ...r.map((cell) => el("td", { text: cell }))));
    return el("div", { class: "frame" },
      el("table", { class: "preview" }, el("thead", {}, head), el("tbody", {}, ...rows)),
      el("p", { class: "muted", text: `${table.rows.length} of ${table.total} rows, ${table.columns.length} columns` }));
  }

  function valueCell(actionId, v) {
    const links = (v.links || []).length
      ? el("ul", { class: "links" }, ...v.links.map((link) => el("li", {}, fileLink(actionId, link)))) : null;
    if (v.kind === "file" || v.kind === "dir") return el("td", {}, links || el("pre", { text: v.text }));
    if (v.kind === "dataframe") return el("td", {}, v.table ? tablePreview(v.table) : el("pre", { text: v.text }), links);
    return el("td", {}, el("pre", { class: v.kind === "json" ? "json" : "", text: v.text }), links);
  }

  function valuesTable(actionId, values, none) {
    if (!values.length) return el("p", { class: "muted", text: none });
    return el("table", { class: "values" }, ...values.map((v) =>
      el("tr", { "data-kind": v.kind || "scalar", "data-name": v.name },
        el("td", { class: "name", text: v.name }), el("td", { class: "type", text: v.type }), valueCell(actionId, v))));
  }

  function fmtBytes(n) {
    if (n < 1024) return `${n} B`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let i = -1;
    do { n /= 1024; i += 1; } while (n >= 1024 && i < units.length - 1);
    return `${n.toFixed(1)} ${units[i]}`;
  }

  function checkpointList(saved) {
    if (!saved.length) return el("p", { class: "muted", text: "none saved" });
    return el("ul", { id: "checkpoints" }, ...saved.map((c) => el("li", {},
      `attempt ${c.attempt + 1}: ${c.count} file${c.count === 1 ? "" : "s"}, ${fmtBytes(c.bytes)} `,
      el("span", { class: "muted mono", text: c.where }),
      el("ul", {}, ...c.files.map((f) => el("li", { class: "mono", text: `${f.name} (${fmtBytes(f.size || 0)})` }))))));
  }

  // What the action ran with, as recorded when it started: names only, never a value.
  function environmentFacts(env) {
    if (!env) return el("p", { class: "muted", text: "not recorded (the action has not started, was a cache hit, or was recorded by an older roost)" });
    const resources = Object.entries(env.resources || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "none asked for";
    const granted = env.granted ? Object.entries(env.granted).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(",") : v}`).join("; ") : null;
    const secrets = (env.secrets || []).map((s) => (s.group ? `${s.group}/` : "") + s.key + (s.env_var ? ` as $${s.env_var}` : "") + (s.mount ? ` at ${s.mount}` : ""));
    const pairs = [["environment", env.environment || "-"], ["image", env.image || "-"], ["resources", resources],
      granted ? ["granted", granted] : null, ["env var names", (env.env_var_names || []).join(", ") || "-"],
      ["secret names", secrets.join(", ") || "-"]].filter(Boolean);
    return el("dl", { class: "facts", id: "environment" }, ...pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  function errorBlock(error) {
    return el("div", { class: "error-box" },
      el("pre", { class: "error", text: `${error.kind}: ${error.code}\n${error.message}` }),
      error.traceback ? el("pre", { class: "traceback", text: error.traceback }) : null);
  }

  function renderDetail() {
    const panel = document.getElementById("detail");
    if (!detail) return;
    const d = detail;
    const outputsNote = TERMINAL.has(d.phase) ? `none: the action ended ${d.phase}` : `not yet: the action is ${d.phase.replace(/_/g, " ")}`;
    const attempts = d.attempt_list.map((t) => el("li", {},
      `attempt ${t.attempt + 1}: `, phaseBadge(t.phase), ` ${fmtTime(t.started_at)} (${fmtDuration(t.started_at, t.ended_at)})`,
      t.error ? el("span", { class: "error-line", text: `  ${t.error.message}` }) : null));
    const attemptChoice = el("select", { id: "log-attempt", onchange: () => startLogs(true) },
      el("option", { value: "", text: "every attempt" }),
      ...d.attempt_list.map((t) => el("option", { value: String(t.attempt), text: `attempt ${t.attempt + 1}` })));
    const search = el("input", { id: "log-search", type: "search", placeholder: "search the logs", oninput: () => renderLogs() });
    panel.replaceChildren(...[
      el("h2", {}, phaseBadge(d.phase), " ", d.name, " ", el("span", { class: "muted mono", text: d.id })),
      el("dl", { class: "facts" },
        el("dt", { text: "task" }), el("dd", { text: d.task }),
        el("dt", { text: "queued" }), el("dd", { text: fmtTime(d.queued_at) }),
        el("dt", { text: "started" }), el("dd", { text: fmtTime(d.started_at) }),
        el("dt", { text: "duration" }), el("dd", { text: fmtDuration(d.started_at, d.ended_at) }),
        el("dt", { text: "ran" }), el("dd", { id: "where", text: (d.cache_hit ? "cache hit" : [d.isolation || "-", d.node ? `on ${d.node}` : ""].join(" ")) + (d.isolation_reason ? ` (${d.isolation_reason})` : "") }),
        d.abort_reason ? el("dt", { text: "abort" }) : null, d.abort_reason ? el("dd", { text: d.abort_reason }) : null),
      d.condition ? conditionPanel(runName, d.id, d.condition, run.terminal, () => { detail = null; loadDetail(); refresh(false); }) : null,
      d.error ? el("h3", { text: "Error" }) : null,
      d.error ? errorBlock(d.error) : null,
      el("h3", { text: "Inputs" }), valuesTable(d.id, d.inputs, "none"),
      el("h3", { text: "Outputs" }), valuesTable(d.id, d.outputs, outputsNote),
      el("h3", { text: "Attempts" }), attempts.length ? el("ul", { id: "attempts" }, ...attempts) : el("p", { class: "muted", text: d.attempts ? `${d.attempts} (not retried)` : "none yet" }),
      d.condition ? null : el("h3", { text: "Environment" }), d.condition ? null : environmentFacts(d.environment),
      d.condition ? null : el("h3", { text: "Checkpoints" }), d.condition ? null : checkpointList(d.checkpoints || []),
      el("h3", { text: "Logs" }), el("div", { class: "logbar" }, attemptChoice, search), el("pre", { class: "logs", id: "logs" }),
      d.has_report ? el("h3", { text: "Report" }) : null,
      d.has_report ? el("iframe", { class: "report", id: "report", sandbox: "allow-scripts", referrerpolicy: "no-referrer",
        src: `/reports/${encodeURIComponent(runName)}/${encodeURIComponent(d.id)}`, title: "report" }) : null,
    ].filter((part) => part !== null));
    startLogs(true);
  }

  async function loadDetail() {
    if (!selected) return;
    try {
      const wanted = selected;
      const answer = await getJSON(`${base}/actions/${encodeURIComponent(wanted)}`);
      if (wanted !== selected) return;
      const before = detail;
      detail = answer;
      const state = (d) => (d.condition ? d.condition.state : null);
      const changed = !before || before.id !== answer.id || before.phase !== answer.phase || before.attempts !== answer.attempts || before.has_report !== answer.has_report || state(before) !== state(answer)
        || JSON.stringify(before.checkpoints) !== JSON.stringify(answer.checkpoints) || Boolean(before.environment) !== Boolean(answer.environment);
      if (changed) renderDetail();
    } catch (e) {
      document.getElementById("detail").replaceChildren(el("p", { class: "error-line", text: e.message }));
    }
  }

  function select(id) {
    selected = id;
    detail = null;
    const address = new URL(location.href);
    address.searchParams.set("action", id);
    address.hash = "";
    history.replaceState(null, "", address.pathname + address.search);
    document.getElementById("detail").replaceChildren(el("p", { class: "muted", text: "loading..." }));
    renderTree();
    loadDetail();
  }

  // -- logs -----------------------------------------------------------------------------------------------
  function renderLogs() {
    const box = document.getElementById("logs");
    if (!box) return;
    const needle = (document.getElementById("log-search") || {}).value || "";
    const lines = needle ? logs.lines.filter((l) => l.line.toLowerCase().includes(needle.toLowerCase())) : logs.lines;
    if (!lines.length) { box.replaceChildren(document.createTextNode(logs.lines.length ? "(no line matches)" : "(no output)")); return; }
    const parts = [];
    for (const l of lines) {
      const span = el("span", { class: l.stream === "stderr" ? "stderr" : "" });
      if (needle) {
        const low = l.line.toLowerCase(), n = needle.toLowerCase();
        let at = 0, hit;
        while ((hit = low.indexOf(n, at)) !== -1) {
          span.append(l.line.slice(at, hit), el("mark", { text: l.line.slice(hit, hit + n.length) }));
          at = hit + n.length;
        }
        span.append(l.line.slice(at) + "\n");
      } else span.textContent = l.line + "\n";
      parts.push(span);
    }
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.replaceChildren(...parts);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  async function pollLogs() {
    if (!detail) return;
    const attempt = (document.getElementById("log-attempt") || {}).value || "";
    const key = `${detail.id}/${attempt}`;
    if (key !== logs.key) logs = { key, next: 0, lines: [], timer: logs.timer };
    try {
      const q = new URLSearchParams({ after: String(logs.next) });
      if (attempt) q.set("attempt", attempt);
      const answer = await getJSON(`${base}/actions/${encodeURIComponent(detail.id)}/logs?${q}`);
      if (key !== logs.key) return;
      logs.lines.push(...answer.lines);
      logs.next = answer.next;
      renderLogs();
    } catch (e) { /* shown at the next try */ }
  }

  function startLogs(reset) {
    if (reset) logs = { key: null, next: 0, lines: [], timer: logs.timer };
    if (logs.timer) clearInterval(logs.timer);
    pollLogs();
    logs.timer = setInterval(() => {
      if (detail && TERMINAL.has(detail.phase) && logs.key !== null) { pollLogs(); clearInterval(logs.timer); logs.timer = null; return; }
      pollLogs();
    }, 1000);
  }

  // -- the run ---------------------------------------------------------------------------------------------
  function renderHead() {
    document.getElementById("run-phase").replaceChildren(phaseBadge(run.phase, run.controller_gone));
    document.getElementById("run-duration").textContent = fmtDuration(run.started_at, run.ended_at);
    document.getElementById("abort").hidden = run.terminal;
    document.getElementById("reruns").hidden = !run.terminal;
    for (const id of ["rerun", "rerun-recover"]) {
      const button = document.getElementById(id);
      button.disabled = Boolean(run.rerun_refused);
      button.title = run.rerun_refused || "";
    }
    document.getElementById("rerun-why").textContent = run.terminal ? run.rerun_refused || "" : "";
    const waiting = document.getElementById("waiting");
    const asks = run.waiting_conditions || [];
    waiting.hidden = !asks.length;
    waiting.replaceChildren(...(asks.length ? ["Waiting for an answer: ", ...asks.flatMap((c, i) => [i ? ", " : "",
      el("a", { href: "#" + encodeURIComponent(c.id), "data-condition": c.id, text: c.name,
        onclick: (event) => { event.preventDefault(); select(c.id); } })])] : []));
    const shown = document.getElementById("run-error");
    if (run.error && !shown) {
      document.querySelector("dl.facts").after(el("pre", { class: "error", id: "run-error", text: run.error.message }));
    }
  }

  function windowQuery() {
    if (!windowed) return "";
    const q = new URLSearchParams({ open: [...expanded].join(","), all: [...showAll].filter(Boolean).join(",") });
    return `?${q}`;
  }

  function apply(answer) {
    run = answer.run;
    actions = answer.actions;
    windowed = answer.window;
    expandNew();
    renderHead();
    renderTree();
    renderTimeline();
    if (selected) loadDetail();
  }

  // Live: the server sends the run's state when it changes (server-sent events); a windowed run's
  // stream follows the nodes open on the page, so it starts again when they change.
  let stream = null;
  function follow() {
    if (stream) stream.close();
    stream = null;
    if (run.terminal || !window.EventSource) return;
    const opened = windowQuery();
    stream = new EventSource(`${base}/events${opened}`);
    stream.onmessage = (event) => {
      apply(JSON.parse(event.data));
      if (run.terminal) { stream.close(); stream = null; }
    };
    stream.onerror = () => {
      // The server went away or the page is not allowed any more: ask once, then look again later.
      if (stream) stream.close();
      stream = null;
      setTimeout(() => refresh(true), 2000);
    };
  }

  async function refresh(again = true) {
    try {
      apply(await getJSON(`${base}${windowQuery()}`));
    } catch (e) { /* the next refresh tries again */ }
    if (again && !run.terminal) follow();
    else if (windowed && stream) follow();  // the open nodes changed: the stream follows them
  }

  document.getElementById("abort").addEventListener("click", async () => {
    if (!window.confirm(`Abort run ${runName}? Every action still running is cancelled.`)) return;
    const button = document.getElementById("abort");
    button.disabled = true;
    try {
      await postJSON(`/api/v1/runs/${encodeURIComponent(runName)}/abort`, {});
      button.textContent = "Abort requested";
    } catch (e) {
      button.disabled = false;
      window.alert("The abort failed: " + e.message);
    }
  });

  async function rerun(recover) {
    const what = recover
      ? `Rerun ${runName} with recover? The actions that succeeded are reused; the rest run again.`
      : `Rerun ${runName}? Its task runs again, as a new run, with the same inputs.`;
    if (!window.confirm(what)) return;
    const buttons = [document.getElementById("rerun"), document.getElementById("rerun-recover")];
    for (const b of buttons) b.disabled = true;
    try {
      const answer = await postJSON(`/api/v1/runs/${encodeURIComponent(runName)}/rerun`, { recover });
      window.location.href = "/runs/" + encodeURIComponent(answer.name);
    } catch (e) {
      for (const b of buttons) b.disabled = false;
      document.getElementById("rerun-why").textContent = "The rerun failed: " + e.message;
    }
  }
  document.getElementById("rerun").addEventListener("click", () => rerun(false));
  document.getElementById("rerun-recover").addEventListener("click", () => rerun(true));

  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
      for (const pane of document.querySelectorAll(".pane")) pane.hidden = pane.id !== tab.dataset.tab;
      renderTimeline();
    });
  }

  renderHead();
  renderTree();
  // The action to open: ?action=ID (Action.url), or #ID (older links); the server put it in the page
  // even when a big run's window would not have held it.
  const wanted = new URLSearchParams(location.search).get("action") || decodeURIComponent(location.hash.slice(1));
  if (wanted && actions.some((a) => a.id === wanted)) {
    const parents = new Map(actions.map((a) => [a.id, a.parent]));
    for (let up = parents.get(wanted); up; up = parents.get(up)) expanded.add(up);
    select(wanted);
    const row = document.querySelector(`.node[data-action="${CSS.escape(wanted)}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
  }
  follow();
})();
