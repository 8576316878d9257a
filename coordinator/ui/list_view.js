// #/?state=&protocol=&attention=1&limit= : the transactions, newest first, filtered by the list
// query the API serves (GET /v1/transactions). Filters live in the URL so a view can be shared;
// paging follows next_cursor, and "Newer" walks back the cursors seen so far.

import { listTransactions } from "./api.js";
import { attentionBadge, h, pill, replace, stateClass, time } from "./dom.js";

const STATES = ["preparing", "precommitting", "committing", "aborting", "committed", "aborted",
                "running", "compensating", "completed", "compensated"];
const PROTOCOLS = ["2pc", "3pc", "saga"];
const LIMITS = ["25", "50", "100", "250"];
const MAX_LIMIT = 1000;  // GET /v1/transactions refuses a limit outside 1..1000

// The page size from the URL (#/?limit=N): an integer, clamped to what the API accepts; 50 when
// it is not a positive integer.
function pageSize(text) {
  if (!/^[0-9]+$/.test(text || "")) return "50";
  const n = Number(text);
  return n < 1 ? "50" : String(Math.min(n, MAX_LIMIT));
}

function select(id, label, options, value, onchange) {
  return h("label", { class: "field" }, label,
    h("select", { id, onchange },
      h("option", { value: "" }, "any"),
      options.map((o) => h("option", { value: o, selected: o === value }, o))));
}

export function create(query, ctx) {
  const filters = {
    state: query.get("state") || "",
    protocol: query.get("protocol") || "",
    attention: query.get("attention") === "1",
    limit: pageSize(query.get("limit")),
  };
  const limits = LIMITS.includes(filters.limit) ? LIMITS : [filters.limit, ...LIMITS];
  const cursors = [];  // the cursor of each page before this one
  let cursor = "";
  let nextCursor = null;

  const apply = () => {
    const q = new URLSearchParams();
    const state = root.querySelector("#filter-state").value;
    const protocol = root.querySelector("#filter-protocol").value;
    if (state) q.set("state", state);
    if (protocol) q.set("protocol", protocol);
    if (root.querySelector("#filter-attention").checked) q.set("attention", "1");
    const limit = root.querySelector("#filter-limit").value;
    if (limit !== "50") q.set("limit", limit);
    const qs = q.toString();
    location.hash = "#/" + (qs ? "?" + qs : "");
  };

  const goto = h("form", { class: "goto", onsubmit: (e) => {
      e.preventDefault();
      const id = e.target.elements.id.value.trim();
      if (id) location.hash = "#/tx/" + encodeURIComponent(id);
    } },
    h("input", { name: "id", id: "goto-id", placeholder: "Transaction id", "aria-label": "Transaction id",
                 spellcheck: "false", autocomplete: "off" }),
    h("button", { type: "submit", class: "ghost" }, "Open"));

  const toolbar = h("div", { class: "toolbar" },
    select("filter-state", "State", STATES, filters.state, apply),
    select("filter-protocol", "Protocol", PROTOCOLS, filters.protocol, apply),
    h("label", { class: "field checkbox" },
      h("input", { type: "checkbox", id: "filter-attention", checked: filters.attention, onchange: apply }),
      "Needs attention only"),
    h("label", { class: "field" }, "Per page",
      h("select", { id: "filter-limit", onchange: apply },
        limits.map((l) => h("option", { value: l, selected: l === filters.limit }, l)))),
    h("div", { class: "spacer" }),
    goto);

  const body = h("tbody", { id: "tx-rows" });
  const table = h("table", { class: "data", id: "tx-table" },
    h("thead", {}, h("tr", {},
      ["Id", "Protocol", "State", "Created", "Updated", "Branches", ""].map((c) => h("th", {}, c)))),
    body);
  const newer = h("button", { id: "page-newer", type: "button", class: "ghost", disabled: true,
                              onclick: () => { cursor = cursors.pop() || ""; ctx.refresh(); } },
                  "\u2190 Newer");
  const older = h("button", { id: "page-older", type: "button", class: "ghost", disabled: true,
                              onclick: () => { cursors.push(cursor); cursor = nextCursor; ctx.refresh(); } },
                  "Older \u2192");
  const pageLabel = h("span", { class: "muted", id: "page-label" });
  const root = h("section", { id: "tx-list" },
    h("div", { class: "title-row" }, h("h1", {}, "Transactions")),
    toolbar,
    h("div", { class: "card flush" }, table),
    h("div", { class: "pager" }, newer, pageLabel, older));

  function row(tx) {
    const link = "#/tx/" + encodeURIComponent(tx.id);
    const branches = tx.branches || [];
    const attention = tx.needs_attention === true;
    return h("tr", { dataset: { txId: tx.id, state: tx.state, protocol: tx.protocol,
                                needsAttention: attention ? "true" : "false" },
                     class: attention ? "attention" : "" },
      h("td", { class: "mono" }, h("a", { href: link, class: "tx-link" }, tx.id)),
      h("td", {}, h("span", { class: "proto" }, tx.protocol)),
      h("td", {}, pill(tx.state)),
      h("td", { class: "nowrap" }, time(tx.created_at)),
      h("td", { class: "nowrap" }, time(tx.updated_at)),
      h("td", { class: "branches" },
        h("span", { class: "count" }, String(branches.length)),
        branches.map((b) => h("span", { class: "dot " + stateClass(b.state),
                                        title: b.participant + ": " + b.state }))),
      h("td", {}, attention ? attentionBadge() : null));
  }

  async function refresh() {
    const page = await listTransactions({ ...filters, cursor, limit: filters.limit });
    const items = page.items || [];
    nextCursor = page.next_cursor || null;
    if (items.length === 0) {
      replace(body, h("tr", { class: "empty" },
        h("td", { colspan: "7" }, cursor ? "No more transactions." : "No transactions match these filters.")));
    } else {
      replace(body, items.map(row));
    }
    newer.disabled = cursors.length === 0;
    older.disabled = !nextCursor;
    pageLabel.textContent = "Page " + (cursors.length + 1) + " \u00b7 " + items.length + " shown";
  }

  return { root, refresh };
}
