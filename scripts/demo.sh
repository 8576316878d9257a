#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs txc natively —
# nats-server, the coordinator, inventory-service and order-service on free local ports — then
# places one order that commits and one that is refused (out of stock), as 2PC, 3PC and a saga,
# and shows what each service holds afterwards. Everything it starts is stopped on exit or Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
echo "== building"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTXC_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target txc-coordinator inventory-service order-service \
  >/dev/null

work=$(mktemp -d /tmp/txc-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Polls a URL until it answers 200, for at most 15 s.
wait_ready() {
  for _ in $(seq 150); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "demo: $1 did not become ready; logs in $work" >&2
  tail -n 20 "$work"/*.log >&2
  return 1
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

nats_port=$(free_port); api_port=$(free_port); inv_port=$(free_port); ord_port=$(free_port)
nats_url="nats://127.0.0.1:$nats_port"
api="http://127.0.0.1:$api_port"
bin=build/release

nats-server -a 127.0.0.1 -p "$nats_port" >"$work/nats.log" 2>&1 & pids+=($!)
"$bin/coordinator/txc-coordinator" --nats-url "$nats_url" --http-addr "127.0.0.1:$api_port" \
  --db-path "$work/txc.db" >"$work/coordinator.log" 2>&1 & pids+=($!)
"$bin/examples/inventory-service" --nats-url "$nats_url" --db "$work/inventory.db" \
  --http-addr "127.0.0.1:$inv_port" --stock "widget=5" >"$work/inventory.log" 2>&1 & pids+=($!)
"$bin/examples/order-service" --nats-url "$nats_url" --db "$work/order.db" \
  --http-addr "127.0.0.1:$ord_port" >"$work/order.log" 2>&1 & pids+=($!)
wait_ready "$api/readyz"
wait_ready "http://127.0.0.1:$inv_port/healthz"
wait_ready "http://127.0.0.1:$ord_port/healthz"
echo "== running: coordinator $api, nats $nats_url (logs in $work)"

failures=0
# place PROTOCOL ORDER_ID QTY EXPECTED_STATE
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
  if [[ "$state" != "$4" ]]; then echo "   expected $4"; failures=$((failures + 1)); fi
}

echo "== placing orders (5 widgets in stock)"
place 2pc o-1 2 committed
place 2pc o-2 10 aborted
place 3pc o-3 1 committed
place 3pc o-4 9 aborted
place saga o-5 1 completed
place saga o-6 9 compensated

echo "== what the services hold now"
stock=$(curl -fsS "http://127.0.0.1:$inv_port/stock")
orders=$(curl -fsS "http://127.0.0.1:$ord_port/orders")
json '"\n".join("  stock  %s: %d available, %d reserved" % (r["sku"], r["available"], r["reserved"]) for r in d)' <<<"$stock"
json '"\n".join("  order  %s: %s" % (r["order_id"], r["status"]) for r in d)' <<<"$orders"

expect_stock='[{"available": 1, "reserved": 0, "sku": "widget"}]'
[[ $(json 'json.dumps(d, sort_keys=True)' <<<"$stock") == "$expect_stock" ]] || {
  echo "unexpected stock: $stock"; failures=$((failures + 1)); }
expect_orders='o-1:confirmed o-2:cancelled o-3:confirmed o-4:cancelled o-5:confirmed o-6:cancelled'
[[ $(json '" ".join(r["order_id"] + ":" + r["status"] for r in d)' <<<"$orders") == "$expect_orders" ]] || {
  echo "unexpected orders: $orders"; failures=$((failures + 1)); }

if ((failures)); then echo "== demo FAILED ($failures unexpected outcomes)"; exit 1; fi
echo "== demo OK: committed orders hold their stock, refused ones left nothing behind"
