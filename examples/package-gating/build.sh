#!/bin/sh
# Stage `build` (run: on the controller): the tinysvc .deb from src/, with dpkg-deb, checked by
# lintian when it is installed (the seed's "basic syntax test"; skipped, and said so, without it).
# Writes into $HARNESS_STAGE_DIR: tinysvc_<version>_all.deb, lintian.txt, build.txt.
# `-e package_broken=true` builds a broken package: the library is left out of it, so it installs
# but its command line fails (what the install test must catch).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/src"
out="${HARNESS_STAGE_DIR:?run me as a harness run: stage}"
version=$(cat "$src/VERSION")
broken=$(python3 -c 'import json, os; v = json.loads(os.environ.get("HARNESS_VARS") or "{}").get("package_broken", False); print("true" if str(v).lower() in ("true", "yes", "1") else "false")')

root=$(mktemp -d "${TMPDIR:-/tmp}/tinysvc-build.XXXXXX")
trap 'rm -rf "$root"' EXIT
pkg="$root/tinysvc"
subst() { sed "s/@VERSION@/$version/g" "$1"; }

# The files, where the package installs them.
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/sbin" "$pkg/usr/lib/tinysvc" "$pkg/etc/tinysvc" \
  "$pkg/lib/systemd/system" "$pkg/usr/share/doc/tinysvc"
install -m 0755 "$src/bin/tinysvc" "$pkg/usr/bin/tinysvc"
install -m 0755 "$src/bin/tinysvcd" "$pkg/usr/sbin/tinysvcd"
if [ "$broken" = true ]; then
  echo "build: package_broken=true: leaving the library usr/lib/tinysvc/tinysvc_lib.py out of the package"
else
  subst "$src/lib/tinysvc_lib.py" > "$pkg/usr/lib/tinysvc/tinysvc_lib.py"
  chmod 0644 "$pkg/usr/lib/tinysvc/tinysvc_lib.py"
fi
install -m 0644 "$src/debian/tinysvc.json" "$pkg/etc/tinysvc/tinysvc.json"
install -m 0644 "$src/debian/tinysvc.service" "$pkg/lib/systemd/system/tinysvc.service"
install -m 0644 "$src/debian/copyright" "$pkg/usr/share/doc/tinysvc/copyright"
subst "$src/debian/changelog" | gzip -9n > "$pkg/usr/share/doc/tinysvc/changelog.gz"
chmod 0644 "$pkg/usr/share/doc/tinysvc/changelog.gz"

# Python's own syntax check of what is shipped.
for f in "$pkg/usr/bin/tinysvc" "$pkg/usr/sbin/tinysvcd" "$pkg"/usr/lib/tinysvc/*.py; do
  [ -e "$f" ] || continue
  python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$f"
done

# The control area.
subst "$src/debian/control" > "$pkg/DEBIAN/control"
echo "Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)" >> "$pkg/DEBIAN/control"
echo "/etc/tinysvc/tinysvc.json" > "$pkg/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$src/debian/$s" "$pkg/DEBIAN/$s"; done
(cd "$pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

# Reproducible: every file's time is the changelog's (dpkg-deb clamps to SOURCE_DATE_EPOCH).
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' "$src/debian/changelog")" +%s)
export SOURCE_DATE_EPOCH
deb="$out/tinysvc_${version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb"
dpkg-deb --info "$deb" | sed 's/^/  /'
dpkg-deb --contents "$deb" | sed 's/^/  /'
sha256sum "$deb" | sed "s|$out/||" > "$out/build.txt"
echo "broken=$broken" >> "$out/build.txt"

if command -v lintian >/dev/null 2>&1; then
  echo "build: lintian $(lintian --version | sed 's/^Lintian v//')"
  # Errors fail the build; warnings are shown and kept.
  if lintian --fail-on error --display-info "$deb" > "$out/lintian.txt" 2>&1; then rc=0; else rc=$?; fi
  cat "$out/lintian.txt"
  [ "$rc" -eq 0 ] || { echo "build: lintian found errors (exit $rc)"; exit 1; }
else
  echo "lint skipped: lintian is not installed (apt-get install lintian)" | tee "$out/lintian.txt"
fi
echo "build: $(basename "$deb") ($(stat -c %s "$deb") bytes)"
