// roost console: helpers shared by the pages (plain JavaScript, no build step).
"use strict";
(function () {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "style") Object.assign(node.style, value);  // CSSOM: allowed by the page's CSP
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function fmtTime(ts) {
    if (ts === null || ts === undefined) return "-";
    const d = new Date(ts * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtDuration(start, end) {
    if (start === null || start === undefined) return "-";
    const stop = end === null || end === undefined ? Date.now() / 1000 : end;
    const s = Math.max(stop - start, 0);
    let text;
    if (s < 1) text = `${Math.round(s * 1000)} ms`;
    else if (s < 60) text = `${s.toFixed(1)} s`;
    else {
      const m = Math.floor(s / 60), h = Math.floor(m / 60);
      text = h ? `${h}h ${pad(m % 60)}m ${pad(Math.floor(s % 60))}s` : `${m}m ${pad(Math.floor(s % 60))}s`;
    }
    return end === null || end === undefined ? text + " ..." : text;
  }

  function phaseBadge(phase, gone) {
    if (gone) return el("span", { class: "phase phase-failed", title: "its process died", text: "controller gone" });
    return el("span", { class: `phase phase-${phase}`, text: phase.replace(/_/g, " ") });
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 401) { window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
    if (!response.ok) {
      let why = response.statusText;
      try { why = (await response.json()).error || why; } catch (e) { /* not JSON */ }
      throw new Error(why);
    }
    return response.json();
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }

  function island(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  window.roost = { el, fmtTime, fmtDuration, phaseBadge, getJSON, postJSON, island };
})();
