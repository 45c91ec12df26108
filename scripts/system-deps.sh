#!/usr/bin/env bash
# Installs the Debian packages ansible-harness needs, only those missing.
# Usage: scripts/system-deps.sh [--vm] [--browser] [--registry] [--packaging]
#   --vm adds what the qemu lab needs; --browser adds Chromium (the report test opens report.html in it);
#   --registry adds Debian's docker-registry and htpasswd (the OCI checkpoint store tests run a real registry);
#   --packaging adds dpkg-dev and lintian (the package gating example builds, lints and indexes a .deb)
set -euo pipefail
pkgs=(ansible-core openssh-server openssh-client qemu-utils libxml2-utils)
for arg in "$@"; do
  case "$arg" in
    --vm) pkgs+=(qemu-system-x86 debootstrap vde2 socat) ;;
    --browser) pkgs+=(chromium) ;;
    --registry) pkgs+=(docker-registry apache2-utils openssl) ;;
    --packaging) pkgs+=(dpkg-dev lintian) ;;
    *) echo "system-deps.sh: unknown option $arg (use --vm, --browser, --registry, --packaging)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
