#!/usr/bin/env bash
# Checks the Promela models with Spin (model/README.md says what each run shows). Every run
# either must hold (no error) or must FAIL (a counterexample that the mutation or the weaker
# failure model is known to allow). Prints one line per run; exits non-zero on any surprise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here"/*.pml .
failures=0

# run <model> <expect: hold|fail> <safety|liveness> [spin -D flags...]
run() {
  local model=$1 expect=$2 mode=$3
  shift 3
  local cflags=(-O2 -w) pflags=(-m1000000)
  if [[ $mode == safety ]]; then
    cflags+=(-DSAFETY -DNOCLAIM)
  else
    cflags+=(-DNOREDUCE -DNFAIR=3)
    pflags+=(-a -f)
  fi
  local start=$SECONDS
  spin -a "$@" "$model.pml" >/dev/null
  gcc "${cflags[@]}" -o pan pan.c
  ./pan "${pflags[@]}" >out.txt 2>&1 || true
  local errors
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' out.txt)
  local what="$model $mode ${*:-(defaults)}"
  if grep -q "max search depth too small" out.txt; then
    echo "INCOMPLETE $what: search depth exceeded"
    failures=$((failures + 1))
  elif [[ $expect == hold && $errors == 0 ]]; then
    echo "holds      $what ($(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' out.txt) states, $((SECONDS - start)) s)"
  elif [[ $expect == fail && -n $errors && $errors != 0 ]]; then
    echo "fails (as expected) $what: $(grep -m1 -E 'violated|acceptance cycle' out.txt)"
  else
    echo "UNEXPECTED $what: expected to $expect, pan says:"
    cat out.txt
    failures=$((failures + 1))
  fi
}

# Two-phase commit: crashes, lost, duplicated, reordered messages and arbitrary timeouts.
run two_phase hold liveness  # safety assertions are checked in this run too
run two_phase fail safety -DBUG
# Three-phase commit, under the failure model the docs state (crashes, reliable timeouts).
run three_phase hold safety
run three_phase hold liveness -DCRASHES=1 -DDUPS=0
# ... and what breaks it.
run three_phase fail safety -DCRASHES=1 -DLOSSES=1
run three_phase fail safety -DCRASHES=1 -DPARTITION
run three_phase fail safety -DCRASHES=1 -DNAIVE_TIMEOUT
run three_phase fail safety -DCRASHES=1 -DUNGUARDED_ABORT
run three_phase fail safety -DCRASHES=3 -DNO_RESTART_RULE

if [[ ${1:-} == --deep ]]; then  # longer runs, by hand
  run three_phase hold liveness -DCRASHES=1 -DDUPS=1
  run three_phase hold safety -DCRASHES=3
fi
exit $((failures > 0))
