// The triggers page: activate or deactivate a trigger (after a confirmation), through the API.
"use strict";
(function () {
  const { postJSON } = window.roost;
  const problem = document.getElementById("trigger-error");

  for (const button of document.querySelectorAll("#triggers .toggle-active")) {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      const { task, trigger } = row.dataset;
      const activate = row.dataset.active !== "true";
      const what = activate ? "Activate" : "Deactivate";
      if (!window.confirm(`${what} trigger ${trigger} of ${task}?`)) return;
      button.disabled = true;
      problem.textContent = "";
      try {
        await postJSON(`/api/v1/triggers/${encodeURIComponent(task)}/${encodeURIComponent(trigger)}/active`, { active: activate });
        window.location.reload();
      } catch (e) {
        button.disabled = false;
        problem.textContent = `${what} ${trigger} failed: ${e.message}`;
      }
    });
  }
})();
