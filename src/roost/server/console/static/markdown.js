// A small markdown subset for condition prompts, built as DOM nodes: every piece of the text becomes a
// text node, so a prompt holding HTML shows it as text and nothing in it ever runs or loads.
// Headings (#..######), paragraphs, **bold**, *italics* / _italics_, `code`, fenced code blocks,
// "- " / "* " and "1. " lists, and tables of "| a | b |" rows.
"use strict";
(function () {
  const { el } = window.roost;
  const INLINE = /(`[^`]+`|\*\*[^*]+\*\*|__[^_]+__|\*[^*\s][^*]*\*|_[^_\s][^_]*_)/;

  function inline(text) {
    const out = [];
    for (const part of text.split(INLINE)) {
      if (!part) continue;
      if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) out.push(el("code", { text: part.slice(1, -1) }));
      else if (part.length > 4 && (part.startsWith("**") || part.startsWith("__")) && part.endsWith(part.slice(0, 2))) out.push(el("strong", {}, ...inline(part.slice(2, -2))));
      else if (part.length > 2 && (part[0] === "*" || part[0] === "_") && part.endsWith(part[0])) out.push(el("em", {}, ...inline(part.slice(1, -1))));
      else out.push(document.createTextNode(part));
    }
    return out;
  }

  function cells(line) {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
  }

  function render(source) {
    const box = el("div", { class: "markdown" });
    const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) { i++; continue; }
      if (line.trim().startsWith("```")) {
        const code = [];
        for (i++; i < lines.length && !lines[i].trim().startsWith("```"); i++) code.push(lines[i]);
        i++;
        box.append(el("pre", { text: code.join("\n") }));
        continue;
      }
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) { box.append(el(`h${heading[1].length}`, {}, ...inline(heading[2].replace(/\s+#+\s*$/, "")))); i++; continue; }
      if (/^\s*\|.*\|\s*$/.test(line)) {
        const rows = [];
        for (; i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i]); i++) rows.push(lines[i]);
        const ruled = rows.length > 1 && /^[\s|:-]+$/.test(rows[1]);
        const head = ruled ? [el("thead", {}, el("tr", {}, ...cells(rows[0]).map((c) => el("th", {}, ...inline(c)))))] : [];
        const body = (ruled ? rows.slice(2) : rows).map((r) => el("tr", {}, ...cells(r).map((c) => el("td", {}, ...inline(c)))));
        box.append(el("table", {}, ...head, el("tbody", {}, ...body)));
        continue;
      }
      const bullet = /^\s*([-*+]|\d+[.)])\s+/;
      if (bullet.test(line)) {
        const ordered = /^\s*\d/.test(line);
        const list = el(ordered ? "ol" : "ul");
        for (; i < lines.length && bullet.test(lines[i]); i++) list.append(el("li", {}, ...inline(lines[i].replace(bullet, ""))));
        box.append(list);
        continue;
      }
      const para = [];
      for (; i < lines.length && lines[i].trim() && !/^(#{1,6}\s|```|\s*([-*+]|\d+[.)])\s|\s*\|)/.test(lines[i]); i++) para.push(lines[i].trim());
      if (!para.length) { para.push(line); i++; }  // a line no rule took: kept as text
      box.append(el("p", {}, ...inline(para.join(" "))));
    }
    return box;
  }

  window.roost.markdown = render;
})();
