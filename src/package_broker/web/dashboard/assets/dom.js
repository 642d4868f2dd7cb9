// Building the page from elements, never from HTML strings: every piece of data becomes a text node, so nothing a source, a
// package or a user typed can turn into markup or script (the CSP forbids inline script anyway).

/**
 * h("button", {type: "button", onclick: fn, class: "primary"}, "Save") -> an element.
 * Attributes: `class`, `for`, `data-*`, `aria-*` and other strings are set as attributes; `on*` functions as
 * listeners; booleans (disabled, hidden, required, checked) as properties. Children: strings (as text),
 * nodes, arrays, null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else if (key === "value") el.value = String(value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A Unix time as local date and time; "never" for none. */
export function when(seconds) {
  if (!seconds) return "never";
  const date = new Date(seconds * 1000);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "3 minutes ago" for recent times, the date otherwise. */
export function ago(seconds) {
  if (!seconds) return "never";
  const diff = Math.round(Date.now() / 1000 - seconds);
  if (diff < 0) return when(seconds);
  if (diff < 60) return "just now";
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  return when(seconds);
}

/** A labelled form field. `input` is an element; the label is tied to it by id. */
let fieldCount = 0;
export function field(label, input, hint) {
  const id = input.id || `f${++fieldCount}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { id: hintId, class: "muted" }, hint) : null);
}

/** Text that can be copied with one click (and selected by hand: it is a read-only input). */
export function copyable(text, label = "Copy") {
  const box = h("input", { type: "text", readonly: true, value: text, class: "mono copy-text", "aria-label": label });
  box.addEventListener("focus", () => box.select());
  const button = h("button", { type: "button", class: "small" }, label);
  button.addEventListener("click", async () => {
    box.select();
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      document.execCommand?.("copy");
    }
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = label), 1500);
  });
  return h("div", { class: "copy" }, box, button);
}

/** A block of text (commands, auth.json) with a copy button. */
export function codeBlock(text, label = "Copy") {
  const pre = h("pre", { class: "code", tabindex: "0" }, text);
  const button = h("button", { type: "button", class: "small" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(pre);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => (button.textContent = label), 1500);
  });
  return h("div", { class: "code-wrap" }, pre, button);
}

/** A table, or an empty-state paragraph when there are no rows. */
export function table(columns, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.title)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { "data-label": c.title }, c.cell(row)))))),
    ),
  );
}

/** A status badge: ok, error, syncing, pending, revoked, expired ... */
export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${String(kind).replace(/[^a-z-]/g, "")}` }, text);
}

/** An indeterminate progress bar with a label, for operations that take a while. */
export function busy(label) {
  return h("div", { class: "busy", role: "status" }, h("progress", { "aria-label": label }), h("span", {}, label));
}

/** Read a form's named inputs: strings, checkboxes as booleans, empty strings left out. */
export function formValues(form) {
  const values = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") values[el.name] = el.checked;
    else if (el.value.trim() !== "") values[el.name] = el.value.trim();
  }
  return values;
}
