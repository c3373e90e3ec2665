// The run page's artifact previews, on demand: a plain image in an <img>; text, CSV
// and JSON read from the start of the file (at most PREVIEW_BYTES) and put in the page
// with textContent only. The server serves only those types inline; HTML, SVG and
// scripts never get a preview button (apps/portal/views/run/artifacts.py).
(function () {
  "use strict";
  const section = document.getElementById("artifacts");
  if (!section) return;

  const PREVIEW_BYTES = 200 * 1024;
  const CSV_ROWS = 200;

  function message(panel, text, className) {
    const p = document.createElement("p");
    p.className = className || "muted";
    p.textContent = text;
    panel.appendChild(p);
  }

  // The first `limit` bytes of the file, without downloading the rest.
  async function readStart(url, limit) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const reader = response.body.getReader();
    const chunks = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
      if (size >= limit) {
        await reader.cancel();
        break;
      }
    }
    const bytes = new Uint8Array(Math.min(size, limit));
    let offset = 0;
    for (const chunk of chunks) {
      const part = chunk.subarray(0, bytes.length - offset);
      bytes.set(part, offset);
      offset += part.length;
      if (offset >= bytes.length) break;
    }
    return new TextDecoder("utf-8").decode(bytes);
  }

  // RFC 4180: quoted fields may hold commas, quotes ("") and line breaks.
  function csvRows(text, maxRows) {
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    for (let i = 0; i < text.length && rows.length < maxRows; i += 1) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else if (c === '"') {
          quoted = false;
        } else {
          field += c;
        }
      } else if (c === '"') {
        quoted = true;
      } else if (c === ",") {
        row.push(field);
        field = "";
      } else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i += 1;
        row.push(field);
        rows.push(row);
        row = [];
        field = "";
      } else {
        field += c;
      }
    }
    if ((field || row.length) && rows.length < maxRows) {
      row.push(field);
      rows.push(row);
    }
    return rows;
  }

  function csvTable(rows, path) {
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    const table = document.createElement("table");
    const caption = document.createElement("caption");
    caption.className = "vh";
    caption.textContent = `The first rows of ${path}`;
    table.appendChild(caption);
    const [head, ...body] = rows;
    const thead = table.createTHead();
    const headRow = thead.insertRow();
    for (const cell of head) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = cell;
      headRow.appendChild(th);
    }
    const tbody = table.createTBody();
    for (const values of body) {
      const tr = tbody.insertRow();
      for (const value of values) tr.insertCell().textContent = value;
    }
    wrap.appendChild(table);
    return wrap;
  }

  function pre(text) {
    const block = document.createElement("pre");
    block.textContent = text;
    return block;
  }

  async function show(item, url, panel) {
    const kind = item.dataset.preview;
    const path = item.dataset.path;
    const size = Number(item.dataset.size);
    if (kind === "image") {
      const img = document.createElement("img");
      img.alt = `Preview of ${path}`;
      img.src = url;
      img.addEventListener("error", () => message(panel, "The image could not be shown.", "error"));
      panel.appendChild(img);
      return;
    }
    const truncated = size > PREVIEW_BYTES;
    const text = await readStart(url, PREVIEW_BYTES);
    const cut = `The first ${Math.round(PREVIEW_BYTES / 1024)} KB of ${size.toLocaleString()} bytes; download the file for the rest.`;
    if (kind === "csv") {
      // A cut file's last line may be partial: leave it out.
      const usable = truncated ? text.slice(0, Math.max(0, text.lastIndexOf("\n"))) : text;
      const rows = csvRows(usable, CSV_ROWS + 1);
      if (!rows.length) {
        message(panel, "This file is empty.");
        return;
      }
      panel.appendChild(csvTable(rows, path));
      if (rows.length > CSV_ROWS || truncated) {
        message(panel, `The first ${rows.length - 1} rows; download the file for the rest.`);
      }
      return;
    }
    if (kind === "json" && !truncated) {
      try {
        panel.appendChild(pre(JSON.stringify(JSON.parse(text), null, 2)));
        return;
      } catch (_) {
        message(panel, "Not valid JSON; shown as text.");
      }
    } else if (kind === "json") {
      message(panel, "Too large to format; shown as text.");
    }
    panel.appendChild(pre(text));
    if (truncated) message(panel, cut);
  }

  section.addEventListener("click", (event) => {
    const button = event.target.closest(".preview-toggle");
    if (!button || !section.contains(button)) return;
    const item = button.closest("li.file");
    const panel = item.querySelector(".preview");
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    panel.hidden = open;
    if (open || panel.dataset.loaded) return;
    panel.dataset.loaded = "true";
    message(panel, "Loading…", "muted loading");
    show(item, button.dataset.url, panel)
      .catch((error) => message(panel, `The preview could not be loaded: ${error.message}.`, "error"))
      .finally(() => {
        const loading = panel.querySelector(".loading");
        if (loading) loading.remove();
      });
  });
})();
