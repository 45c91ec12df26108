#!/bin/sh
# Stage `repository` (run: on the controller): a single-component APT repository of the packages
# the build stage kept (seeds/002: "DEB packages. Single-component APT repository accessible by
# HTTP, with distribution name that equals to the current upstream OS codename"), made with
# dpkg-scanpackages (dpkg-dev). Unsigned: the hosts trust it by `[trusted=yes]`; a released
# repository would be signed at merge (the seed's "signs ... for DEB - repository metadata").
# Writes into $HARNESS_STAGE_DIR: repo/ (dists/, pool/), the same as repo.tar.gz (what the publish
# stage copies to the repo host: one transfer), and packages.txt (the package list).
set -eu
out="${HARNESS_STAGE_DIR:?run me as a harness run: stage}"
: "${HARNESS_RUN_DIR:?}"
var() { python3 -c 'import json, os, sys; print(json.loads(os.environ.get("HARNESS_VARS") or "{}").get(sys.argv[1], sys.argv[2]))' "$@"; }
codename=$(var pkg_codename bookworm)
component=$(var pkg_component main)
arch=$(dpkg --print-architecture)

# What the build stage kept in this run (stages/NN-build/outputs/, the run directory's layout).
debs=$(find "$HARNESS_RUN_DIR/stages" -path '*-build/outputs/*.deb' -type f | LC_ALL=C sort)
[ -n "$debs" ] || { echo "repository: no .deb in $HARNESS_RUN_DIR/stages/*-build/outputs/ (did the build stage run in this run?)" >&2; exit 1; }

repo="$out/repo"
pool="$repo/pool/$component"
list="dists/$codename/$component/binary-$arch"
mkdir -p "$pool" "$repo/$list"
for deb in $debs; do
  name=$(dpkg-deb --field "$deb" Package)
  mkdir -p "$pool/$(printf %s "$name" | cut -c1)/$name"
  cp "$deb" "$pool/$(printf %s "$name" | cut -c1)/$name/"
done
(cd "$repo" && dpkg-scanpackages --multiversion --arch "$arch" pool /dev/null > "$list/Packages")
gzip -9nk "$repo/$list/Packages"

# The Release file apt reads first: what the repository is, and the checksums of its indexes.
{
  echo "Origin: ansible-harness"
  echo "Label: tinysvc-test"
  echo "Suite: $codename"
  echo "Codename: $codename"
  echo "Date: $(LC_ALL=C date -u -R)"
  echo "Architectures: $arch"
  echo "Components: $component"
  echo "Description: test repository of run $(basename "$HARNESS_RUN_DIR")"
  for sum in MD5Sum:md5sum SHA256:sha256sum; do
    echo "${sum%%:*}:"
    for f in "$component/binary-$arch/Packages" "$component/binary-$arch/Packages.gz"; do
      printf ' %s %16d %s\n' "$("${sum#*:}" "$repo/dists/$codename/$f" | cut -d' ' -f1)" "$(stat -c %s "$repo/dists/$codename/$f")" "$f"
    done
  done
} > "$repo/dists/$codename/Release"

# The package list (seeds/002: "list of synced packages must be included as an artifact").
awk '/^Package:/ {p=$2} /^Version:/ {v=$2} /^Filename:/ {f=$2} /^SHA256:/ {print p, v, f, $2}' "$repo/$list/Packages" | tee "$out/packages.txt"
tar -C "$repo" --owner=0 --group=0 --numeric-owner -czf "$out/repo.tar.gz" .
echo "repository: $(wc -l < "$out/packages.txt") package(s) in $codename/$component ($arch)"
