// The cache page: forget one cached result (after a confirmation), through the API.
"use strict";
(function () {
  const problem = document.getElementById("cache-error");
  for (const button of document.querySelectorAll("#cache .forget")) {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      const task = row.cells[0].textContent;
      if (!window.confirm(`Forget this cached result of ${task}? Its next call computes it again.`)) return;
      button.disabled = true;
      problem.textContent = "";
      const response = await fetch(`/api/v1/cache/${encodeURIComponent(row.dataset.key)}`, {
        method: "DELETE", credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (response.ok) { row.remove(); return; }
      let why = response.statusText;
      try { why = (await response.json()).error || why; } catch (e) { /* not JSON */ }
      button.disabled = false;
      problem.textContent = `Forgetting it failed: ${why}`;
    });
  }
})();
