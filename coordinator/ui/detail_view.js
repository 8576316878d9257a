// #/tx/<id>: one transaction (GET /v1/transactions/{id}): its header, a timeline merging what
// happened to the transaction as a whole (its `events`: creation, decision, end, attention
// flags, operators' actions) with every attempt of every branch in time order, each branch with
// its own attempts, and the operator actions Abort and Retry (POST .../abort, .../retry), whose
// refusal is shown as the API words it.

import { abortTransaction, getTransaction, retryTransaction } from "./api.js";
import { attentionBadge, duration, h, isTerminal, micros, notice, pill, replace, time } from "./dom.js";

export function create({ id }, ctx) {
  let shown = "";  // the JSON last rendered: an unchanged refresh leaves the DOM alone
  let tx = null;
  const head = h("div", { class: "title-row" });
  const actionResult = h("div", { id: "action-result" });
  const content = h("div", {});
  const root = h("section", { id: "tx-detail", dataset: { txId: id } },
    h("a", { href: "#/", class: "back" }, "\u2190 Transactions"), head, actionResult, content);

  async function act(name, call, button) {
    if (name === "abort" && !window.confirm("Abort transaction " + id + "?")) return;
    for (const b of root.querySelectorAll(".actions button")) b.disabled = true;
    replace(actionResult, notice("info", name === "abort" ? "Aborting\u2026" : "Retrying\u2026"));
    try {
      const updated = await call(id);
      // The action's answer has no events; read the whole transaction again for the timeline.
      const full = await getTransaction(id).catch(() => updated);
      render(full, true);  // forced: the buttons disabled above come back even if nothing changed
      // Only now: whoever reads the result can act again at once (the buttons are back).
      replace(actionResult, notice("ok", (name === "abort" ? "Abort" : "Retry") +
                                         " accepted: the transaction is now " + updated.state + "."));
    } catch (e) {
      replace(actionResult, notice("error", h("strong", {}, name === "abort" ? "Abort" : "Retry",
                                              " refused: "), e.message));
      if (tx) render(tx, true);
    }
    button.blur();
  }

  function render(next, force) {
    const text = JSON.stringify(next);
    if (text === shown && !force) return;
    shown = text;
    tx = next;
    const open = new Set([...root.querySelectorAll("details[open]")].map((d) => d.dataset.key));
    const terminal = tx.terminal === true || isTerminal(tx.state);
    root.dataset.state = tx.state;

    const abortBtn = h("button", { id: "action-abort", type: "button", class: "danger", disabled: terminal,
                                   title: terminal ? "The transaction has ended" : "Abort it (refused once commit is decided)",
                                   onclick: () => act("abort", abortTransaction, abortBtn) }, "Abort");
    const retryBtn = h("button", { id: "action-retry", type: "button", disabled: terminal,
                                   title: terminal ? "The transaction has ended" : "Retry every pending branch now",
                                   onclick: () => act("retry", retryTransaction, retryBtn) }, "Retry");
    replace(head,
      h("h1", {}, "Transaction ", h("span", { class: "mono", id: "tx-id" }, tx.id)),
      pill(tx.state, "big"),
      tx.needs_attention ? attentionBadge() : null,
      h("div", { class: "spacer" }),
      h("div", { class: "actions" }, retryBtn, abortBtn));

    const attention = (tx.branches || []).filter((b) => b.needs_attention);
    replace(content,
      tx.needs_attention
        ? notice("error", h("strong", {}, "Needs attention. "),
                 "A branch ran out of retries for the decided outcome",
                 attention.length ? " (" + attention.map((b) => "#" + b.index + " " + b.participant).join(", ") + ")" : "",
                 ". Fix the participant, then Retry.")
        : null,
      summary(tx),
      h("h2", {}, "Timeline"),
      timeline(tx),
      h("h2", {}, "Branches"),
      h("div", { id: "branches" }, (tx.branches || []).map((b) => branch(tx, b))));
    for (const d of root.querySelectorAll("details")) d.open = open.has(d.dataset.key);
  }

  async function refresh() {
    if (tx && (tx.terminal === true) && shown) return;  // an ended transaction no longer changes
    render(await getTransaction(id));
  }

  return { root, refresh };
}

