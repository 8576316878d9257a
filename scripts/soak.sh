#!/usr/bin/env bash
# The soak run of the fault suite: 300 s of the bank-transfer workload at >= 1,000 tx/s (mixed
# 2PC, 3PC and sagas) with a fault every 5-10 s (kill -9 of the coordinator or a participant,
# nats-server restarts, a participant that drops, duplicates and delays replies), then the
# invariants. Its figures go to docs/reliability.md. Usage: scripts/soak.sh [seconds] [rate]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
rate=${2:-1050}
scripts/install-deps.sh --test
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTXC_BUILD_TESTS=ON >/dev/null
cmake --build build/release -j "$(nproc)" --target txc-fault-suite
build/release/tests/fault/txc-fault-suite --transactions 1000000000 --duration-s "$seconds" --rate "$rate" --clients 64 \
  --fault-every-ms 5000:10000 --min-transactions $((seconds * 1000)) \
  --min-faults $((seconds / 10))
