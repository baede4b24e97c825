#!/usr/bin/env bash
# Install the two triple stores the backend contract tests run against; idempotent.
#   Oxigraph server: the PyPI package `oxigraph` (same release as pyoxigraph), into the venv.
#   Virtuoso 7:      Debian's `virtuoso-opensource` (virtuoso-t, isql-vt), with apt-get.
# Neither store is started here, nor as a system service: tests/stores.py starts each one
# on 127.0.0.1 in a temporary folder and stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

OXIGRAPH_VERSION=0.5.13
venv=${VENV:-.venv}

if [ "$("$venv/bin/oxigraph" --version 2>/dev/null || true)" != "oxigraph $OXIGRAPH_VERSION" ]; then
  "$venv/bin/python" -m pip install --quiet "oxigraph==$OXIGRAPH_VERSION"
fi

if ! command -v virtuoso-t >/dev/null || ! command -v isql-vt >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  # The package asks for the password of its own (unused) database: answer non-interactively.
  printf '%s\n' \
    "virtuoso-opensource-7 virtuoso-opensource-7/dba-password password dba" \
    "virtuoso-opensource-7 virtuoso-opensource-7/dba-password-again password dba" \
    | $sudo debconf-set-selections
  # Keep the package's system service from starting (it would listen on every interface).
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    made_policy=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq virtuoso-opensource >/dev/null
  if [ -n "$made_policy" ]; then $sudo rm -f "$policy"; fi
fi

"$venv/bin/oxigraph" --version
virtuoso-t +version 2>&1 | grep -m1 -i version || true
