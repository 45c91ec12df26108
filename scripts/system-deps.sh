#!/usr/bin/env bash
# Installs the Debian packages ansible-harness needs, only those missing.
# Usage: scripts/system-deps.sh [--vm] [--libvirt] [--browser] [--registry] [--packaging]
#   --vm adds what the qemu lab needs; --libvirt adds that plus libvirtd, its qemu driver, virsh and the
#   libvirt-qemu user (the libvirt lab; no service is started: the lab starts a daemon of its own);
#   --browser adds Chromium (the report test opens report.html in it);
#   --registry adds Debian's docker-registry and htpasswd (the OCI checkpoint store tests run a real registry)
#   and rsync (gitlab-ci-local copies each job's checkout with it);
#   --packaging adds dpkg-dev and lintian (the package gating example builds, lints and indexes a .deb)
set -euo pipefail
pkgs=(ansible-core openssh-server openssh-client qemu-utils libxml2-utils)
libvirt_user=0
for arg in "$@"; do
  case "$arg" in
    --vm) pkgs+=(qemu-system-x86 debootstrap vde2 socat) ;;
    --libvirt) pkgs+=(qemu-system-x86 debootstrap vde2 socat libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients); libvirt_user=1 ;;
    --browser) pkgs+=(chromium) ;;
    --registry) pkgs+=(docker-registry apache2-utils openssl rsync) ;;
    --packaging) pkgs+=(dpkg-dev lintian) ;;
    *) echo "system-deps.sh: unknown option $arg (use --vm, --libvirt, --browser, --registry, --packaging)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# libvirt's qemu driver looks this user up at start even when QEMU runs as root (libvirt-daemon-system
# would create it, but also installs services and a default network the lab does not want).
if [ "$libvirt_user" -eq 1 ] && ! getent passwd libvirt-qemu >/dev/null; then
  $sudo useradd --system --user-group --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
