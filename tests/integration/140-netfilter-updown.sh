#!/bin/bash
# sluice-netfilter: "up" twice leaves exactly one copy of each rule, a new
# "up" replaces the old setup, and "down" restores the ruleset that was
# there before (an operator's own rules untouched), for IPv4 and IPv6,
# including the TPROXY ip rule and route.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
LAB_UPSTREAM=0
lab_up
lab_redirect_off

# What iptables-save and ip print, without comments and counters.  A table
# with no rules and every policy ACCEPT filters nothing: the nf_tables
# backend creates one on first use and leaves it, so it counts as absent.
ruleset() {
	local t
	for t in iptables-save ip6tables-save; do
		lab_in_g "$t" | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]//' | awk '
			/^\*/ { blk = $0 "\n"; empty = 1; next }
			/^COMMIT/ { if (!empty) printf "%s%s\n", blk, $0; next }
			{ blk = blk $0 "\n" }
			!/^:[A-Z]+ ACCEPT *$/ { empty = 0 }'
	done
	lab_in_g ip -4 rule
	lab_in_g ip -6 rule
	# Routes the kernel derives from addresses come and go on their own
	# (an IPv6 link-local address appears once DAD ends): not ours.
	lab_in_g ip -4 route show table all | grep -v 'proto kernel'
	lab_in_g ip -6 route show table all | grep -v 'proto kernel'
}

# An operator's own rules in the same built-in chains and routing tables.
lab_in_g sh -ec "
	iptables -t nat -A PREROUTING -i $LAB_IF_GW -p tcp --dport 8080 -j REDIRECT --to-ports 80
	iptables -t mangle -A PREROUTING -p udp --dport 123 -j MARK --set-mark 0x1
	iptables -A FORWARD -p icmp -j ACCEPT
	ip6tables -A FORWARD -p ipv6-icmp -j ACCEPT
	ip rule add fwmark 0x1 lookup 200
	ip route add unreachable default table 200" || fail "adding the operator's rules"
before=$(ruleset)

for mode in "" "--tproxy" "--nfqueue 3 --fail-open" "--tproxy --nfqueue 3"; do
	# shellcheck disable=SC2086
	args=(up --lan "$LAB_IF_GL,$LAB_IF_GW" --listen-port 8443 --ports 443,8443 $mode)
	lab_netfilter "${args[@]}" || fail "sluice-netfilter ${args[*]} failed"
	once=$(ruleset)
	lab_netfilter "${args[@]}" || fail "second sluice-netfilter ${args[*]} failed"
	twice=$(ruleset)
	[ "$once" = "$twice" ] || fail "up '$mode' twice differs from once:
$(diff <(printf '%s\n' "$once") <(printf '%s\n' "$twice"))"
	for t in iptables-save ip6tables-save; do
		n=$(lab_in_g "$t" | grep -c -- '-j SLUICE-')
		case $mode in
		*--tproxy*--nfqueue*) want=3 ;;			# mangle + filter + output
		*--tproxy*) want=2 ;;				# mangle + filter
		*--nfqueue*) want=4 ;;				# mangle + nat + filter + output
		*) want=2 ;;					# nat + filter
		esac
		assert_eq "$want" "$n" "$t: jumps to SLUICE chains after up '$mode' twice"
		# DNS answers to each LAN interface, UDP and TCP, forwarded or
		# from G itself, always bypassing the queue when sluice is down.
		n=$(lab_in_g "$t" | grep -E -c -- "^-A SLUICE-(FORWARD|OUTPUT) -o ($LAB_IF_GL|$LAB_IF_GW) -p (udp|tcp) -m (udp|tcp) --sport 53 -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j NFQUEUE --queue-num 3 --queue-bypass$")
		case $mode in *--nfqueue*) want=8 ;; *) want=0 ;; esac
		assert_eq "$want" "$n" "$t: rules queueing DNS answers after up '$mode' twice"
	done
	n=$(lab_in_g ip -4 rule | grep -c 'fwmark 0x1000/0x1000 lookup 100')
	case $mode in *--tproxy*) assert_eq 1 "$n" "ip rules for TPROXY after up '$mode' twice" ;;
	*) assert_eq 0 "$n" "ip rules for TPROXY after up '$mode'" ;; esac
	st=$(lab_netfilter status) || fail "status after up '$mode' exits non-zero"
	assert_contains "$st" "from $LAB_IF_GL,$LAB_IF_GW" "status after up '$mode'"
	case $mode in *--nfqueue*) assert_contains "$st" "; dns answers queued" "status after up '$mode'" ;;
	*) assert_not_contains "$st" "dns answers" "status after up '$mode'" ;; esac
done

lab_netfilter down || fail "sluice-netfilter down failed"
after=$(ruleset)
[ "$before" = "$after" ] || fail "down did not restore the ruleset:
$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after"))"
lab_netfilter status >/dev/null && fail "status exits 0 with nothing installed"
lab_netfilter down || fail "a second down failed"
assert_eq "$before" "$(ruleset)" "ruleset after a second down"
exit 0
