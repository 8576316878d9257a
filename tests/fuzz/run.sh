#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang and runs each one for a bounded
# time, starting from its seed corpus. Exits non-zero if any target crashes, leaks, trips a
# sanitizer or breaks a checked property, printing the crashing input's path and the report.
# Usage: tests/fuzz/run.sh [seconds-per-target (default 20)] [build dir (default: a temp dir)]
# Independent of any CMake build type; writes only to mktemp directories (and the build dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-20}
start=$(date +%s)

cxx=""
for c in clang++-14 clang++; do
  if command -v "$c" >/dev/null; then cxx=$c && break; fi
done
if [[ -z $cxx ]]; then
  echo "fuzz: clang++ not found (scripts/install-deps.sh --test installs it)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/txc-fuzz.XXXXXX")
keep=0
trap '((keep)) || rm -rf "$work"' EXIT
build=${2:-$work/build}
mkdir -p "$build"

targets=()
for src in "$here"/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done

echo "fuzz: building ${targets[*]} with $cxx in $build"
if ! nice -n 10 make -s -f "$here/fuzz.mk" -C "$build" ROOT="$root" FUZZ_CXX="$cxx" \
  -j "$(nproc)" "${targets[@]}"; then
  echo "fuzz: build failed" >&2
  exit 1
fi
echo "fuzz: built in $(($(date +%s) - start)) s"

# Our own settings, whatever the caller's sanitizer environment (ctest in the ASan tree sets some).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=()
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  mkdir -p "$corpus" "$work/artifacts"
  # A working copy: new inputs libFuzzer finds must not land in the source tree.
  if [[ -d $here/corpus/$t ]]; then cp "$here/corpus/$t"/. "$corpus"/ -R; fi
  log=$work/$t.log
  status=0
  nice -n 10 "$build/$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -dict="$here/json.dict" -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
    "$corpus" >"$log" 2>&1 || status=$?
  # The last progress line ("#N DONE cov: ... ft: ... corp: ... exec/s: ...") and the totals.
  summary=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  echo "fuzz: $t: ${runs:-?} runs, ${speed:-?} exec/s; ${summary:-no progress line}"
  if ((status != 0)); then
    failed+=("$t")
    keep=1
    echo "fuzz: $t FAILED (exit $status); log: $log"
    for a in "$work/artifacts/$t-"*; do
      [[ -e $a ]] && echo "fuzz: crashing input: $a (reproduce: $build/$t $a)"
    done
    # The report: from the sanitizer's or the property check's first line to libFuzzer's summary.
    grep -n -m1 -E '==[0-9]+==ERROR|runtime error|fuzz property broken|deadly signal|ERROR: libFuzzer' \
      "$log" | cut -d: -f1 | { read -r line && tail -n +"$line" "$log" | head -n 80; } ||
      tail -n 60 "$log"
  fi
done

echo "fuzz: done in $(($(date +%s) - start)) s"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs and logs kept in $work)" >&2
  exit 1
fi
