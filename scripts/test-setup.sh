#!/usr/bin/env bash
# Installs from Debian's packages what the tests drive for real and this machine lacks (a node
# itself needs none of it; scripts/setup.sh sets that up). Safe to run again; it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v redis-server >/dev/null 2>&1 || need_packages+=(redis-server)
# etcd for the cluster store (the tests and deploy/cluster/cluster.sh start their own on free ports).
command -v etcd >/dev/null 2>&1 || need_packages+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_packages+=(etcd-client)
# Real syslog senders for the receive tests: util-linux logger, Python's SysLogHandler, rsyslog.
command -v logger >/dev/null 2>&1 || need_packages+=(bsdutils)
command -v python3 >/dev/null 2>&1 || need_packages+=(python3)
{ [ -x /usr/sbin/rsyslogd ] || command -v rsyslogd >/dev/null 2>&1; } || need_packages+=(rsyslog)
# The journal client reads with journalctl (systemd); its tests write real journal files with
# systemd-journal-remote (Journal Export Format in, a journal file out). systemd-analyze
# verifies deploy/systemd/logyard.service in the tests.
{ command -v journalctl >/dev/null 2>&1 && command -v systemd-analyze >/dev/null 2>&1; } || need_packages+=(systemd)
[ -x /lib/systemd/systemd-journal-remote ] || [ -x /usr/lib/systemd/systemd-journal-remote ] || need_packages+=(systemd-journal-remote)
# zsh runs the zsh completion script in the tests.
command -v zsh >/dev/null 2>&1 || need_packages+=(zsh)
# A real Docker daemon for the Docker tests (its json-file logs, gelf, syslog drivers), and
# busybox-static to make their image without a registry.
command -v dockerd >/dev/null 2>&1 || need_packages+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_packages+=(busybox-static)
# A real ClickHouse for the http drain's query passthrough (?query=INSERT ... FORMAT JSONEachRow).
[ -x /usr/sbin/clickhouse-server ] || need_packages+=(clickhouse-server)
# promtool (in Debian's prometheus package) checks the core's /metrics in the tests.
command -v promtool >/dev/null 2>&1 || need_packages+=(prometheus)
# tmux drives `logyard top` in the tests; Chromium renders the web console (headless, driven by playwright-core).
command -v tmux >/dev/null 2>&1 || need_packages+=(tmux)
command -v chromium >/dev/null 2>&1 || need_packages+=(chromium)

if [ ${#need_packages[@]} -gt 0 ]; then
  echo "setup: installing ${need_packages[*]} from Debian's packages" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
  # The packages start system services (redis on 6379, etcd on 2379, prometheus on 9090, ...); the tests start their own.
  ($sudo systemctl disable --now redis-server >/dev/null 2>&1 || true)
  ($sudo systemctl disable --now etcd >/dev/null 2>&1 || true)
  ($sudo systemctl disable --now systemd-journal-remote.socket >/dev/null 2>&1 || true)
  ($sudo systemctl disable --now clickhouse-server >/dev/null 2>&1 || true)
  # The tests start their own dockerd (no iptables, no bridge, data in a temporary directory).
  ($sudo systemctl disable --now docker.service docker.socket containerd >/dev/null 2>&1 || true)
  ($sudo systemctl disable --now prometheus >/dev/null 2>&1 || true)
fi
