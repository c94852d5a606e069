#!/usr/bin/env bash
# Fetches Debian's own build of a package at an exact version and unpacks it into a folder, beside
# whatever version the system has installed: `apt-get download PKG=VERSION` (from the suites the
# machine's apt sources list, e.g. bookworm and bookworm-security) and `dpkg -x`. Nothing is
# installed; root is not needed for the unpacking.
#
#   scripts/fetch-debian-build.sh DEST PKG=VERSION [PKG=VERSION...]
#
# Every package is unpacked into DEST (e.g. redis-tools and redis-server of one release, so that
# DEST/usr/bin/redis-server is there). A DEST that already holds these exact packages is kept as
# it is (DEST/.fetched lists them), so running it again costs nothing.
set -euo pipefail

die() { printf 'fetch-debian-build: error: %s\n' "$*" >&2; exit 2; }

[[ $# -ge 2 ]] || die "usage: scripts/fetch-debian-build.sh DEST PKG=VERSION [PKG=VERSION...]"
dest=$1
shift
for spec in "$@"; do
  [[ $spec == *=* ]] || die "'$spec' is not PKG=VERSION (apt-cache policy PKG lists the versions)"
done
command -v apt-get >/dev/null 2>&1 || die "apt-get is missing: Debian's builds are fetched with apt"
command -v dpkg >/dev/null 2>&1 || die "dpkg is missing"

want=$(printf '%s\n' "$@")
if [[ -f $dest/.fetched && $(cat "$dest/.fetched") == "$want" ]]; then
  printf 'fetch-debian-build: %s already holds %s\n' "$dest" "$*"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current folder; as root, apt warns that its sandbox user cannot
# write there, which changes nothing: let it read and write the temporary folder.
chmod 0777 "$work"
for spec in "$@"; do
  if ! (cd "$work" && apt-get download -q "$spec" >"$work/apt.log" 2>&1); then
    cat "$work/apt.log" >&2
    die "cannot download $spec (is the version still in the archive? apt-cache policy ${spec%%=*})"
  fi
done
rm -rf "$dest"
mkdir -p "$dest"
for deb in "$work"/*.deb; do
  dpkg -x "$deb" "$dest"
done
printf '%s\n' "$want" >"$dest/.fetched"
printf 'fetch-debian-build: unpacked %s into %s\n' "$*" "$dest"
