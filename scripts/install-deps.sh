#!/usr/bin/env bash
# Installs, from Debian's archive, whatever txc needs that this machine lacks. Idempotent.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

packages=(g++ cmake make pkg-config nats-server libnats-dev libcpp-httplib-dev nlohmann-json3-dev
          libsqlite3-dev sqlite3 curl libjemalloc-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev clang-format python3)  # python3: tests/e2e/python_participant_test.py
  packages+=(clang-14 libclang-rt-14-dev)  # libFuzzer + sanitizers for tests/fuzz/run.sh
  packages+=(spin docker-compose)  # model/check.sh; compose_config
  packages+=(chromium chromium-driver)  # tests/e2e/ui_e2e_test.py (the admin UI, headless)
  packages+=(openssl)  # tests/e2e/nats_security_e2e_test.cpp makes its TLS certificates
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: everything needed is installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
