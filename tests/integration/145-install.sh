#!/bin/bash
# make install DESTDIR=... installs the programs, the systemd unit, the
# rules schema and an empty certs/ (its README only), and the installed
# unit passes systemd-analyze verify.  No lab: only a temporary directory.
. "$(dirname "$0")/../lab/lab.sh"
command -v systemd-analyze >/dev/null || skip "needs systemd-analyze (apt-get install systemd)"
[ -x "$SLUICE" ] || skip "no daemon at $SLUICE (build it first)"
builddir=$(cd "$(dirname "$SLUICE")/.." && pwd)
[ -f "$builddir/Makefile" ] || skip "no Makefile in $builddir"

dest=$(mktemp -d /tmp/sluice-install.XXXXXX) || fail "mktemp"
trap 'rm -rf "$dest"' EXIT
make -s -C "$builddir" install DESTDIR="$dest" >"$dest.log" 2>&1 ||
	fail "make install failed: $(tail -n 20 "$dest.log")"
rm -f "$dest.log"

# Each expected file exactly once, whatever the configured directories.
files=$(cd "$dest" && find . -type f | sort)
for want in /bin/sluice /bin/sluice-ca /bin/sluice-audit /bin/sluice-rules /bin/sluice-netfilter \
	/systemd/system/sluice.service /share/sluice/schema.sql /share/sluice/sluice.default \
	/lib/sluice/certs/README; do
	n=$(printf '%s\n' "$files" | grep -c -- "$want\$")
	assert_eq 1 "$n" "installed files ending in $want"
done
assert_eq 9 "$(printf '%s\n' "$files" | wc -l)" "number of installed files:
$files"
for f in $(printf '%s\n' "$files" | grep /bin/); do
	[ -x "$dest/$f" ] || fail "$f is not executable"
done
certs=$(cd "$dest" && find . -type d -path '*/lib/sluice/certs')
assert_eq 750 "$(stat -c %a "$dest/$certs")" "mode of the installed certs/"
cmp -s "$SLUICE_SRCDIR/rules/schema.sql" "$dest/$(printf '%s\n' "$files" | grep schema.sql)" ||
	fail "the installed schema.sql differs from rules/schema.sql"

# The unit names the installed programs; systemd-analyze checks that they
# exist, so it reads a copy whose paths point into DESTDIR.
unit=$dest/$(printf '%s\n' "$files" | grep sluice.service)
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[ -n "$exe" ] && [ -x "$dest$exe" ] || fail "ExecStart '$exe' is not an installed program"
for d in ExecStartPre ExecStopPost; do
	p=$(sed -n "s/^$d=+\\([^ ]*\\).*/\\1/p" "$unit")
	assert_eq "${exe%/*}/sluice-netfilter" "$p" "$d program (run with full privileges: +)"
done
mkdir -p "$dest/verify"
sed "s|${exe%/*}/|$dest${exe%/*}/|g" "$unit" >"$dest/verify/sluice.service"
out=$(systemd-analyze verify "$dest/verify/sluice.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
for k in "User=sluice" "NoNewPrivileges=yes" "ProtectSystem=strict" \
	"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW"; do
	grep -qx -- "$k" "$unit" || fail "the unit lacks $k"
done
exit 0