function summary(tx) {
  const created = Date.parse(tx.created_at), updated = Date.parse(tx.updated_at);
  const rows = [
    ["Protocol", h("span", { class: "proto" }, tx.protocol)],
    ["State", pill(tx.state)],
    ["Reason", tx.reason ? h("span", { id: "tx-reason" }, tx.reason) : h("span", { class: "muted" }, "\u2014")],
    ["Timeout", duration(tx.timeout_ms)],
    ["Created", time(tx.created_at)],
    ["Updated", time(tx.updated_at)],
    [tx.terminal ? "Took" : "Running for", duration(updated - created)],
  ];
  if (tx.traceparent) rows.push(["Traceparent", h("span", { class: "mono" }, tx.traceparent)]);
  return h("dl", { class: "card summary", id: "tx-summary" },
           rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// Every attempt of every branch and, with `withTxEvents`, the transaction's own events, oldest
// first. At the same millisecond the creation comes first and a decision or end after the
// replies that caused it; otherwise ties keep the order given (branch order for attempts).
const RANK = { created: 0, attempt: 1, event: 2 };
function entries(tx, withTxEvents) {
  const all = [];
  if (withTxEvents) {
    (tx.events || []).forEach((e, i) => all.push({ ...e, type: e.kind === "created" ? "created" : "event",
                                                   order: i, t: Date.parse(e.at) }));
  }
  for (const b of tx.branches || []) {
    (b.history || []).forEach((a, i) => all.push({ ...a, type: "attempt", branch: b, order: i, t: Date.parse(a.at) }));
  }
  const index = (x) => (x.type === "attempt" ? x.branch.index : -1);
  return all.sort((x, y) => x.t - y.t || RANK[x.type] - RANK[y.type] || index(x) - index(y) || x.order - y.order);
}

const DECISIONS = new Set(["precommitting", "committing", "aborting", "compensating"]);

function describe(e) {
  switch (e.kind) {
    case "created": return "Created";
    case "state": return [isTerminal(e.state) ? "Ended " : DECISIONS.has(e.state) ? "Decided " : "Now ",
                          pill(e.state), e.reason ? " " + e.reason : ""];
    case "needs_attention": return [attentionBadge(), " the branch ran out of retries for the decided outcome"];
    case "attention_cleared": return "Attention cleared: the branch completed";
    case "operator_abort": return "Operator abort" + (e.reason ? ": " + e.reason : "");
    case "operator_retry": return "Operator retry: whatever waited out a back-off was sent again at once";
    default: return e.kind + (e.reason ? ": " + e.reason : "");
  }
}

function branchCell(b) {
  return h("td", { class: "nowrap" }, h("span", { class: "mono muted" }, "#" + b.index + " "), b.participant);
}

function entryRow(tx, e, withBranch, start) {
  const at = [h("td", { class: "nowrap" }, time(e.at)),
              h("td", { class: "muted nowrap" }, isNaN(start) ? "" : duration(e.t - start))];
  if (e.type !== "attempt") {
    const b = (tx.branches || []).find((x) => x.index === e.branch);
    return h("tr", { class: "tx-event", dataset: { kind: e.kind, state: e.state || "" } }, at,
      withBranch ? (b ? branchCell(b) : h("td", {})) : null,
      h("td", { colspan: 5, class: "event-text" }, describe(e)));
  }
  return h("tr", { class: "timeline-entry", dataset: { op: e.op, branch: e.branch.index, result: e.result } }, at,
    withBranch ? branchCell(e.branch) : null,
    h("td", { class: "mono" }, e.op),
    h("td", { class: "num" }, String(e.attempt)),
    h("td", {}, pill(e.result)),
    h("td", { class: "num nowrap" }, micros(e.latency_us)),
    h("td", { class: "error-text" }, e.error || ""));
}

function entryTable(tx, list, withBranch, id) {
  const cols = ["At", "T+", withBranch ? "Branch" : null, "Op", "Attempt", "Result", "Latency", "Error"]
    .filter((c) => c !== null);
  if (list.length === 0) return h("p", { class: "muted empty-note" }, "No attempts recorded yet.");
  const start = Date.parse(tx.created_at);
  return h("table", { class: "data compact", id },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c)))),
    h("tbody", {}, list.map((e) => entryRow(tx, e, withBranch, start))));
}

function timeline(tx) {
  return h("div", { class: "card flush" }, entryTable(tx, entries(tx, true), true, "timeline"));
}

function branch(tx, b) {
  const own = entries({ ...tx, branches: [b] }, false);
  const facts = [
    ["Attempts", String(b.attempts ?? 0)],
    b.last_error ? ["Last error", h("span", { class: "error-text" }, b.last_error)] : null,
    Array.isArray(b.after) ? ["After", b.after.length ? b.after.map((i) => "#" + i).join(", ") : "(starts at once)"] : null,
  ].filter(Boolean);
  return h("article", { class: "card branch" + (b.needs_attention ? " attention" : ""),
                        dataset: { branchIndex: b.index, state: b.state, participant: b.participant } },
    h("header", {},
      h("span", { class: "mono muted" }, "#" + b.index),
      h("strong", { class: "participant" }, b.participant),
      pill(b.state),
      b.needs_attention ? attentionBadge() : null),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("details", { dataset: { key: "payload-" + b.index } },
      h("summary", {}, "Payload"),
      h("pre", { class: "payload" }, JSON.stringify(b.payload ?? null, null, 2))),
    h("details", { dataset: { key: "history-" + b.index }, class: "branch-history" },
      h("summary", {}, "Attempts (" + own.length + ")"),
      entryTable(tx, own, false)));
}
