// A condition on a run's page: its prompt, and -- while it waits and the run goes -- a way to answer it
// (an input of its type) or fail it, each after a confirmation. The answer goes to the API's signal
// endpoint, which records who gave it; a value of the wrong type is refused there, and its message shown.
"use strict";
(function () {
  const { el, fmtTime, postJSON, markdown } = window.roost;

  function prompt(c) {
    if (!c.prompt) return null;
    if (c.prompt_type === "markdown") return el("div", { class: "prompt", id: "condition-prompt" }, markdown(c.prompt));
    return el("pre", { class: "prompt", id: "condition-prompt", text: c.prompt });
  }

  function outcome(c) {
    if (c.state === "signalled") {
      return el("p", { id: "condition-state" }, "answered ", el("code", { text: JSON.stringify(c.value) }),
        c.signalled_by ? ` by ${c.signalled_by}` : "", c.signalled_at ? ` at ${fmtTime(c.signalled_at)}` : "");
    }
    const what = c.state === "timed_out" ? "timed out" : c.state;
    return el("p", { id: "condition-state", class: "error-line" }, what, c.reason ? `: ${c.reason}` : "",
      c.signalled_by ? ` (by ${c.signalled_by})` : "");
  }

  // ``onAnswered`` reloads what the page shows once the server has taken an answer.
  function conditionPanel(runName, actionId, c, runEnded, onAnswered) {
    const parts = [el("h3", { text: "Condition" }), el("p", { class: "muted" },
      `${c.name}: waits for ${c.data_type === "int" ? "an" : "a"} ${c.data_type}`,
      c.timeout_at ? ` until ${fmtTime(c.timeout_at)}` : "")];
    if (c.description) parts.push(el("p", { text: c.description }));
    parts.push(prompt(c));
    if (c.state !== "waiting") { parts.push(outcome(c)); return el("div", { class: "condition" }, ...parts.filter(Boolean)); }
    if (runEnded) { parts.push(el("p", { class: "muted", text: "The run has ended: nothing waits for this answer now." })); return el("div", { class: "condition" }, ...parts.filter(Boolean)); }

    const problem = el("p", { class: "error-line", id: "condition-error", role: "alert" });
    const url = `/api/v1/runs/${encodeURIComponent(runName)}/conditions/${encodeURIComponent(actionId)}/signal`;
    const controls = el("div", { class: "answer" });

    async function send(body, question, buttons) {
      if (!window.confirm(question)) return;
      problem.textContent = "";
      for (const b of buttons) b.disabled = true;
      try {
        await postJSON(url, body);
        onAnswered();
      } catch (e) {
        problem.textContent = e.message;
        for (const b of buttons) b.disabled = false;
      }
    }

    const buttons = [];
    if (c.data_type === "bool") {
      const yes = el("button", { type: "button", id: "condition-yes", text: "Yes",
        onclick: () => send({ value: true }, `Answer ${c.name} with yes (true)?`, buttons) });
      const no = el("button", { type: "button", id: "condition-no", text: "No",
        onclick: () => send({ value: false }, `Answer ${c.name} with no (false)?`, buttons) });
      buttons.push(yes, no);
      controls.append(yes, no);
    } else {
      const numeric = c.data_type === "int" || c.data_type === "float";
      const input = el("input", { id: "condition-value", type: numeric ? "number" : "text", step: c.data_type === "int" ? "1" : (numeric ? "any" : null),
        placeholder: c.data_type, "aria-label": `answer (${c.data_type})` });
      // The text goes as typed: the server reads it as the condition's type, and says what is wrong with it.
      const answer = el("button", { type: "button", id: "condition-answer", text: "Answer",
        onclick: () => send({ value: input.value }, `Answer ${c.name} with ${JSON.stringify(input.value)}?`, buttons) });
      input.addEventListener("keydown", (event) => { if (event.key === "Enter") answer.click(); });
      buttons.push(answer);
      controls.append(input, answer);
    }
    const fail = el("button", { type: "button", id: "condition-fail", class: "danger", text: "Fail…",
      onclick: () => {
        const reason = window.prompt(`Why does ${c.name} fail? (its wait() raises this)`, "rejected");
        if (reason === null) return;
        send({ fail: reason || "failed" }, `Fail ${c.name}${reason ? `: ${reason}` : ""}?`, buttons);
      } });
    buttons.push(fail);
    controls.append(fail);
    parts.push(controls, problem);
    return el("div", { class: "condition" }, ...parts.filter(Boolean));
  }

  window.roost.conditionPanel = conditionPanel;
})();
