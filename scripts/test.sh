#!/usr/bin/env bash
# Installs what is missing, builds txc twice (plain, and with ASan+UBSan) and runs every test in
# both builds. This is the README's test command and what CI runs.
#
# What it prints is short on purpose, so that a failure stands out in the first screen of a CI log
# however little of it is shown: progress lines (a build step, a test started or passed) go only
# to the logs build/<variant>/build.log and ctest.log (and build/release/ctest-slow.log);
# compiler messages, each failing test with its output, and ctest's summaries are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)

# Progress lines: a build step, or the start or pass of one test.
progress='^\[ *[0-9]+%\] (Building|Linking|Built target|Generating)|^ +Start +[0-9]+: |Test +#[0-9]+: .* +Passed +[0-9.]+ sec$'

since() { echo "+$(($(date +%s) - start)) s"; }

# quietly LOG COMMAND...: COMMAND's output goes whole to LOG and, without progress lines, to stdout.
# Streamed, so that a run killed from outside has printed what it got to. -a: a NUL byte in a test's
# output must not turn the rest into "binary file matches". The status is the command's
# (pipefail; the filter always succeeds).
quietly() {
  local log=$1
  shift
  "$@" 2>&1 | tee "$log" | { grep -a -v --line-buffered -E "$progress" || true; }
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
