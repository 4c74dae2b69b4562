# nfq.sh - the --nfqueue gateway layout of the lab, set by hand, for the
# tests/integration/15x-nfq-*.sh scripts.  Source it after lab.sh.
#
# The rules are the layout tools/sluice-netfilter installs (the same chain
# names, order and marks, src/netmark.h), written out here so that these
# tests do not depend on the tool; swap nfq_up for "sluice-netfilter up
# --nfqueue" once both are merged:
#   mangle PREROUTING -> SLUICE-PREROUTING: sluice's own marked packets
#     RETURN; from the LAN, unmarked: CONNMARK --restore-mark, then new TCP
#     and UDP flows (not UDP/53) -> NFQUEUE $NFQ_NUM, then CONNMARK
#     --save-mark (the verdict sticks to the flow);
#   nat PREROUTING -> SLUICE-PREROUTING: TCP/443 from the LAN marked
#     NETMARK_INTERCEPT -> REDIRECT to sluice's listeners;
#   filter FORWARD -> SLUICE-FORWARD: NETMARK_DENY -> REJECT (TCP reset,
#     else ICMP port unreachable); UDP/443 from the LAN -> REJECT; DNS
#     answers (UDP and TCP from port 53, replies) to the LAN -> NFQUEUE
#     $NFQ_NUM --queue-bypass, so that sluice learns each name before the
#     client has its answer;
#   filter OUTPUT -> SLUICE-OUTPUT: the same for a resolver on G itself.
# It replaces lab.sh's plain REDIRECT of TCP/443.
#
# nfq_dns_up NAME=ADDR...: dns.py on U ($LAB_U4:53, TTL $NFQ_DNS_TTL) as
# C's only resolver, and C's hosts file without the lab's names, so that
# C looks them up through G, where sluice can learn them.
# nfq_resolve NAME...: C looks each NAME up through G (sluice has learned
# it when C has the answer: no wait is needed before connecting).
# nfq_echo_up: echo.py on U at $LAB_U4:$NFQ_ECHO_PORT (and IPv6).
# nfq_connect [-6] ADDR PORT: from C, connects, sends a line, prints
# "ok PEER" with the peer the echo server saw, or "refused MS" / "timeout
# MS" / "error ..." with the milliseconds it took to fail.

NFQ_NUM=150
NFQ_ECHO_PORT=2222
NFQ_DNS_TTL=${NFQ_DNS_TTL:-60}
NFQ_MASK=0x1f00
NFQ_UPSTREAM=0x0100/0x0100
NFQ_INTERCEPT=0x0200/0x0200
NFQ_DENY=0x0400/0x0400
NFQ_UNMARKED=0x0/0x1f00

