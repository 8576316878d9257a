#!/usr/bin/env bash
# Runs the compose demo for real with podman (no Docker engine here): builds the debian:bookworm
# base image locally with debootstrap (no registry is reachable), brings compose.yaml up with
# podman-compose, places orders through the coordinator's published port (2PC, 3PC and a saga;
# each one that commits and one that is refused for lack of stock), checks the outcomes and what
# the services hold, and brings everything down, removing what it created. Called by .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
need=()
for p in podman podman-compose runc debootstrap curl python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  $sudo apt-get update -q && $sudo apt-get install -y -q "${need[@]}"
fi

work=$(mktemp -d /tmp/txc-compose.XXXXXX)
project=txcdemo$$
base=docker.io/library/debian:bookworm
imported=0
# This machine's podman needs lower ulimits and cgroupfs (../shared/env.md); nothing in /etc.
# runc, not Debian's default crun: crun refuses to start any container (image builds included)
# on a host whose cgroups are hybrid, v1 controllers with one left on v2, as some CI hosts are.
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$work/containers.conf

compose() { podman-compose -p "$project" -f compose.yaml "$@"; }
cleanup() {
  set +e
  echo "== bringing the demo down"
  compose down -v >/dev/null 2>&1
  podman network rm -f "${project}_default" >/dev/null 2>&1
  podman volume ls -q | grep "^${project}_" | xargs -r podman volume rm -f >/dev/null 2>&1
  podman images --format '{{.Repository}}:{{.Tag}}' | grep "${project}" |
    xargs -r podman rmi -f >/dev/null 2>&1
  podman image prune -f >/dev/null 2>&1  # the build stages
  ((imported)) && podman rmi -f "$base" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
if ! podman image exists "$base"; then
  mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
    head -n 1)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "== building $base with debootstrap from $mirror"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; exit 1; }
  tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
  imported=1
  rm -rf "$work/rootfs"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TXC_DEMO_PORT=$port
echo "== building and starting the compose demo (coordinator on port $port)"
# podman-compose 1.0.3 exits 0 whatever its podman commands return (a failed image build
# included), so what it printed is checked: each command's "exit code: N" (negative when a
# signal killed it) and each container. Unbuffered, so its lines and podman's stay in order.
failed_line='^exit code: (-|[1-9])'
up_failed() {
  echo "compose-demo: $1; podman-compose up printed (to its first failure, if any):" >&2
  sed -E -n "1,/$failed_line/p" "$work/up.log" | tail -n 60 >&2
  exit 1
}
PYTHONUNBUFFERED=1 compose up -d --build >"$work/up.log" 2>&1 ||
  up_failed "podman-compose up failed"
grep -Eq "$failed_line" "$work/up.log" && up_failed "a podman command failed"
for service in nats coordinator order inventory; do
  podman container exists "${project}_${service}_1" || up_failed "no container for $service"
done
api=http://127.0.0.1:$port

# Waits until `podman exec CONTAINER curl URL` answers, for at most 60 s.
wait_inside() {
  for _ in $(seq 300); do
    podman exec "$1" curl -fs "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "compose-demo: $1 did not become ready" >&2
  podman logs "$1" 2>&1 | tail -n 20 >&2
  return 1
}
for _ in $(seq 300); do curl -fs "$api/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "$api/readyz" >/dev/null || { compose logs 2>&1 | tail -n 40; up_failed "no /readyz on $api"; }
wait_inside "${project}_order_1" http://127.0.0.1:8081/readyz
wait_inside "${project}_inventory_1" http://127.0.0.1:8082/readyz
echo "== ready in $(($(date +%s) - start)) s"

# shellcheck source=lib/demo_orders.sh
source "$root/scripts/lib/demo_orders.sh"
failures=0
echo "== placing orders through the published port (5 widgets in stock)"
place_demo_orders
echo "== what the services hold now"
check_demo_state "$(podman exec "${project}_inventory_1" curl -fsS http://127.0.0.1:8082/stock)" \
  "$(podman exec "${project}_order_1" curl -fsS http://127.0.0.1:8081/orders)"

# The coordinator image carries txcctl: the two committed orders, seen from inside.
committed=$(podman exec "${project}_coordinator_1" txcctl list --state committed | tail -n +2 | wc -l)
echo "   txcctl list --state committed (inside the coordinator container): $committed"
[[ $committed == 2 ]] || { echo "   expected 2"; failures=$((failures + 1)); }

if ((failures)); then
  echo "compose demo: $failures unexpected outcome(s)"
  compose logs 2>&1 | tail -n 60
  exit 1
fi
echo "== compose demo passed in $(($(date +%s) - start)) s"
