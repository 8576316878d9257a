# The order flow both demos run (scripts/demo.sh natively, scripts/compose-demo.sh in
# containers): sourced, not run. Needs $api (the coordinator's base URL); counts every
# unexpected outcome in $failures.

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# place PROTOCOL ORDER_ID QTY EXPECTED_STATE: one order (an order branch and an inventory
# branch) through the coordinator, answered once it is terminal; prints one line.
place() {
  local body answer state
  body=$(printf '{"protocol":"%s","timeout_ms":5000,"branches":[
    {"participant":"order","payload":{"order_id":"%s","sku":"widget","qty":%d}},
    {"participant":"inventory","payload":{"sku":"widget","qty":%d}}]}' "$1" "$2" "$3" "$3")
  answer=$(curl -fsS -XPOST "$api/v1/transactions?wait=true" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: demo-$2" -d "$body")
  state=$(json 'd["state"]' <<<"$answer")
  printf '%-4s order %-4s %2d widgets -> %-9s %s\n' "$1" "$2" "$3" "$state" \
    "$(json '("(" + d["reason"] + ")") if d["reason"] else ""' <<<"$answer")"
  if [[ $state != "$4" ]]; then echo "   expected $4: $answer"; failures=$((failures + 1)); fi
}

# With 5 widgets in stock: each protocol places one order that goes through and one that is
# refused for lack of stock.
place_demo_orders() {
  place 2pc o-1 2 committed
  place 2pc o-2 10 aborted
  place 3pc o-3 1 committed
  place 3pc o-4 9 aborted
  place saga o-5 1 completed
  place saga o-6 9 compensated
}

# check_demo_state STOCK_JSON ORDERS_JSON: what the services hold after place_demo_orders.
# 4 widgets are taken by the three orders that went through; the refused ones left nothing held.
check_demo_state() {
  json '"\n".join("  stock  %s: %d available, %d reserved" % (r["sku"], r["available"], r["reserved"]) for r in d)' <<<"$1"
  json '"\n".join("  order  %s: %s" % (r["order_id"], r["status"]) for r in d)' <<<"$2"
  local expect_stock='[{"available": 1, "reserved": 0, "sku": "widget"}]'
  [[ $(json 'json.dumps(d, sort_keys=True)' <<<"$1") == "$expect_stock" ]] ||
    { echo "unexpected stock: $1"; failures=$((failures + 1)); }
  local expect_orders='o-1:confirmed o-2:cancelled o-3:confirmed o-4:cancelled o-5:confirmed o-6:cancelled'
  [[ $(json '" ".join(r["order_id"] + ":" + r["status"] for r in d)' <<<"$2") == \
    "$expect_orders" ]] || { echo "unexpected orders: $2"; failures=$((failures + 1)); }
}
