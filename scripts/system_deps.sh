#!/usr/bin/env bash
# Installs the system programs the test suite drives for real, if missing: Debian's Chromium
# (browser tests of the hub pages). PostgreSQL's initdb/pg_ctl must be on the machine already.
# Needs root and apt-get to install; otherwise it only reports what is missing (the tests that
# need it then fail under CI=true).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system_deps: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
else
  echo "system_deps: missing ${missing[*]} (install with: apt-get install ${missing[*]})" >&2
fi