nfq_up() {
	local fail_open=() ipt port unreach
	[ "${1:-}" = --fail-open ] && fail_open=(--queue-bypass)
	lab_redirect_off
	for ipt in iptables ip6tables; do
		if [ $ipt = iptables ]; then
			port=$LAB_PROXY_PORT unreach=icmp-port-unreachable
		else
			port=$LAB_PROXY_PORT6 unreach=icmp6-port-unreachable
		fi
		lab_in_g sh -ec "
		$ipt -t mangle -N SLUICE-PREROUTING
		$ipt -t mangle -A SLUICE-PREROUTING -m mark --mark $NFQ_UPSTREAM -j RETURN
		$ipt -t mangle -A SLUICE-PREROUTING -i $LAB_IF_GL -m mark --mark $NFQ_UNMARKED \
			-j CONNMARK --restore-mark --mask $NFQ_MASK
		$ipt -t mangle -A SLUICE-PREROUTING -i $LAB_IF_GL -p tcp -m conntrack --ctstate NEW \
			-m mark --mark $NFQ_UNMARKED -j NFQUEUE --queue-num $NFQ_NUM ${fail_open[*]}
		$ipt -t mangle -A SLUICE-PREROUTING -i $LAB_IF_GL -p udp ! --dport 53 \
			-m conntrack --ctstate NEW -m mark --mark $NFQ_UNMARKED \
			-j NFQUEUE --queue-num $NFQ_NUM ${fail_open[*]}
		$ipt -t mangle -A SLUICE-PREROUTING -i $LAB_IF_GL -j CONNMARK --save-mark --mask $NFQ_MASK
		$ipt -t mangle -I PREROUTING 1 -j SLUICE-PREROUTING
		$ipt -t nat -N SLUICE-PREROUTING
		$ipt -t nat -A SLUICE-PREROUTING -m mark --mark $NFQ_UPSTREAM -j RETURN
		$ipt -t nat -A SLUICE-PREROUTING -i $LAB_IF_GL -p tcp -m multiport --dports 443 \
			-m mark --mark $NFQ_INTERCEPT -j REDIRECT --to-ports $port
		$ipt -t nat -I PREROUTING 1 -j SLUICE-PREROUTING
		$ipt -t filter -N SLUICE-FORWARD
		$ipt -t filter -A SLUICE-FORWARD -m mark --mark $NFQ_UPSTREAM -j RETURN
		$ipt -t filter -A SLUICE-FORWARD -p tcp -m mark --mark $NFQ_DENY \
			-j REJECT --reject-with tcp-reset
		$ipt -t filter -A SLUICE-FORWARD -m mark --mark $NFQ_DENY -j REJECT --reject-with $unreach
		$ipt -t filter -A SLUICE-FORWARD -i $LAB_IF_GL -p udp --dport 443 \
			-j REJECT --reject-with $unreach
		$ipt -t filter -N SLUICE-OUTPUT
		$ipt -t filter -A SLUICE-OUTPUT -m mark --mark $NFQ_UPSTREAM -j RETURN
		for chain in SLUICE-FORWARD SLUICE-OUTPUT; do
			for proto in udp tcp; do
				$ipt -t filter -A \$chain -o $LAB_IF_GL -p \$proto --sport 53 \
					-m conntrack --ctstate ESTABLISHED --ctdir REPLY \
					-j NFQUEUE --queue-num $NFQ_NUM --queue-bypass
			done
		done
		$ipt -t filter -I FORWARD 1 -j SLUICE-FORWARD
		$ipt -t filter -I OUTPUT 1 -j SLUICE-OUTPUT" || fail "installing the $ipt nfqueue layout"
	done
}

nfq_dns_up() {
	local args=() spec
	for spec in "$@"; do
		args+=(--name "$spec")
	done
	ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/dns.py" --listen "$LAB_U4" \
		--ttl "$NFQ_DNS_TTL" "${args[@]}" >>"$LAB_DIR/dns.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$LAB_U4" \
		>"/etc/netns/$LAB_C/resolv.conf" || fail "writing C's resolv.conf"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"/etc/netns/$LAB_C/hosts" ||
		fail "writing C's hosts"
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(lab_in_u ss -Hlun "sport = :53" | wc -l)" -gt 0 ] && return 0
		sleep 0.1
	done
	fail "dns.py did not start"
}

nfq_resolve() {
	local name
	for name in "$@"; do
		lab_in_c getent ahosts "$name" >/dev/null || fail "C cannot resolve $name"
	done
}

nfq_echo_up() {
	ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/echo.py" \
		--listen "$LAB_U4:$NFQ_ECHO_PORT" --listen "[$LAB_U6]:$NFQ_ECHO_PORT" \
		>>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" "$NFQ_ECHO_PORT" 2 || fail "echo.py did not start"
}

nfq_connect() {
	local fam=4
	[ "$1" = -6 ] && { fam=6; shift; }
	lab_in_c "$LAB_PY" -c '
import socket, sys, time
fam = socket.AF_INET6 if sys.argv[3] == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(5)
t = time.monotonic()
ms = lambda: int((time.monotonic() - t) * 1000)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    f = s.makefile("rb")
    peer = f.readline().decode().split()[1]
    s.sendall(b"hello sluice\n")
    echo = f.readline()
    print("ok %s" % peer if echo == b"hello sluice\n" else "error echo %r" % echo)
except ConnectionRefusedError:
    print("refused %d" % ms())
except socket.timeout:
    print("timeout %d" % ms())
except OSError as e:
    print("error %s" % e)' "$1" "$2" "$fam"
}

# nfq_start_sluice [FLAGS...]: lab_start_sluice with --nfqueue, once the
# queue is bound.
nfq_start_sluice() {
	lab_start_sluice --nfqueue "$NFQ_NUM" "$@"
	lab_log_wait 'nfqueue: giving verdicts' || fail "sluice did not bind queue $NFQ_NUM"
}
