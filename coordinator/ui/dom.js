// Building DOM safely: every piece of data becomes a text node or an attribute value, never
// markup, so nothing a transaction carries (ids, errors, payloads) can inject into the page.

// h("a", {href: "#/", class: "x", dataset: {txId: id}, onclick: fn}, "text", child, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// Replaces everything in `el` with `children`.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const TERMINAL = new Set(["committed", "aborted", "completed", "compensated"]);
const GOOD = new Set(["committed", "completed", "done", "ok", "prepared", "precommitted"]);
const BAD = new Set(["aborted", "refused", "failed", "error", "timeout", "no_responders"]);
const UNDONE = new Set(["compensated", "compensating", "aborting", "skipped"]);

// The colour class of a transaction, branch or attempt state.
export function stateClass(state) {
  if (GOOD.has(state)) return "st-good";
  if (BAD.has(state)) return "st-bad";
  if (UNDONE.has(state)) return "st-undone";
  return "st-busy";
}

export function isTerminal(state) {
  return TERMINAL.has(state);
}

export function pill(state, extraClass) {
  return h("span", { class: "pill " + stateClass(state) + (extraClass ? " " + extraClass : ""),
                     dataset: { state } }, state);
}

export function attentionBadge() {
  return h("span", { class: "badge-attention", title: "A branch ran out of retries" },
           "needs attention");
}

// "2026-11-23 12:00:00.123" in local time, with the ISO original as a tooltip.
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "\u2014");
  const d = new Date(iso);
  if (isNaN(d)) return h("span", {}, iso);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const text = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
               pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." +
               pad(d.getMilliseconds(), 3);
  return h("time", { datetime: iso, title: iso }, text);
}

// 312 -> "312 ms", 4200 -> "4.2 s", 125000 -> "2 min 5 s".
export function duration(ms) {
  if (ms === undefined || ms === null || isNaN(ms)) return "\u2014";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + " s";
  const two = (big, bigUnit, small, smallUnit) => big + " " + bigUnit + (small ? " " + small + " " + smallUnit : "");
  if (ms < 3600000) return two(Math.floor(ms / 60000), "min", Math.floor((ms % 60000) / 1000), "s");
  return two(Math.floor(ms / 3600000), "h", Math.floor((ms % 3600000) / 60000), "min");
}

export function micros(us) {
  if (us === undefined || us === null) return "\u2014";
  return us < 1000 ? us + " \u00b5s" : duration(us / 1000);
}

// A message box: kind is "error", "info" or "ok".
export function notice(kind, ...children) {
  return h("div", { class: "notice notice-" + kind, role: kind === "error" ? "alert" : "status" },
           ...children);
}
