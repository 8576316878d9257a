#!/usr/bin/env bash
# Installs what is missing, builds txc twice (plain, and with ASan+UBSan) and runs every test in
# both builds. This is the README's test command and what CI runs.
#
# What it prints is short on purpose: each build's progress lines and each passing test's lines
# go only to logs in the build directory (build/<variant>/build.log, ctest.log, ctest-slow.log),
# while every compiler message, every failing test with its whole output, and ctest's summary are
# printed. A failure then stands out in the first screen of a CI log, however little of it is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)

# Progress lines: a build step, or the start or pass of one test.
progress='^\[ *[0-9]+%\] (Building|Linking|Built target|Generating)|^ +Start +[0-9]+: |Test +#[0-9]+: .* +Passed +[0-9.]+ sec$'

since() { echo "+$(($(date +%s) - start)) s"; }

# Runs "$@" with its whole output in log $1, and prints that output without its progress lines.
# Returns the command's status.
quietly() {
  local log=$1 status=0
  shift
  "$@" >"$log" 2>&1 || status=$?
  grep -v -E "$progress" "$log" || true
  return "$status"
}

scripts/install-deps.sh --test

echo "== format check ($(since))"
scripts/format.sh --check

for variant in release asan; do
  dir=build/$variant
  # Explicitly ON: the demo configures build/release without tests.
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTXC_BUILD_TESTS=ON)
  [[ $variant == asan ]] && flags=(-DCMAKE_BUILD_TYPE=Debug -DTXC_SANITIZE=ON -DTXC_BUILD_TESTS=ON)
  echo "== build ($variant, $(since); log: $dir/build.log)"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  quietly "$dir/build.log" cmake --build "$dir" -j "$jobs"
  echo "== test ($variant, $(since); log: $dir/ctest.log)"
  # Integration and end-to-end tests start their own nats-server and processes on free ports.
  # The Spin models and the fuzzers build and check themselves, whatever the build: they run once,
  # after the plain build's tests, on their own (they keep both cores busy).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    quietly "$dir/ctest.log" ctest --test-dir "$dir" --output-on-failure --no-tests=error \
    -j "$jobs" --timeout 300 -LE '^(model|fuzz|bench)$'
  if [[ $variant == release ]]; then
    echo "== model check, fuzzing, benchmark smoke run ($(since); log: $dir/ctest-slow.log)"
    quietly "$dir/ctest-slow.log" ctest --test-dir "$dir" --output-on-failure --no-tests=error \
      -j "$jobs" -L '^(model|fuzz|bench)$'
  fi
done
echo "== all tests passed in $(( $(date +%s) - start )) s"
