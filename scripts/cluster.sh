#!/usr/bin/env bash
# A local cluster for trying Logyard out: one etcd and N nodes (cores) on this machine, each with
# its own node_id, run_dir and state_dir, all sharing the etcd store.
#
#   scripts/cluster.sh start [N]   start etcd and N nodes (default 3): node-1 ... node-N
#   scripts/cluster.sh status      what runs, and the commands to use it
#   scripts/cluster.sh stop        stop the nodes and etcd, and remove the cluster's directory
#
# Environment: LOGYARD_CLUSTER_DIR (default /tmp/logyard-cluster-<uid>), ETCD_PORT (default 23790;
# the peer port is ETCD_PORT+10). Needs etcd (scripts/setup.sh installs Debian's etcd-server).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${LOGYARD_CLUSTER_DIR:-/tmp/logyard-cluster-$(id -u)}
etcd_port=${ETCD_PORT:-23790}
peer_port=$((etcd_port + 10))
store="etcd://127.0.0.1:$etcd_port"
logyard=(node "$root/packages/cli/bin/logyard.js")

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_flags() {
  local i=$1
  echo "--store $store --node-id node-$i --run-dir $dir/node-$i/run --state-dir $dir/node-$i/state --status off"
}

usage() {
  echo "usage: scripts/cluster.sh start [N] | status | stop" >&2
  exit 2
}

show() {
  echo "cluster in $dir, store $store"
  running "$dir/etcd.pid" && echo "  etcd      pid $(cat "$dir/etcd.pid")" || echo "  etcd      not running"
  for pidfile in "$dir"/node-*/core.pid; do
    [ -e "$pidfile" ] || continue
    local name
    name=$(basename "$(dirname "$pidfile")")
    running "$pidfile" && echo "  $name    pid $(cat "$pidfile"), log $dir/$name/core.log" || echo "  $name    not running (log $dir/$name/core.log)"
  done
  cat <<USAGE

Try it (any node's flags reach the same store):
  nc -lk 127.0.0.1 9000 &
  node packages/cli/bin/logyard.js $(node_flags 1) drain add demo tcp://127.0.0.1:9000 -f demo
  node packages/cli/bin/logyard.js $(node_flags 2) publish demo.web "hello from node-2"
  node packages/cli/bin/logyard.js $(node_flags 1) drain status
USAGE
}

start() {
  local n=${1:-3}
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage
  command -v etcd >/dev/null || { echo "cluster: etcd is not installed; run scripts/setup.sh" >&2; exit 1; }
  [ -f packages/cli/dist/index.js ] || npm run --silent build
  mkdir -p "$dir"
  if running "$dir/etcd.pid"; then
    echo "cluster: etcd already runs (pid $(cat "$dir/etcd.pid"))" >&2
  else
    etcd --name cluster --data-dir "$dir/etcd" \
      --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
      --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
      --initial-cluster "cluster=http://127.0.0.1:$peer_port" --logger zap --log-level warn \
      >"$dir/etcd.log" 2>&1 &
    echo $! >"$dir/etcd.pid"
    for _ in $(seq 100); do
      curl -fsS "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"' && break
      running "$dir/etcd.pid" || { echo "cluster: etcd did not start; see $dir/etcd.log" >&2; exit 1; }
      sleep 0.1
    done
  fi
  for i in $(seq "$n"); do
    mkdir -p "$dir/node-$i"
    if running "$dir/node-$i/core.pid"; then continue; fi
    # shellcheck disable=SC2046
    LOGYARD_CONFIG= nohup "${logyard[@]}" $(node_flags "$i") core >"$dir/node-$i/core.log" 2>&1 &
    echo $! >"$dir/node-$i/core.pid"
  done
  for i in $(seq "$n"); do
    for _ in $(seq 100); do
      [ -S "$dir/node-$i/run/status.sock" ] && break
      running "$dir/node-$i/core.pid" || { echo "cluster: node-$i did not start; see $dir/node-$i/core.log" >&2; exit 1; }
      sleep 0.1
    done
  done
  show
}

stop() {
  for pidfile in "$dir"/node-*/core.pid; do
    [ -e "$pidfile" ] || continue
    running "$pidfile" && kill "$(cat "$pidfile")"
  done
  for pidfile in "$dir"/node-*/core.pid; do
    [ -e "$pidfile" ] || continue
    for _ in $(seq 50); do running "$pidfile" || break; sleep 0.1; done
  done
  if running "$dir/etcd.pid"; then
    kill "$(cat "$dir/etcd.pid")"
    for _ in $(seq 50); do running "$dir/etcd.pid" || break; sleep 0.1; done
  fi
  rm -rf "$dir"
  echo "cluster: stopped"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  status) show ;;
  stop) stop ;;
  *) usage ;;
esac
