#!/usr/bin/env bash
# Installs the Debian packages the lab needs when they are missing: ngspice and its shared
# library (SPICE references) and chromium (the report test renders the HTML report headless).
# Idempotent: does nothing when they are present.
set -euo pipefail
missing=()
dpkg -s ngspice >/dev/null 2>&1 || missing+=(ngspice)
dpkg -s libngspice0-dev >/dev/null 2>&1 || missing+=(libngspice0-dev)
dpkg -s chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "greybound: missing Debian packages: ${missing[*]}" >&2
    echo "greybound: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "greybound: installing ${missing[*]} with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
