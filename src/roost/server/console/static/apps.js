// The apps page: stop or start an app (after a confirmation), through the API.
"use strict";
(function () {
  const { postJSON } = window.roost;
  const problem = document.getElementById("app-error");
  for (const button of document.querySelectorAll("#apps .toggle-app")) {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      const name = row.dataset.app;
      const start = row.dataset.active !== "true";
      const what = start ? "Start" : "Stop";
      if (!window.confirm(`${what} app ${name}?`)) return;
      button.disabled = true;
      problem.textContent = "";
      try {
        await postJSON(`/api/v1/apps/${encodeURIComponent(name)}/active`, { active: start });
        window.location.reload();
      } catch (e) {
        button.disabled = false;
        problem.textContent = `${what} ${name} failed: ${e.message}`;
      }
    });
  }
})();
