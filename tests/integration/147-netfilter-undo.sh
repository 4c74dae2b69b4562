#!/bin/bash
# A sluice-netfilter up that fails half-way (here the IPv6 TPROXY route,
# with IPv6 disabled on lo) says which command failed with that command's
# own error, exits 1, and leaves the ruleset as it was before.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
LAB_UPSTREAM=0
lab_up
lab_redirect_off

ruleset() {
	local t
	for t in iptables-save ip6tables-save; do
		lab_in_g "$t" | grep -E -- '^-A|^:SLUICE'
	done
	lab_in_g ip -4 rule
	lab_in_g ip -6 rule
	lab_in_g ip -4 route show table 100 2>/dev/null
}
before=$(ruleset)
lab_in_g sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 || fail "disabling IPv6 on lo"

# --nfqueue too, so that every chain (SLUICE-OUTPUT included) is undone.
err=$(lab_netfilter up --lan "$LAB_IF_GL" --listen-port 8445 --tproxy --nfqueue 3 2>&1)
rc=$?
assert_eq 1 "$rc" "exit status of a failed up"
first=$(printf '%s\n' "$err" | head -n 1)
assert_contains "$first" "ip -6 route replace local default dev lo table 100: " \
	"the failed command, on one line"
assert_contains "$first" "Error:" "ip's own message on the same line"
assert_contains "$err" "removing what was installed" "what up did about it"
after=$(ruleset)
[ "$before" = "$after" ] || fail "a failed up left rules behind:
$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after"))"
lab_netfilter status >/dev/null && fail "status exits 0 after a failed up"
exit 0
