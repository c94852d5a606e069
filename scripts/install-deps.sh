#!/usr/bin/env bash
# Installs the system packages mvrc's tests, examples and benchmarks need, and only those that
# are missing (Debian/Ubuntu, apt-get). Safe to run any number of times: when everything is
# present it changes nothing and needs no root. It never starts services (redis-server is only
# ever started by the tests and benchmarks themselves, on a port they choose; nginx is only run
# as `nginx -t`, which checks its configuration, by the test of real programs' traces).
set -euo pipefail

log() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 2; }

# Each entry: "<debian package> <what proves it is present>". The probe is a command on PATH or,
# for libc6-dev, a header file, so that tools installed another way (e.g. a redis built from
# source) are not installed a second time.
REQUIRED=(
  "gcc cmd:gcc"
  "make cmd:make"
  "libc6-dev file:/usr/include/stdio.h"
  "redis-server cmd:redis-server"
  "redis-tools cmd:redis-benchmark"
  "strace cmd:strace"
  "graphviz cmd:dot"
  "nginx file:/usr/sbin/nginx"
  "memcached file:/usr/bin/memcached"
  "lighttpd file:/usr/sbin/lighttpd"
  "vsftpd file:/usr/sbin/vsftpd"
  "clang-format cmd:clang-format"
  "valgrind cmd:valgrind"
)

present() {
  local probe=$1
  case $probe in
    cmd:*) command -v "${probe#cmd:}" >/dev/null 2>&1 ;;
    file:*) [[ -e ${probe#file:} ]] ;;
    *) die "internal: bad probe '$probe'" ;;
  esac
}

missing=()
for entry in "${REQUIRED[@]}"; do
  read -r pkg probe <<<"$entry"
  if present "$probe"; then
    log "present: $pkg (${probe#*:})"
  else
    log "missing: $pkg (${probe#*:} not found)"
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  log "nothing to install"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
  die "apt-get not found; install these packages by hand: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  die "must run as root to install: ${missing[*]} (try: sudo bash $0)"
fi

export DEBIAN_FRONTEND=noninteractive
# Debian's redis-server package starts its system service on install. We want no service
# running (tests pick their own ports), so while installing, a policy-rc.d that denies every
# start is put in place unless the machine already has one (containers usually do).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  log "temporarily denying service starts via $policy"
  printf '#!/bin/sh\n# written by mvrc scripts/install-deps.sh while installing; removed after\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
log "running: apt-get update"
apt-get update -q
log "running: apt-get install -y --no-install-recommends ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}"

# Verify: a package that installed but did not provide its probe is a real problem to report.
for entry in "${REQUIRED[@]}"; do
  read -r pkg probe <<<"$entry"
  present "$probe" || die "$pkg was installed but ${probe#*:} is still missing"
done
log "done: installed ${missing[*]}"
