#!/usr/bin/env bash
# Installs what is missing, builds txc twice (plain, and with ASan+UBSan) and runs every test in
# both builds. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)

scripts/install-deps.sh --test

echo "== format check"
scripts/format.sh --check

for variant in release asan; do
  dir=build/$variant
  # Explicitly ON: the demo configures build/release without tests.
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTXC_BUILD_TESTS=ON)
  [[ $variant == asan ]] && flags=(-DCMAKE_BUILD_TYPE=Debug -DTXC_SANITIZE=ON -DTXC_BUILD_TESTS=ON)
  echo "== build ($variant)"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test ($variant)"
  # Integration and end-to-end tests start their own nats-server and processes on free ports.
  # The Spin models and the fuzzers build and check themselves, whatever the build: they run once,
  # after the plain build's tests, on their own (they keep both cores busy).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" --timeout 300 \
    -LE '^(model|fuzz|bench)$'
  if [[ $variant == release ]]; then
    echo "== model check, fuzzing, benchmark smoke run"
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" -L '^(model|fuzz|bench)$'
  fi
done
echo "== all tests passed in $(( $(date +%s) - start )) s"
