#!/bin/bash
# A file named by a flag that is missing or cannot be read is reported in
# one line naming the flag and the file, and sluice exits non-zero before
# it creates or binds anything.  Root reads any file whatever its mode, so
# "unreadable" here is a directory or a path through a regular file.
# Needs no namespaces: sluice never gets as far as binding.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_sluice
dir=$(mktemp -d /tmp/sluice-flags.XXXXXX) || fail "mktemp"
trap 'rm -rf "$dir"' EXIT
"$SLUICE_CA" init "$dir/ica" >/dev/null 2>&1 || fail "$SLUICE_CA init failed"

# refused EXPECTED-LINE FLAGS...: sluice with good defaults overridden by
# FLAGS must print exactly EXPECTED-LINE on stderr, nothing on stdout, and
# exit non-zero.
refused() {
	local want=$1 out err rc
	shift
	out=$(cd "$dir" && timeout 10 "$SLUICE" --listen 127.0.0.1:1 \
		--rules rules.db --audit audit.db --ca-cert ica/ca.crt \
		--ca-key ica/ca.key "$@" 2>"$dir/stderr")
	rc=$?
	err=$(cat "$dir/stderr")
	[ $rc != 0 ] && [ $rc != 124 ] || fail "sluice $* exited with $rc"
	assert_eq "" "$out" "stdout of sluice $*"
	assert_eq "$want" "$err" "stderr of sluice $*"
}

refused "sluice: --upstream-ca $dir/none.pem: No such file or directory" \
	--upstream-ca "$dir/none.pem"
refused "sluice: --ca-key $dir/ica/none.key: No such file or directory" \
	--ca-key "$dir/ica/none.key"
refused "sluice: --ca-cert $dir/ica: Is a directory" --ca-cert "$dir/ica"
refused "sluice: --ca-cert ica/ca.crt/x: Not a directory" --ca-cert ica/ca.crt/x
refused "sluice: --audit $dir/none/audit.db: No such file or directory" \
	--audit "$dir/none/audit.db"
refused "sluice: --keylog $dir/none/keys.log: No such file or directory" \
	--keylog "$dir/none/keys.log"
# Nothing was created on the way out.
[ ! -e "$dir/rules.db" ] || fail "a refused start created rules.db"
[ ! -e "$dir/audit.db" ] || fail "a refused start created audit.db"
