#!/usr/bin/env bash
# A three-node Logyard cluster on one machine, for trying it out: an etcd cluster of three
# members and three nodes (`logyard start`, node-1 ... node-3), each with its own config
# (deploy/cluster/node-N.yaml, copied to <dir>/node-N/), run_dir and state_dir, all sharing the
# etcd store. Each node's systail follows its own <dir>/node-N/demo.log.
#
#   deploy/cluster/cluster.sh start    start the three etcd members and the three nodes
#   deploy/cluster/cluster.sh status   what runs, and the commands to use it
#   deploy/cluster/cluster.sh stop     stop the nodes and etcd, and remove the cluster's directory
#
# Environment: LOGYARD_CLUSTER_DIR (default /tmp/logyard-cluster-<uid>); ETCD_PORT (default
# 23790: the members' client ports are ETCD_PORT..ETCD_PORT+2, their peer ports 10 above);
# LOGYARD (default: this checkout's packages/cli/bin/logyard.js; `LOGYARD=logyard` for an
# installed one). Needs etcd: Debian's etcd-server (scripts/test-setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
dir=${LOGYARD_CLUSTER_DIR:-/tmp/logyard-cluster-$(id -u)}
etcd_port=${ETCD_PORT:-23790}
members=(1 2 3)
client_port() { echo $((etcd_port + $1 - 1)); }
peer_port() { echo $((etcd_port + 9 + $1)); }
store="etcd://127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"
# The executable itself, not `node logyard.js`: its first line sets its node flags.
read -r -a logyard <<<"${LOGYARD:-$root/packages/cli/bin/logyard.js}"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_flags() {
  local i=$1
  echo "-c $dir/node-$i/logyard.yaml --store $store --run-dir $dir/node-$i/run --state-dir $dir/node-$i/state"
}

usage() {
  echo "usage: deploy/cluster/cluster.sh start | status | stop" >&2
  exit 2
}

show() {
  echo "cluster in $dir, store $store"
  for m in "${members[@]}"; do
    running "$dir/etcd-$m.pid" && echo "  etcd-$m    pid $(cat "$dir/etcd-$m.pid"), 127.0.0.1:$(client_port "$m")" || echo "  etcd-$m    not running"
  done
  for i in "${members[@]}"; do
    running "$dir/node-$i/logyard.pid" && echo "  node-$i    pid $(cat "$dir/node-$i/logyard.pid"), log $dir/node-$i/logyard.log" ||
      echo "  node-$i    not running (log $dir/node-$i/logyard.log)"
  done
  cat <<USAGE

Try it (any node's flags reach the same store):
  ${logyard[*]} $(node_flags 1) drain add demo file://$dir/files/demo.out -f systail.demo --format short
  echo "hello from node-2" >> $dir/node-2/demo.log
  ${logyard[*]} $(node_flags 3) publish systail.demo.by-hand "hello from node-3"
  ${logyard[*]} $(node_flags 1) drain status        # one row per node
  cat $dir/files/demo.out                           # every node appends its own events
  ${logyard[*]} $(node_flags 1) tail systail.demo   # live, from every node
USAGE
}

# Compaction keeps 10 to 20 seconds of history and the quota is 8 GiB, as docs/sizing.md
# recommends: the nodes rewrite their status documents all the time, and without compaction etcd
# would keep every version until its quota refused all writes.
start_etcd() {
  command -v etcd >/dev/null || { echo "cluster: etcd is not installed; apt-get install etcd-server (or run scripts/test-setup.sh)" >&2; exit 1; }
  local initial=""
  for m in "${members[@]}"; do initial+="${initial:+,}etcd-$m=http://127.0.0.1:$(peer_port "$m")"; done
  for m in "${members[@]}"; do
    running "$dir/etcd-$m.pid" && continue
    etcd --name "etcd-$m" --data-dir "$dir/etcd-$m" \
      --listen-client-urls "http://127.0.0.1:$(client_port "$m")" --advertise-client-urls "http://127.0.0.1:$(client_port "$m")" \
      --listen-peer-urls "http://127.0.0.1:$(peer_port "$m")" --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$m")" \
      --initial-cluster "$initial" --initial-cluster-state new --logger zap --log-level warn \
      --auto-compaction-mode=periodic --auto-compaction-retention=10s --quota-backend-bytes=8589934592 \
      >"$dir/etcd-$m.log" 2>&1 &
    echo $! >"$dir/etcd-$m.pid"
  done
  for m in "${members[@]}"; do
    for _ in $(seq 200); do
      curl -fsS "http://127.0.0.1:$(client_port "$m")/health" 2>/dev/null | grep -q '"health":"true"' && break
      running "$dir/etcd-$m.pid" || { echo "cluster: etcd-$m did not start; see $dir/etcd-$m.log" >&2; exit 1; }
      sleep 0.1
    done
  done
}

start() {
  [ "${LOGYARD:-}" ] || [ -f "$root/packages/cli/dist/index.js" ] || (cd "$root" && npm run --silent build)
  mkdir -p "$dir"
  start_etcd
  for i in "${members[@]}"; do
    mkdir -p "$dir/node-$i" "$dir/files"
    running "$dir/node-$i/logyard.pid" && continue
    cp "$here/node-$i.yaml" "$dir/node-$i/logyard.yaml"
    touch "$dir/node-$i/demo.log"
    # shellcheck disable=SC2046
    nohup "${logyard[@]}" $(node_flags "$i") start >"$dir/node-$i/logyard.log" 2>&1 &
    echo $! >"$dir/node-$i/logyard.pid"
  done
  for i in "${members[@]}"; do
    for _ in $(seq 200); do
      [ -S "$dir/node-$i/run/status.sock" ] && grep -q 'systail: started' "$dir/node-$i/logyard.log" && break
      running "$dir/node-$i/logyard.pid" || { echo "cluster: node-$i did not start; see $dir/node-$i/logyard.log" >&2; exit 1; }
      sleep 0.1
    done
  done
  show
}

stop() {
  for i in "${members[@]}"; do
    running "$dir/node-$i/logyard.pid" && kill "$(cat "$dir/node-$i/logyard.pid")"
  done
  for i in "${members[@]}"; do
    for _ in $(seq 100); do running "$dir/node-$i/logyard.pid" || break; sleep 0.1; done
  done
  for m in "${members[@]}"; do running "$dir/etcd-$m.pid" && kill "$(cat "$dir/etcd-$m.pid")"; done
  for m in "${members[@]}"; do
    for _ in $(seq 100); do running "$dir/etcd-$m.pid" || break; sleep 0.1; done
  done
  rm -rf "$dir"
  echo "cluster: stopped"
}

case "${1:-}" in
  start) start ;;
  status) show ;;
  stop) stop ;;
  *) usage ;;
esac
