# lab.sh - the network lab that integration tests, tools/demo and
# tests/bench/run share.  Source it; it runs nothing by itself.
#
#   client C ──veth── gateway G ──veth── upstream U
#   10.77.1.2         10.77.1.1  10.77.2.1   10.77.2.2  trusted upstream.py
#   fd00:77:1::2      fd00:77:1::1 fd00:77:2::1 fd00:77:2::2
#                                            10.77.2.3  untrusted upstream.py
#                                            fd00:77:2::3 (cert from another CA)
#
# In G, tools/sluice-netfilter redirects TCP/443 arriving from the LAN side
# to sluice's transparent listeners ($LAB_PROXY_PORT for IPv4,
# $LAB_PROXY_PORT6 for IPv6) and rejects UDP/443 from the LAN; the explicit
# CONNECT listener is $LAB_GL4:$LAB_CONNECT_PORT.
# C resolves api.test, other.test, pinned.test, evil.test to U's trusted
# address and untrusted.test to the untrusted one (/etc/netns/C/hosts); so
# does G (/etc/netns/G/hosts, for sluice's own lookups).
#
# Everything is named with a per-run prefix (sl<pid>) so runs can overlap,
# lives in three namespaces, and lab_down (run from an EXIT trap that lab_up
# installs) removes all of it: processes, namespaces (with their veths and
# iptables rules), /etc/netns/C, /etc/netns/G and the run's temporary
# directory.
#
# Environment: SLUICE (daemon), SLUICE_CA (tools/sluice-ca),
# SLUICE_AUDIT_TOOL (tools/sluice-audit), SLUICE_NETFILTER
# (tools/sluice-netfilter), SLUICE_SRCDIR (source tree).  LAB_KEEP=1 keeps the temporary directory for a post-mortem.

LAB_SRCDIR=${SLUICE_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SLUICE=${SLUICE:-$LAB_SRCDIR/src/sluice}
SLUICE_CA=${SLUICE_CA:-$LAB_SRCDIR/tools/sluice-ca}
SLUICE_AUDIT_TOOL=${SLUICE_AUDIT_TOOL:-$LAB_SRCDIR/tools/sluice-audit}
SLUICE_NETFILTER=${SLUICE_NETFILTER:-$LAB_SRCDIR/tools/sluice-netfilter}
if [ -x /usr/bin/python3 ]; then LAB_PY=/usr/bin/python3; else LAB_PY=python3; fi

LAB_ID=sl$$
LAB_C=${LAB_ID}c
LAB_G=${LAB_ID}g
LAB_U=${LAB_ID}u
LAB_IF_C=${LAB_ID}c0		# in C, towards G
LAB_IF_GL=${LAB_ID}g0		# in G, LAN side
LAB_IF_GW=${LAB_ID}g1		# in G, WAN side
LAB_IF_U=${LAB_ID}u0		# in U, towards G

LAB_C4=10.77.1.2	LAB_C6=fd00:77:1::2
LAB_GL4=10.77.1.1	LAB_GL6=fd00:77:1::1
LAB_GW4=10.77.2.1	LAB_GW6=fd00:77:2::1
LAB_U4=10.77.2.2	LAB_U6=fd00:77:2::2
LAB_UX4=10.77.2.3	LAB_UX6=fd00:77:2::3

LAB_PROXY_PORT=8443
LAB_PROXY_PORT6=8444
LAB_CONNECT_PORT=3128
LAB_NAMES="api.test other.test pinned.test evil.test"

LAB_DIR=
LAB_REQLOG=
LAB_REQLOG_X=
LAB_IS_UP=0
LAB_SLUICE_PID=
LAB_PIDS=()

# --- messages and assertions -------------------------------------------

lab_log() { printf '%s\n' "$*" >&2; }

# Shows what a failure needs for a diagnosis: the tails of the logs.
lab_diag() {
	local f
	for f in "$LAB_DIR/sluice.log" "$LAB_DIR/upstream.log"; do
		[ -n "$LAB_DIR" ] && [ -s "$f" ] || continue
		printf -- '--- last lines of %s\n' "${f##*/}" >&2
		tail -n 25 "$f" >&2
	done
}

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	lab_diag
	exit 1
}

skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

assert_eq() {	# assert_eq EXPECTED ACTUAL WHAT
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_contains() {	# assert_contains HAYSTACK NEEDLE WHAT
	case $1 in
	*"$2"*) ;;
	*) fail "$3: '$2' not found in: $(printf '%s' "$1" | head -c 2000)" ;;
	esac
}

assert_not_contains() {	# assert_not_contains HAYSTACK NEEDLE WHAT
	case $1 in
	*"$2"*) fail "$3: '$2' should not be in: $(printf '%s' "$1" | head -c 2000)" ;;
	esac
}

# lab_json JSON EXPR: prints EXPR evaluated with d = the parsed JSON
# (strings bare, everything else as JSON), e.g. lab_json "$body" 'd["path"]'.
lab_json() {
	"$LAB_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2" ||
		fail "not JSON or no $2 in: $(printf '%s' "$1" | head -c 500)"
}

# lab_hdr JSON NAME: the values of every NAME header (any case) in an /echo
# answer, i.e. what the upstream received, one per line in arrival order.
lab_hdr() {
	"$LAB_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
for k, v in d["headers"]:
    if k.lower() == sys.argv[2].lower():
        print(v)' "$1" "$2" ||
		fail "not an /echo answer: $(printf '%s' "$1" | head -c 500)"
}

# lab_param JSON NAME: the values of every NAME query parameter in the path
# of an /echo answer, decoded the way the upstream's framework decodes them
# (parse_qsl: %XX and '+' as space), one per line as Python string literals
# (repr), so spaces, newlines and empty values are all visible.
lab_param() {
	"$LAB_PY" -c '
import json, sys, urllib.parse
d = json.loads(sys.argv[1])
q = urllib.parse.urlsplit(d["path"]).query
for k, v in urllib.parse.parse_qsl(q, keep_blank_values=True):
    if k == sys.argv[2]:
        print(repr(v))' "$1" "$2" ||
		fail "not an /echo answer: $(printf '%s' "$1" | head -c 500)"
}

# lab_py_repr STRING: STRING as lab_param prints it.
lab_py_repr() { "$LAB_PY" -c 'import sys; print(repr(sys.argv[1]))' "$1"; }

# lab_poll MS CMD...: runs CMD until it succeeds, for at most MS
# milliseconds; prints the milliseconds it took and returns CMD's last status.
lab_poll() {
	local limit=$1 start now rc
	shift
	start=$(date +%s%N)
	while :; do
		"$@"
		rc=$?
		now=$(date +%s%N)
		[ $rc = 0 ] && break
		[ $(((now - start) / 1000000)) -ge "$limit" ] && break
		sleep 0.1
	done
	printf '%s\n' $(((now - start) / 1000000))
	return $rc
}

# lab_log_wait ERE [SECONDS]: until a line of sluice's log matches ERE (grep
# -E), for at most SECONDS (default 5); prints the first such line.
lab_log_wait() {
	local i limit=${2:-5}
	for ((i = 0; i < limit * 10; i++)); do
		grep -E -m1 -- "$1" "$LAB_DIR/sluice.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# --- namespaces ----------------------------------------------------------

lab_in_c() { ip netns exec "$LAB_C" "$@"; }
lab_in_g() { ip netns exec "$LAB_G" "$@"; }
lab_in_u() { ip netns exec "$LAB_U" "$@"; }

lab_require_root() {
	[ "$EUID" = 0 ] || skip "the lab needs root (network namespaces)"
	command -v ip >/dev/null && command -v iptables >/dev/null &&
		command -v ip6tables >/dev/null || skip "needs iproute2 and iptables"
}

lab_require_sluice() {
	[ -x "$SLUICE" ] || skip "no daemon at $SLUICE (build it first)"
	[ -x "$SLUICE_CA" ] || skip "no CA tool at $SLUICE_CA (build it first)"
}

# lab_listening NS PORT[,PORT...] [COUNT]: true if every PORT has at least
# COUNT (default 1) TCP listeners in NS, from one ss.
lab_listening() {
	local want=${3:-1} out port addr n
	out=$(ss -N "$1" -Hltn) || return 1
	for port in ${2//,/ }; do
		n=0
		while read -r _ _ _ addr _; do
			[ "${addr##*:}" = "$port" ] && n=$((n + 1))
		done <<<"$out"
		[ "$n" -ge "$want" ] || return 1
	done
}

# lab_wait_listen NS PORT [COUNT]: until COUNT (default 1) TCP listeners on
# PORT exist in NS, for at most 10 s.  Looking at the socket table instead
# of connecting keeps probe connections out of sluice's audit log.
lab_wait_listen() {
	local i
	for ((i = 0; i < 100; i++)); do
		lab_listening "$1" "$2" "${3:-1}" && return 0
		sleep 0.1
	done
	return 1
}

# lab_veth_end IFACE LINK-LOCAL ADDR/LEN...: the "ip -batch" lines that give
# IFACE its addresses and bring it up.  The IPv6 ones, link-local included,
# are usable at once (nodad): the link-local address the kernel would make
# stays tentative (DAD) for a second or two, and G sends the neighbour
# solicitations for the IPv6 packets it forwards from that address, so
# forwarded IPv6 would wait.
lab_veth_end() {
	local dev=$1 a
	printf 'link set %s addrgenmode none\n' "$dev"
	for a in "$2/64" "${@:3}"; do
		case $a in
		*:*) printf 'addr add %s dev %s nodad\n' "$a" "$dev" ;;
		*) printf 'addr add %s dev %s\n' "$a" "$dev" ;;
		esac
	done
	printf 'link set %s up\n' "$dev"
}

# lab_links_wait: until G's two veth ends (and with them their peers in C
# and U) are operationally up, for at most 5 s: until then what a veth
# sends is dropped (a first neighbour solicitation, so a second lost).  The
# kernel turns the carrier on at once for a veth whose peer has another
# ifindex, else in a worker shared by every namespace, up to a second
# later: hence the indexes lab_up gives the veths.
lab_links_wait() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(ip -n "$LAB_G" -o link show up | grep -c 'state UP')" = 2 ] && return 0
		sleep 0.1
	done
	fail "the lab's veths did not come up"
}

lab_up() {
	lab_require_root
	LAB_DIR=$(mktemp -d /tmp/sluice-lab.XXXXXX) || fail "mktemp"
	trap lab_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	LAB_IS_UP=1

	# A run killed with SIGKILL leaves its namespaces behind; the pid in the
	# name was that run's, so whatever carries our name now is stale.
	local ns
	for ns in "$LAB_C" "$LAB_G" "$LAB_U"; do
		[ ! -e "/run/netns/$ns" ] || ip netns del "$ns" 2>/dev/null
	done

	# Four ip processes in all, one per namespace ("ip -n" switches itself,
	# no "ip netns exec" needed), for what took thirty: the lab is set up
	# by every test, twice per CI run.
	ip -batch - <<-EOF || fail "creating the namespaces and veth pairs"
	netns add $LAB_C
	netns add $LAB_G
	netns add $LAB_U
	link add $LAB_IF_C index 10 netns $LAB_C type veth peer name $LAB_IF_GL index 11 netns $LAB_G
	link add $LAB_IF_GW index 12 netns $LAB_G type veth peer name $LAB_IF_U index 13 netns $LAB_U
	EOF
	ip -n "$LAB_C" -batch - <<-EOF || fail "configuring the client namespace"
	link set lo up
	$(lab_veth_end "$LAB_IF_C" fe80::2 "$LAB_C4/24" "$LAB_C6/64")
	route add default via $LAB_GL4
	route add default via $LAB_GL6
	EOF
	ip -n "$LAB_G" -batch - <<-EOF || fail "configuring the gateway namespace"
	link set lo up
	$(lab_veth_end "$LAB_IF_GL" fe80::1 "$LAB_GL4/24" "$LAB_GL6/64")
	$(lab_veth_end "$LAB_IF_GW" fe80::1 "$LAB_GW4/24" "$LAB_GW6/64")
	EOF
	ip -n "$LAB_U" -batch - <<-EOF || fail "configuring the upstream namespace"
	link set lo up
	$(lab_veth_end "$LAB_IF_U" fe80::2 "$LAB_U4/24" "$LAB_UX4/24" "$LAB_U6/64" "$LAB_UX6/64")
	route add default via $LAB_GW4
	route add default via $LAB_GW6
	EOF
	lab_in_g sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		fail "turning forwarding on in the gateway namespace"
	lab_links_wait
	lab_redirect_on

	# sluice resolves names too (CONNECT hosts, passthrough SNIs): the
	# same table in G.
	mkdir -p "/etc/netns/$LAB_C" "/etc/netns/$LAB_G" || fail "mkdir /etc/netns/..."
	for ns in "$LAB_C" "$LAB_G"; do
		printf '%s\t%s\n' 127.0.0.1 localhost ::1 localhost "$LAB_U4" "$LAB_NAMES" \
			"$LAB_U6" "$LAB_NAMES" "$LAB_UX4" untrusted.test "$LAB_UX6" untrusted.test \
			>"/etc/netns/$ns/hosts" || fail "writing /etc/netns/$ns/hosts"
	done

	lab_certs "$LAB_DIR/certs" || fail "making the upstream certificates"
	if [ "${LAB_UPSTREAM:-1}" = 1 ]; then
		lab_start_upstreams
	fi
	if [ -x "$SLUICE_CA" ]; then
		"$SLUICE_CA" init "$LAB_DIR/ica" >"$LAB_DIR/sluice-ca.log" 2>&1 ||
			fail "$SLUICE_CA init: $(cat "$LAB_DIR/sluice-ca.log")"
	fi
}

# lab_certs DIR: the upstream certificates (tests/lab/mkcerts.sh) in DIR.
# A dozen openssl runs cost more CPU than most tests do, so when
# LAB_CERT_CACHE names a directory (tests/run-tests makes one per run) the
# first lab makes them there, under a lock, and every lab copies them.
lab_certs() {
	local cache=${LAB_CERT_CACHE:-}
	set -- "$1" "IP:$LAB_U4" "IP:$LAB_U6" "IP:$LAB_UX4" "IP:$LAB_UX6"
	if [ -z "$cache" ]; then
		bash "$LAB_SRCDIR/tests/lab/mkcerts.sh" "$@"
		return
	fi
	# "made" is written last: once it is there, no lock is needed.
	[ -f "$cache/made" ] && { cp -a "$cache/certs" "$1"; return; }
	(
		flock 9 || exit 1
		[ -f "$cache/made" ] && exit 0
		rm -rf "$cache/certs"
		bash "$LAB_SRCDIR/tests/lab/mkcerts.sh" "$cache/certs" "${@:2}" &&
			: >"$cache/made"
	) 9>>"$cache/lock" && cp -a "$cache/certs" "$1"
}

# lab_netfilter ARGS: tools/sluice-netfilter ARGS in G.
lab_netfilter() {
	[ -x "$SLUICE_NETFILTER" ] || fail "no sluice-netfilter at $SLUICE_NETFILTER (build it first)"
	lab_in_g "$SLUICE_NETFILTER" "$@"
}

lab_redirect_on() {
	lab_netfilter up --lan "$LAB_IF_GL" --listen-port "$LAB_PROXY_PORT" \
		--listen-port6 "$LAB_PROXY_PORT6" || fail "sluice-netfilter up failed"
}

lab_redirect_off() {
	lab_netfilter down || fail "sluice-netfilter down failed"
}

# Background processes are started with "ip netns exec" itself, which execs
# its command, so $! is the process's own pid; a backgrounded shell function
# (lab_in_u ... &) would give the pid of a subshell instead.
# Each upstream logs every connection and request head it gets, one JSON
# object per line (upstream.py --request-log): $LAB_REQLOG for the trusted
# one, $LAB_REQLOG_X for the untrusted one.
lab_start_upstreams() {
	local py=$LAB_SRCDIR/tests/lab/upstream.py
	LAB_REQLOG=$LAB_DIR/requests.jsonl
	LAB_REQLOG_X=$LAB_DIR/requests-untrusted.jsonl
	: >"$LAB_REQLOG"
	: >"$LAB_REQLOG_X"
	ip netns exec "$LAB_U" "$LAB_PY" "$py" --certdir "$LAB_DIR/certs/trusted" \
		--listen "$LAB_U4:443" --listen "[$LAB_U6]:443" --request-log "$LAB_REQLOG" \
		>>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	ip netns exec "$LAB_U" "$LAB_PY" "$py" --certdir "$LAB_DIR/certs/untrusted" \
		--listen "$LAB_UX4:443" --listen "[$LAB_UX6]:443" --request-log "$LAB_REQLOG_X" \
		>>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" 443 4 || fail "the test upstreams did not start"
}

# lab_start_gateway_service: an upstream.py inside G itself, the kind of
# service a client must not reach through sluice, on 127.0.0.1:443,
# [::1]:443 and G's LAN addresses, with the trusted certificates; it logs
# to $LAB_REQLOG_G.
lab_start_gateway_service() {
	LAB_REQLOG_G=$LAB_DIR/requests-gateway.jsonl
	: >"$LAB_REQLOG_G"
	ip netns exec "$LAB_G" "$LAB_PY" "$LAB_SRCDIR/tests/lab/upstream.py" \
		--certdir "$LAB_DIR/certs/trusted" --listen 127.0.0.1:443 --listen "[::1]:443" \
		--listen "$LAB_GL4:443" --listen "[$LAB_GL6]:443" --request-log "$LAB_REQLOG_G" \
		>>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_G" 443 4 || fail "the gateway's own service did not start"
}

lab_down() {
	[ "$LAB_IS_UP" = 1 ] || return 0
	LAB_IS_UP=0
	local pid pids i
	if [ -n "$LAB_SLUICE_PID" ] && kill -0 "$LAB_SLUICE_PID" 2>/dev/null; then
		kill -TERM "$LAB_SLUICE_PID" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$LAB_SLUICE_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	for pid in "${LAB_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $LAB_SLUICE_PID "${LAB_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	# Anything else still inside our namespaces was started by this run.
	pids=$(ip -force -batch - 2>/dev/null <<-EOF
	netns pids $LAB_C
	netns pids $LAB_G
	netns pids $LAB_U
	EOF
	)
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	wait 2>/dev/null
	# Deleting a namespace deletes its veths and its iptables rules.
	ip -force -batch - 2>/dev/null <<-EOF
	netns del $LAB_C
	netns del $LAB_G
	netns del $LAB_U
	EOF
	if [ -n "$LAB_DIR" ] && [ "${LAB_KEEP:-0}" = 1 ]; then
		lab_log "lab: kept $LAB_DIR"
		rm -rf "/etc/netns/$LAB_C" "/etc/netns/$LAB_G"
	else
		rm -rf "/etc/netns/$LAB_C" "/etc/netns/$LAB_G" ${LAB_DIR:+"$LAB_DIR"}
	fi
}

# --- sluice ----------------------------------------------------------------

# Creates the rules database from rules/schema.sql so rules can be written
# before sluice starts (sluice would create the same one itself).
lab_rules_init() {
	[ -f "$LAB_DIR/rules.db" ] && return 0
	local schema=$LAB_SRCDIR/rules/schema.sql
	[ -f "$schema" ] || fail "no $schema"
	sqlite3 "$LAB_DIR/rules.db" < "$schema" || fail "loading $schema"
}

lab_rules_sql() {
	lab_rules_init
	sqlite3 -cmd '.timeout 5000' "$LAB_DIR/rules.db" "$@"
}

lab_audit_sql() {
	[ -f "$LAB_DIR/audit.db" ] || fail "no audit database at $LAB_DIR/audit.db"
	sqlite3 -cmd '.timeout 5000' "$LAB_DIR/audit.db" "$@"
}

# lab_sluice_audit ARGS: tools/sluice-audit on the lab's audit database,
# run outside the namespaces (it only reads the file).
lab_sluice_audit() {
	[ -x "$SLUICE_AUDIT_TOOL" ] || fail "no sluice-audit at $SLUICE_AUDIT_TOOL (build it first)"
	"$SLUICE_AUDIT_TOOL" --db "$LAB_DIR/audit.db" "$@"
}

# lab_audit_wait N [WHERE]: until the requests table has N rows (matching
# WHERE), for at most 5 s (the contract says 2); prints the count.
lab_audit_wait() {
	local want=$1 where=${2:-1} i n=
	for ((i = 0; i < 50; i++)); do
		if [ -f "$LAB_DIR/audit.db" ]; then
			n=$(sqlite3 -cmd '.timeout 5000' "$LAB_DIR/audit.db" \
				"SELECT count(*) FROM requests WHERE $where" 2>/dev/null)
			[ "$n" = "$want" ] && break
		fi
		sleep 0.1
	done
	printf '%s\n' "$n"
}

# lab_start_sluice [FLAGS...]: starts sluice in G with the lab's listeners,
# databases, CAs and FLAGS; returns once every listener accepts.
lab_start_sluice() {
	lab_require_sluice
	[ -f "$LAB_DIR/ica/ca.crt" ] || fail "no interception CA (sluice-ca init failed?)"
	[ -z "$LAB_SLUICE_PID" ] || fail "lab_start_sluice: sluice already running"
	lab_rules_init
	printf '+ sluice %s\n' "$*" >>"$LAB_DIR/sluice.log"
	ip netns exec "$LAB_G" "$SLUICE" \
		--listen "0.0.0.0:$LAB_PROXY_PORT" \
		--listen "[::]:$LAB_PROXY_PORT6" \
		--connect "0.0.0.0:$LAB_CONNECT_PORT" \
		--rules "$LAB_DIR/rules.db" --audit "$LAB_DIR/audit.db" \
		--ca-cert "$LAB_DIR/ica/ca.crt" --ca-key "$LAB_DIR/ica/ca.key" \
		--upstream-ca "$LAB_DIR/certs/ca.crt" \
		"$@" >>"$LAB_DIR/sluice.log" 2>&1 &
	LAB_SLUICE_PID=$!
	# All three listeners in one look each time: one ss per poll.
	local port i rc
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$LAB_SLUICE_PID" 2>/dev/null; then
			wait "$LAB_SLUICE_PID"
			rc=$?
			LAB_SLUICE_PID=
			fail "sluice exited with status $rc while starting"
		fi
		lab_listening "$LAB_G" "$LAB_PROXY_PORT,$LAB_PROXY_PORT6,$LAB_CONNECT_PORT" && break
		sleep 0.1
	done
	for port in "$LAB_PROXY_PORT" "$LAB_PROXY_PORT6" "$LAB_CONNECT_PORT"; do
		[ "$i" -lt 100 ] || lab_listening "$LAB_G" "$port" ||
			fail "sluice does not listen on port $port after 10 s"
	done
	[ "/proc/$LAB_SLUICE_PID/exe" -ef "$SLUICE" ] || fail "pid $LAB_SLUICE_PID is not $SLUICE"
}

# lab_stop_sluice [SECONDS]: SIGTERM, then fails unless sluice exits 0
# within SECONDS (default 15: the default drain timeout plus slack).
lab_stop_sluice() {
	local limit=${1:-15} i rc pid=$LAB_SLUICE_PID
	[ -n "$pid" ] || fail "lab_stop_sluice: sluice is not running"
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		LAB_SLUICE_PID=
		fail "sluice did not exit within ${limit}s of SIGTERM"
	fi
	wait "$pid"
	rc=$?
	LAB_SLUICE_PID=
	[ "$rc" = 0 ] || fail "sluice exited with status $rc after SIGTERM"
}

# Peak resident set of the running sluice, in KiB.
lab_sluice_hwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$LAB_SLUICE_PID/status"
}

# lab_assert_hwm_under MIB: the running sluice's peak resident set is under
# MIB MiB.  AddressSanitizer's shadow memory and quarantine make RSS say
# nothing about buffering there; the plain build's CI pass checks it.
# lab_sluice_asan: true if $SLUICE is an AddressSanitizer build, whose
# memory (shadow, quarantine) and CPU say nothing about sluice's own.
lab_sluice_asan() { ldd "$SLUICE" 2>/dev/null | grep -q libasan; }

lab_assert_hwm_under() {
	local hwm
	hwm=$(lab_sluice_hwm_kb)
	[ -n "$hwm" ] || fail "no VmHWM for sluice"
	echo "sluice peak RSS: $((hwm / 1024)) MiB"
	if lab_sluice_asan; then
		echo "AddressSanitizer build: peak RSS not checked"
	else
		[ "$hwm" -lt $(($1 * 1024)) ] || fail "sluice peak RSS is $((hwm / 1024)) MiB, over $1 MiB"
	fi
}

# --- clients ---------------------------------------------------------------

# lab_curl ARGS: curl in C, trusting the interception CA.  IPv4 unless ARGS
# say -6, so the audit's addresses are predictable (C knows both families).
# HTTP/1.1 unless ARGS say --http2 (or another version: curl takes the last),
# as curl offers h2 first and sluice serves it since issue 9.
lab_curl() {
	local fam=-4 a
	for a in "$@"; do
		[ "$a" = -6 ] && fam=
	done
	lab_in_c curl -sS $fam --http1.1 --cacert "$LAB_DIR/ica/ca.crt" \
		--max-time "${LAB_CURL_TIMEOUT:-30}" "$@"
}

# lab_h2raw ACTION...: tests/lab/h2raw.py in C, a raw HTTP/2 client of
# api.test (reset a stream, watch for GOAWAY); prints the frames it read.
lab_h2raw() {
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/h2raw.py" "$LAB_DIR/ica/ca.crt" api.test "$@"
}

# lab_gen N SEED: the bytes /bytes/N?seed=SEED serves, on stdout.
lab_gen() {
	"$LAB_PY" "$LAB_SRCDIR/tests/lab/upstream.py" --gen "$1" --seed "$2"
}

# lab_cert_of PEMFILE CURL_ARGS...: writes the leaf certificate the client
# was shown to PEMFILE and prints curl's status code.
lab_cert_of() {
	local pem=$1 out
	shift
	out=$(lab_curl -o /dev/null -w '%{http_code}\n%{certs}' "$@")
	printf '%s\n' "$out" | awk '/-----BEGIN CERTIFICATE-----/ { p = 1 }
		p { print } /-----END CERTIFICATE-----/ { exit }' >"$pem"
	printf '%s\n' "$out" | head -n 1
}

cert_subject() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
cert_issuer() { openssl x509 -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'; }
# Prints the subjectAltName entries, comma-separated, e.g. DNS:api.test
cert_san() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | tr -d ' \n'; }

# --- rate-limit helpers --------------------------------------------------

# A second client address in C (the same veth), for per-client limits: use
# it with curl --interface "$LAB_C4B" or lab_burst --from "$LAB_C4B".
LAB_C4B=10.77.1.3	LAB_C6B=fd00:77:1::3
lab_client2_up() {
	lab_in_c ip addr add "$LAB_C4B/24" dev "$LAB_IF_C" &&
	lab_in_c ip -6 addr add "$LAB_C6B/64" dev "$LAB_IF_C" nodad ||
		fail "adding the second client address"
}

# lab_upstream_hits [PATH-PREFIX]: how many request heads the trusted
# upstream received (whose path starts with PATH-PREFIX).
lab_upstream_hits() {
	"$LAB_PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("event") == "request" and d.get("path", "").startswith(sys.argv[2]):
        n += 1
print(n)' "$LAB_REQLOG" "${1:-}"
}

# lab_burst [--from ADDR] [-6] N URL: from C, opens N TLS connections to
# URL's host (port 443, so through the REDIRECT; trusting the interception
# CA), and once every handshake is done sends one GET URL on each at the
# same moment ("Connection: close").  Prints one line per request, in
# connection order: "STATUS SENT_MS DONE_MS", the times in milliseconds
# since the release (STATUS 000 and an error message when it failed).
lab_burst() {
	local from= fam=4
	while :; do
		case $1 in
		--from) from=$2; shift 2 ;;
		-6) fam=6; shift ;;
		*) break ;;
		esac
	done
	lab_in_c "$LAB_PY" -c '
import socket, ssl, sys, threading, time, urllib.parse
n, url, cafile, src, fam = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
u = urllib.parse.urlsplit(url)
host, port = u.hostname, u.port or 443
target = (u.path or "/") + ("?" + u.query if u.query else "")
family = socket.AF_INET6 if fam == "6" else socket.AF_INET
addr = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
ctx = ssl.create_default_context(cafile=cafile)
conns, errs, results = [None] * n, [None] * n, [None] * n
go = threading.Event()

def connect(i):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(30)
        if src:
            s.bind((src, 0))
        s.connect(addr)
        conns[i] = ctx.wrap_socket(s, server_hostname=host)
    except Exception as e:
        errs[i] = "connect: %s" % e

def exchange(i):
    c = conns[i]
    go.wait()
    t0 = time.monotonic()
    try:
        c.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lab-burst\r\n"
                   "Connection: close\r\n\r\n" % (target, host)).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            b = c.recv(65536)
            if not b:
                raise ConnectionError("eof in the response head")
            data += b
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = None
        for l in lines[1:]:
            k, _, v = l.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        while length is None or len(body) < length:
            b = c.recv(65536)
            if not b:
                if length is None:
                    break
                raise ConnectionError("eof in the response body")
            body += b
        results[i] = (status, t0, time.monotonic(), None)
    except Exception as e:
        results[i] = (0, t0, time.monotonic(), str(e))
    finally:
        c.close()

# Handshakes ten at a time, so a loaded gateway is not asked for all at once.
for lo in range(0, n, 10):
    ts = [threading.Thread(target=connect, args=(i,)) for i in range(lo, min(n, lo + 10))]
    for t in ts: t.start()
    for t in ts: t.join()
ts = [threading.Thread(target=exchange, args=(i,)) for i in range(n) if conns[i]]
for t in ts: t.start()
time.sleep(0.05)
release = time.monotonic()
go.set()
for t in ts: t.join()
for i in range(n):
    if errs[i]:
        print("000 -1 -1 %s" % errs[i])
    else:
        st, t0, t1, err = results[i]
        print("%03d %d %d%s" % (st, round((t0 - release) * 1000),
                                round((t1 - release) * 1000), " " + err if err else ""))
' "$1" "$2" "$LAB_DIR/ica/ca.crt" "$from" "$fam"
}

# lab_codes: the status column of lab_burst's (or curl -w '%{http_code}\n')
# output on stdin, counted: "200 20", "429 80", ... sorted by status.
lab_codes() { awk '{ n[$1]++ } END { for (c in n) print c, n[c] }' | sort; }

# --- HTTP/2 conformance and abuse (tests/integration/33*) --------------------

# lab_h2tool TOOL ARGS: tests/lab/TOOL.py (h2conform or h2abuse) ARGS in C,
# against api.test through the REDIRECT, trusting the interception CA.
lab_h2tool() {
	local tool=$1
	shift
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/$tool.py" "$@" --host "$LAB_U4" --port 443 \
		--sni api.test --ca "$LAB_DIR/ica/ca.crt"
}

# lab_sluice_cpu_ms: the user and system CPU time sluice has used, in ms.
lab_sluice_cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' \
		"/proc/$LAB_SLUICE_PID/stat"
}

# lab_h2abuse_up: root, sluice, lab_up, the second client address, sluice
# allowing everything, and a skip unless it speaks h2 to clients.
lab_h2abuse_up() {
	lab_require_root
	lab_require_sluice
	lab_up
	lab_client2_up
	lab_start_sluice --default-policy allow
	lab_require_h2
}

# lab_h2abuse_bounded MODE MAX_CPU_MS MAX_RSS_KB ARGS...: runs h2abuse.py
# MODE ARGS from C while a second client ($LAB_C4B, lab_client2_up) GETs
# /echo over HTTP/2 every 0.2 s and once after; fails unless each of those
# got a 200 within 5 s, sluice used at most MAX_CPU_MS of CPU meanwhile and
# its peak RSS ended at most MAX_RSS_KB above its RSS before.  Prints
# h2abuse's JSON line; logs the figures to stderr.
lab_h2abuse_bounded() {
	local mode=$1 max_cpu=$2 max_rss=$3 cpu0 rss0 cpu rss pid n=0 code
	shift 3
	cpu0=$(lab_sluice_cpu_ms)
	rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$LAB_SLUICE_PID/status")
	lab_h2tool h2abuse "$mode" "$@" >"$LAB_DIR/abuse.json" 2>"$LAB_DIR/abuse.err" &
	pid=$!
	while :; do
		code=$(LAB_CURL_TIMEOUT=5 lab_curl --http2 --interface "$LAB_C4B" -o /dev/null \
			-w '%{http_code}' "https://api.test/echo?other=$n")
		assert_eq 200 "$code" "another client's request $n during h2abuse.py $mode"
		n=$((n + 1))
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	wait "$pid" || fail "h2abuse.py $mode failed: $(cat "$LAB_DIR/abuse.err")"
	code=$(lab_curl --http2 --interface "$LAB_C4B" -o /dev/null -w '%{http_code}' \
		"https://api.test/echo?other=after")
	assert_eq 200 "$code" "another client's request after h2abuse.py $mode"
	cpu=$(($(lab_sluice_cpu_ms) - cpu0))
	rss=$(($(lab_sluice_hwm_kb) - rss0))
	lab_log "h2abuse $mode: sluice cpu ${cpu} ms, peak rss +${rss} KiB," \
		"other client $((n + 1)) requests; $(cat "$LAB_DIR/abuse.json")"
	if lab_sluice_asan; then
		lab_log "AddressSanitizer build: CPU and peak RSS not checked"
	else
		[ "$cpu" -le "$max_cpu" ] ||
			fail "sluice used ${cpu} ms of CPU during h2abuse.py $mode (at most $max_cpu)"
		[ "$rss" -le "$max_rss" ] ||
			fail "sluice's peak RSS grew ${rss} KiB during h2abuse.py $mode (at most $max_rss)"
	fi
	cat "$LAB_DIR/abuse.json"
}

# lab_raw REQUEST [SECONDS]: sends one raw request over TLS to api.test's IPv4 address (SNI api.test,
# trusting the interception CA) and prints the status code, then "closed" if sluice closed the
# connection within SECONDS (default 5) of sending.
lab_raw() {
	lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" "$1" "$LAB_U4" "${2:-5}" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
raw = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = ctx.wrap_socket(socket.create_connection((sys.argv[3], 443), timeout=10),
                    server_hostname="api.test")
s.sendall(raw)
data = b""
closed = False
deadline = time.time() + float(sys.argv[4])
s.settimeout(1)
while time.time() < deadline:
    try:
        b = s.recv(65536)
    except socket.timeout:
        continue
    except (ssl.SSLError, ConnectionError):
        closed = True
        break
    if not b:
        closed = True
        break
    data += b
line = data.split(b"\r\n", 1)[0].decode("latin-1")
print(line.split(" ")[1] if line.startswith("HTTP/1.") else "no-status:" + repr(data[:80]))
print("closed" if closed else "open")
PY
}

# lab_py_post PATH FILE: POSTs FILE to https://api.test/PATH from C with Python's http.client,
# which writes the whole body before it reads the answer (as requests and urllib do); prints
# the status and the answer's body, or "error: TYPE: WHY" when the answer never arrived.
lab_py_post() {
	lab_in_c "$LAB_PY" - "$LAB_DIR/ica/ca.crt" "$1" "$2" <<'PY'
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("api.test", 443, context=ctx, timeout=30)
try:
    with open(sys.argv[3], "rb") as f:
        c.request("POST", sys.argv[2], body=f.read())
    r = c.getresponse()
    print(r.status, r.read().decode("latin-1").strip())
except Exception as e:
    print("error: %s: %s" % (type(e).__name__, e))
PY
}

# --- cache helpers -----------------------------------------------------------

# lab_cache_up [SQL]: root, sluice, lab_up, then rule 1 (allow api.test /cache/*, cached 60 s) plus SQL.
lab_cache_up() {
	lab_require_root
	lab_require_sluice
	lab_up
	lab_rules_sql "
	INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/cache/*', 'allow');
	INSERT INTO cache_policies (rule_id, ttl_seconds) VALUES (1, 60);${1:-}" ||
		fail "inserting the rules"
}

# lab_get NAME CURL-ARGS...: head to $LAB_DIR/NAME.head, body to NAME.body; prints the status.
lab_get() {
	local n=$1
	shift
	lab_curl -D "$LAB_DIR/$n.head" -o "$LAB_DIR/$n.body" -w '%{http_code}' "$@" ||
		fail "curl $* failed"
}

# lab_hval NAME FIELD: the first FIELD of response NAME (as saved by lab_get).
lab_hval() { tr -d '\r' <"$LAB_DIR/$1.head" | grep -i -m1 "^$2:" | sed 's/^[^:]*: *//; s/ *$//'; }

# lab_bn NAME: the upstream's request counter for the target in response NAME's body.
lab_bn() { lab_json "$(cat "$LAB_DIR/$1.body")" 'd["n"]'; }

# lab_assert_cs NAME EXPECTED WHAT: response NAME's Cache-Status is EXPECTED (further parameters allowed).
lab_assert_cs() {
	local v
	v=$(lab_hval "$1" Cache-Status)
	case $v in
	"$2" | "$2;"*) ;;
	*) fail "$3: Cache-Status '$v', expected '$2'" ;;
	esac
}

# lab_uhits TARGET: how many requests the trusted upstream got for exactly TARGET.
lab_uhits() {
	"$LAB_PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    n += d.get("event") == "request" and d.get("path") == sys.argv[2]
print(n)' "$LAB_REQLOG" "$1"
}

# lab_uhdr TARGET N FIELD: FIELD of the Nth request the trusted upstream got for TARGET.
lab_uhdr() {
	"$LAB_PY" -c '
import json, sys
reqs = [d for d in map(json.loads, open(sys.argv[1], encoding="utf-8"))
        if d.get("event") == "request" and d.get("path") == sys.argv[2]]
if len(reqs) >= int(sys.argv[3]):
    for k, v in reqs[int(sys.argv[3]) - 1]["headers"]:
        if k.lower() == sys.argv[4].lower():
            print(v)' "$LAB_REQLOG" "$1" "$2" "$3"
}

# --- raw origin (framing tests) -----------------------------------------------

# lab_start_rawup: starts tests/lab/rawup.py in U on $LAB_U4:4443 with api.test's
# certificate, logging to $LAB_RAWLOG; start sluice with
# --resolve "api.test:443:$LAB_U4:4443" to send api.test there.
LAB_RAWLOG=
lab_start_rawup() {
	LAB_RAWLOG=$LAB_DIR/raw.jsonl
	lab_start_in_u rawup.py api.test 4443 "$LAB_RAWLOG"
}

# lab_start_in_u SCRIPT CERT PORT LOG: tests/lab/SCRIPT in U on $LAB_U4:PORT
# with the trusted certificate CERT (a lab name, or default for all of
# them), logging to LOG (emptied first); returns once it listens.
lab_start_in_u() {
	: >"$4"
	ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/$1" \
		--cert "$LAB_DIR/certs/trusted/$2.crt" --key "$LAB_DIR/certs/trusted/$2.key" \
		--listen "$LAB_U4:$3" --log "$4" >>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" "$3" || fail "$1 did not start"
}

# --- WebSocket (tests/integration/35*) ------------------------------------------

# lab_start_wsecho: tests/lab/wsecho.py, a WebSocket echo origin, in U on
# $LAB_U4:$LAB_WS_PORT with the trusted default certificate (every lab
# name), logging each request head and each closed WebSocket to
# $LAB_WSLOG; start sluice with --resolve "api.test:443:$LAB_U4:$LAB_WS_PORT".
LAB_WS_PORT=4444
LAB_WSLOG=
lab_start_wsecho() {
	LAB_WSLOG=$LAB_DIR/ws.jsonl
	lab_start_in_u wsecho.py default "$LAB_WS_PORT" "$LAB_WSLOG"
}

# lab_wsecho_up [FLAGS...]: root, sluice, lab_up, wsecho.py, then sluice with
# --default-policy allow, FLAGS and api.test resolved to wsecho.py.
lab_wsecho_up() {
	lab_require_root
	lab_require_sluice
	lab_up
	lab_start_wsecho
	lab_start_sluice --default-policy allow --resolve "api.test:443:$LAB_U4:$LAB_WS_PORT" "$@"
}

# lab_wsecho_inject_up SECRET: root, sluice, lab_up, wsecho.py, then sluice
# (--default-policy deny, --verbose) with rule 1 allowing api.test /ws* and
# injecting SECRET as a bearer token.
lab_wsecho_inject_up() {
	lab_require_root
	lab_require_sluice
	lab_up
	lab_start_wsecho
	lab_rules_sql "
		INSERT INTO secrets (name, value) VALUES ('wstok', '$1');
		INSERT INTO rules (id, host, path, action) VALUES (1, 'api.test', '/ws*', 'allow');
		INSERT INTO injections (rule_id, kind, name, secret) VALUES (1, 'bearer', NULL, 'wstok');" ||
		fail "inserting the rules"
	lab_start_sluice --default-policy deny --verbose --resolve "api.test:443:$LAB_U4:$LAB_WS_PORT"
}

# lab_assert_no_secret SECRET: SECRET is in none of the audit database's
# files, its dump, or sluice's log.
lab_assert_no_secret() {
	local f
	lab_audit_sql .dump >"$LAB_DIR/dump.sql" || fail "dumping the audit database"
	for f in "$LAB_DIR"/audit.db* "$LAB_DIR/dump.sql" "$LAB_DIR/sluice.log"; do
		[ -f "$f" ] || continue
		grep -a -q -F -- "$1" "$f" && fail "the secret is in ${f#"$LAB_DIR"/}"
	done
	return 0
}

# lab_ws ARGS...: tests/lab/wsclient.py in C, a WebSocket client of api.test
# through sluice (--h2 for RFC 8441 over HTTP/2, --path, --header, --hold,
# --no-close, --reset, messages); prints its JSON lines, one per WebSocket.
lab_ws() {
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/wsclient.py" --ca "$LAB_DIR/ica/ca.crt" \
		--host api.test --addr "$LAB_U4" "$@" || fail "wsclient.py $* failed"
}

# --- gRPC (issue 9) ------------------------------------------------------------

# lab_start_grpc: starts tests/lab/grpc_upstream.py in U on
# $LAB_U4:$LAB_GRPC_PORT with the trusted default certificate (every lab
# name), logging every call to $LAB_GRPC_LOG; start sluice with --resolve
# "NAME:443:$LAB_U4:$LAB_GRPC_PORT" to send NAME there.
LAB_GRPC_PORT=50051
LAB_GRPC_LOG=
lab_start_grpc() {
	LAB_GRPC_LOG=$LAB_DIR/grpc.jsonl
	lab_start_in_u grpc_upstream.py default "$LAB_GRPC_PORT" "$LAB_GRPC_LOG"
}

# lab_grpc NAME CAFILE METHOD [ARGS...]: one call of tests/lab/grpc_client.py
# from C to NAME:443, trusting CAFILE; prints its lines ("status NAME",
# "reply ...", "trailer K=V").
lab_grpc() {
	local name=$1 ca=$2
	shift 2
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/grpc_client.py" \
		--target "$name:443" --ca "$ca" "$@" || fail "grpc_client.py $* did not run"
}

# lab_grpc_calls EXPR: for each call grpc_upstream.py logged, d = {"method",
# "metadata": [[k, v], ...]}, prints EXPR when it is not None.
lab_grpc_calls() { lab_jsonl "$LAB_GRPC_LOG" "$1"; }

# lab_require_h2: fails unless sluice offers h2 to a client that offers
# both h2 and http/1.1 (a handshake only, so no request row is audited).
lab_require_h2() {
	local alpn
	alpn=$(lab_in_c timeout 10 openssl s_client -connect api.test:443 -servername api.test \
		-alpn h2,http/1.1 </dev/null 2>/dev/null | sed -n 's/^ALPN protocol: //p')
	[ "$alpn" = h2 ] || fail "sluice does not offer h2 to clients (ALPN: ${alpn:-none})"
}

# lab_require_h2_upstream: skips unless sluice speaks h2 to an upstream that
# speaks nothing else: one GET https://pinned.test/ through sluice to nghttpd
# (started here on $LAB_U4:$LAB_H2_PROBE_PORT; sluice must run with
# --resolve "pinned.test:443:$LAB_U4:$LAB_H2_PROBE_PORT" and allow
# pinned.test), whose audit row must say upstream_proto 'h2'.  That row has
# host pinned.test: tests count theirs by host.
LAB_H2_PROBE_PORT=50052
lab_require_h2_upstream() {
	local proto
	ip netns exec "$LAB_U" nghttpd -a "$LAB_U4" -d "$LAB_DIR" "$LAB_H2_PROBE_PORT" \
		"$LAB_DIR/certs/trusted/default.key" "$LAB_DIR/certs/trusted/default.crt" \
		>>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" "$LAB_H2_PROBE_PORT" || fail "nghttpd did not start"
	lab_curl --http2 -o /dev/null https://pinned.test/ 2>/dev/null
	[ "$(lab_audit_wait 1 "host = 'pinned.test'")" = 1 ] || fail "no audit row for the h2 upstream probe"
	proto=$(lab_audit_sql "SELECT quote(upstream_proto) FROM requests WHERE host = 'pinned.test'")
	[ "$proto" = "'h2'" ] || skip "sluice does not speak h2 to an h2-only upstream (upstream_proto $proto)"
}

# lab_start_nghttpd PORT [NGHTTPD_FLAGS...]: nghttpd, an upstream that speaks
# only h2, in U on $LAB_U4:PORT, serving $LAB_DIR/h2docs (made here: put
# files there), every frame logged (-v) to $LAB_NGHTTPD_LOG, its pid in
# LAB_NGHTTPD_PID; start sluice with --resolve "pinned.test:443:$LAB_U4:PORT"
# to reach it as pinned.test.
LAB_NGHTTPD_LOG=
LAB_NGHTTPD_PID=
lab_start_nghttpd() {
	local port=$1
	shift
	command -v nghttpd >/dev/null || fail "no nghttpd (Debian's nghttp2-server)"
	LAB_NGHTTPD_LOG=$LAB_DIR/nghttpd.log
	mkdir -p "$LAB_DIR/h2docs"
	ip netns exec "$LAB_U" nghttpd -v -a "$LAB_U4" -d "$LAB_DIR/h2docs" "$@" "$port" \
		"$LAB_DIR/certs/trusted/default.key" "$LAB_DIR/certs/trusted/default.crt" \
		>>"$LAB_NGHTTPD_LOG" 2>&1 &
	LAB_NGHTTPD_PID=$!
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" "$port" || fail "nghttpd did not start"
}

# lab_start_h2cache PORT: tests/lab/h2cache.py, an h2-only origin for cache
# tests (cache-control, etag, 304), in U on $LAB_U4:PORT with the trusted
# default certificate, logging connections and request heads to
# $LAB_H2CACHE_LOG; start sluice with --resolve "api.test:443:$LAB_U4:PORT".
LAB_H2CACHE_LOG=
lab_start_h2cache() {
	LAB_H2CACHE_LOG=$LAB_DIR/h2cache.jsonl
	lab_start_in_u h2cache.py default "$1" "$LAB_H2CACHE_LOG"
}

# lab_h2cache_req TARGET N EXPR: for the Nth request h2cache.py got for
# TARGET, with h its head as a dict (names lowercase), prints EXPR; with
# N 0, prints how many it got.
lab_h2cache_req() {
	"$LAB_PY" -c '
import json, sys
reqs = [d for d in map(json.loads, open(sys.argv[1], encoding="utf-8"))
        if d["event"] == "request" and d["path"] == sys.argv[2]]
n = int(sys.argv[3])
if n == 0:
    print(len(reqs))
elif len(reqs) >= n:
    h = dict(reqs[n - 1]["headers"])
    print(eval(sys.argv[4]))' "$LAB_H2CACHE_LOG" "$1" "$2" "${3:-}"
}

# lab_nghttpd_conns: the connections nghttpd accepted (each session's frames
# are logged as "[id=N] ...").
lab_nghttpd_conns() {
	grep -o '^\[id=[0-9]*\]' "$LAB_NGHTTPD_LOG" | sort -u | wc -l
}

# lab_grpc_up SQL [FLAGS...]: root, sluice, lab_up, grpc_upstream.py, the
# rules SQL ("" for none) and a rule allowing pinned.test (the h2 probe's
# name), then sluice with FLAGS and api.test resolved to grpc_upstream.py;
# skips while sluice does not speak HTTP/2 to clients or to h2-only
# upstreams (grpc_upstream.py is one).
lab_grpc_up() {
	local sql=$1
	shift
	lab_require_root
	lab_require_sluice
	lab_up
	lab_start_grpc
	lab_rules_sql "INSERT INTO rules (id, priority, host, action) VALUES
		(900, 1, 'pinned.test', 'allow'); $sql" || fail "inserting the rules"
	lab_start_sluice --resolve "api.test:443:$LAB_U4:$LAB_GRPC_PORT" \
		--resolve "pinned.test:443:$LAB_U4:$LAB_H2_PROBE_PORT" "$@"
	lab_require_h2
	lab_require_h2_upstream
}

# --- raw TCP ends (passthrough tunnels) -----------------------------------------

# lab_start_rawtcp ARGS...: starts tests/lab/rawtcp.py serve in U on $LAB_U4:4443
# with ARGS (--send N, --shut-first), one JSON line per connection to
# $LAB_RAWTCP_LOG; start sluice with --resolve "pinned.test:443:$LAB_U4:4443"
# and a passthrough rule for pinned.test to tunnel there.
LAB_RAWTCP_LOG=
lab_start_rawtcp() {
	LAB_RAWTCP_LOG=$LAB_DIR/rawtcp.jsonl
	: >"$LAB_RAWTCP_LOG"
	ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/rawtcp.py" serve \
		--listen "$LAB_U4:4443" --log "$LAB_RAWTCP_LOG" "$@" >>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" 4443 || fail "rawtcp.py did not start"
}

# lab_rawtcp_client ARGS...: from C, a raw TCP tunnel to pinned.test through
# sluice (rawtcp.py client: a ClientHello, then --send N bytes; --expect M,
# --shut-first); prints its JSON line.
lab_rawtcp_client() {
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/rawtcp.py" client \
		--to "$LAB_U4:443" --sni pinned.test "$@"
}

# lab_rawtcp_conn EXPR: EXPR of the server's first connection's line d.
lab_rawtcp_conn() {
	lab_json "$(head -n 1 "$LAB_RAWTCP_LOG")" "$1"
}

# lab_jsonl FILE EXPR: for each line d (a dict) of a JSON-lines log, prints
# EXPR when it is not None.
lab_jsonl() {
	"$LAB_PY" -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    v = eval(sys.argv[2])
    if v is not None:
        print(v)' "$1" "$2"
}

# lab_rawlog EXPR: for each rawup.py log event d (a dict), prints EXPR when it
# is not None, e.g. lab_rawlog 'd["path"] if d["event"] == "request" else None'.
lab_rawlog() { lab_jsonl "$LAB_RAWLOG" "$1"; }

# lab_rawup_up [FLAGS...]: root, sluice, lab_up, rawup.py, then sluice with
# FLAGS, --default-policy allow and api.test resolved to rawup.py.
lab_rawup_up() {
	lab_require_root
	lab_require_sluice
	lab_up
	lab_start_rawup
	lab_start_sluice --default-policy allow --resolve "api.test:443:$LAB_U4:4443" "$@"
}

# lab_rawup_send REQUEST WHAT: sends the first REQUEST (lab_raw) to the origin
# lab_start_rawup started, expects a 200 and one audit row, and sets LAB_WIRE
# to the body the origin got as framed (a Python repr: chunk lines, trailers).
LAB_WIRE=
lab_rawup_send() {
	local out
	out=$(lab_raw "$1" 2) || fail "raw client failed for $2"
	assert_eq 200 "$(head -n 1 <<<"$out")" "status of $2"
	assert_eq 1 "$(lab_audit_wait 1)" "audit rows after $2"
	LAB_WIRE=$(lab_rawlog 'repr(d["wire"]) if d["event"] == "request" else None')
}

# lab_connect_answer HOST:PORT: from C, sends "CONNECT HOST:PORT" to sluice's
# CONNECT listener and prints the status line of the answer, then its body
# (for refusals, which sluice answers and closes).
lab_connect_answer() {
	lab_in_c "$LAB_PY" - "$LAB_GL4" "$LAB_CONNECT_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % ((sys.argv[3].encode(),) * 2))
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode())
print(body.decode().strip())
PY
}

# lab_load SECONDS CLIENTS [PATH]: from C, CLIENTS threads send GET PATH
# (default /echo) to api.test over keep-alive connections (20 requests
# each) for SECONDS; prints "REQUESTS CONNECTIONS ERRORS": the requests that
# got a whole response, the connections opened, and the requests that did
# not (sluice audits those too, so audit totals compare with
# REQUESTS + ERRORS).
lab_load() {
	lab_in_c "$LAB_PY" - "$1" "$2" "${3:-/echo}" "$LAB_DIR/ica/ca.crt" <<'PY'
import http.client, ssl, sys, threading, time
secs, n, path, cafile = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
end = time.monotonic() + secs
lock = threading.Lock()
tot = {"req": 0, "conn": 0, "err": 0}

def client():
    while time.monotonic() < end:
        c = http.client.HTTPSConnection("api.test", 443, context=ctx, timeout=60)
        with lock:
            tot["conn"] += 1
        try:
            for _ in range(20):
                if time.monotonic() >= end:
                    break
                c.request("GET", path)
                c.getresponse().read()
                with lock:
                    tot["req"] += 1
        except Exception:
            with lock:
                tot["err"] += 1
        finally:
            c.close()

ts = [threading.Thread(target=client) for _ in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print(tot["req"], tot["conn"], tot["err"])
PY
}

# --- a fleet: two gateways sharing one rules database -----------------------
#
# Gateway 1 is lab_start_sluice's sluice (rules $LAB_DIR/rules.db, CONNECT
# listener $LAB_GL4:$LAB_CONNECT_PORT, admin $LAB_ADMIN1); gateway 2 is a
# second sluice in G (rules $LAB_DIR/gw2/rules.db, CONNECT listener
# $LAB_GL4:$LAB_CONNECT_PORT2, admin $LAB_ADMIN2, no transparent listener
# that the REDIRECT rules reach).  Clients use each through its CONNECT
# listener.  The master database is $LAB_DIR/master.db.

SLUICE_RULES_TOOL=${SLUICE_RULES_TOOL:-$LAB_SRCDIR/tools/sluice-rules}
LAB_CONNECT_PORT2=3129
LAB_ADMIN1=127.0.0.1:9191
LAB_ADMIN2=127.0.0.1:9192

# lab_sluice_rules ARGS: tools/sluice-rules, run in G (where the admin
# listeners are).
lab_sluice_rules() {
	[ -x "$SLUICE_RULES_TOOL" ] || fail "no sluice-rules at $SLUICE_RULES_TOOL (build it first)"
	lab_in_g "$SLUICE_RULES_TOOL" "$@"
}

# lab_master_sql SQL: sqlite3 on the master, made from rules/schema.sql.
lab_master_sql() {
	if [ ! -f "$LAB_DIR/master.db" ]; then
		sqlite3 "$LAB_DIR/master.db" <"$LAB_SRCDIR/rules/schema.sql" ||
			fail "making the master database"
	fi
	sqlite3 -cmd '.timeout 5000' "$LAB_DIR/master.db" "$@"
}

# lab_start_fleet [FLAGS...]: both gateways, each with FLAGS and its admin
# listener; returns once both accept.
lab_start_fleet() {
	mkdir -p "$LAB_DIR/gw2"
	lab_start_sluice --admin "$LAB_ADMIN1" "$@"
	ip netns exec "$LAB_G" "$SLUICE" --listen "127.0.0.1:8445" \
		--connect "0.0.0.0:$LAB_CONNECT_PORT2" --admin "$LAB_ADMIN2" \
		--rules "$LAB_DIR/gw2/rules.db" --audit "$LAB_DIR/gw2/audit.db" \
		--ca-cert "$LAB_DIR/ica/ca.crt" --ca-key "$LAB_DIR/ica/ca.key" \
		--upstream-ca "$LAB_DIR/certs/ca.crt" \
		"$@" >>"$LAB_DIR/gw2/sluice.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_G" "$LAB_CONNECT_PORT2" || fail "gateway 2 did not start"
}

# lab_fleet_drive SECONDS OUT PATH: in the background, GET https://api.test
# PATH for SECONDS, a new connection each time, through gateway 1 and 2 in
# turn; one line per request in OUT: "EPOCH_MS GATEWAY STATUS [ERROR]",
# STATUS 000 when the request failed.  Returns at once; the driver's pid
# is in LAB_DRIVE_PID.
lab_fleet_drive() {
	ip netns exec "$LAB_C" "$LAB_PY" - "$1" "$2" "$3" "$LAB_DIR/ica/ca.crt" \
		"$LAB_GL4" "$LAB_CONNECT_PORT" "$LAB_CONNECT_PORT2" <<'PY' &
import http.client, ssl, sys, time
secs, out, path, cafile, gw = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ports = [int(sys.argv[6]), int(sys.argv[7])]
ctx = ssl.create_default_context(cafile=cafile)
end = time.time() + secs
i = 0
with open(out + ".tmp", "w", buffering=1) as f:
    while time.time() < end:
        n, i = i % 2, i + 1
        t0 = time.time()
        err = ""
        try:
            c = http.client.HTTPSConnection(gw, ports[n], context=ctx, timeout=10)
            c.set_tunnel("api.test", 443)
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse()
            r.read()
            status = r.status
            c.close()
        except Exception as e:
            status, err = 0, " " + repr(e)
        f.write("%d %d %03d%s\n" % (t0 * 1000, n + 1, status, err))
import os
os.rename(out + ".tmp", out)
PY
	LAB_DRIVE_PID=$!
	LAB_PIDS+=($!)
}

# lab_drive_wait OUT: until the driver is done (OUT exists).
lab_drive_wait() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -f "$1" ] && return 0
		sleep 0.1
	done
	fail "the traffic driver did not finish"
}

# --- metrics helpers -------------------------------------------------------

# lab_metrics ADDR: one scrape of http://ADDR/metrics (from G) into
# $LAB_DIR/metrics; fails unless it answers 200.
lab_metrics() {
	local code
	code=$(lab_in_g curl -sS --max-time 10 -o "$LAB_DIR/metrics" -w '%{http_code}' \
		"http://$1/metrics") || fail "scraping http://$1/metrics failed"
	[ "$code" = 200 ] || fail "/metrics answered $code"
}

# lab_metric SERIES: the value of SERIES (name and labels, exactly as
# written, e.g. 'sluice_requests_total{decision="denied"}') in the last
# lab_metrics scrape; fails if it is missing.
lab_metric() {
	local v
	v=$(awk -v k="$1" '$1 == k { print $2 }' "$LAB_DIR/metrics")
	[ -n "$v" ] || fail "no $1 in /metrics"
	printf '%s\n' "$v"
}

# lab_metrics_mark ADDR: scrape and keep it as the mark lab_metric_delta
# counts from.
lab_metrics_mark() {
	lab_metrics "$1"
	cp "$LAB_DIR/metrics" "$LAB_DIR/metrics.mark"
}

# lab_metric_delta SERIES: its value in the last scrape minus the mark's.
lab_metric_delta() {
	local now was
	now=$(lab_metric "$1") || exit 1
	was=$(awk -v k="$1" '$1 == k { print $2 }' "$LAB_DIR/metrics.mark")
	[ -n "$was" ] || fail "no $1 in the marked /metrics"
	"$LAB_PY" -c 'import sys; d = float(sys.argv[1]) - float(sys.argv[2]); print(int(d) if d == int(d) else d)' "$now" "$was"
}

# --- log helpers -------------------------------------------------------------

# lab_log_events [FILE]: sluice's log (default $LAB_DIR/sluice.log) parsed
# strictly as logfmt, one JSON object per line on stdout (the lab's own
# "+ sluice ..." lines left out); fails on a line that does not parse or
# repeats a key.
lab_log_events() {
	"$LAB_PY" - "${1:-$LAB_DIR/sluice.log}" <<'PY' || fail "sluice's log is not logfmt"
import json, re, sys
pair = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\["\\nrt]|\\x[0-9a-f]{2})*"|[^\s"=]+)( |$)')
unesc = {'"': '"', '\\': '\\', 'n': '\n', 'r': '\r', 't': '\t'}
for n, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    line = line.rstrip("\n")
    if line.startswith("+ sluice "):
        continue
    d, pos = {}, 0
    while pos < len(line):
        m = pair.match(line, pos)
        if not m:
            sys.exit("line %d does not parse at %d: %r" % (n, pos, line))
        k, v = m.group(1), m.group(2)
        if v.startswith('"'):
            v = re.sub(r'\\(x[0-9a-f]{2}|.)', lambda e: chr(int(e.group(1)[1:], 16))
                       if e.group(1)[0] == "x" and len(e.group(1)) == 3 else unesc[e.group(1)], v[1:-1])
        if k in d:
            sys.exit("line %d repeats %s: %r" % (n, k, line))
        d[k] = v
        pos = m.end()
    print(json.dumps(d))
PY
}

# --- WebSocket under rules (tests/integration/36*) ------------------------------

# lab_wsecho_rules_up SQL [FLAGS...]: root, sluice, lab_up, wsecho.py, the
# rules SQL, then sluice with --default-policy deny, FLAGS and api.test
# resolved to wsecho.py.
lab_wsecho_rules_up() {
	lab_require_root
	lab_require_sluice
	lab_up
	lab_start_wsecho
	lab_rules_sql "$1" || fail "inserting the rules"
	shift
	lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:$LAB_WS_PORT" "$@"
}

# lab_ws_injected SECRET [--h2]: a WebSocket on /ws/chat (an extended
# CONNECT with --h2) through sluice as lab_wsecho_inject_up SECRET started
# it: "ping" echoes, the origin got the handshake with "Authorization:
# Bearer SECRET", the audit row is written; then sluice is stopped.
lab_ws_injected() {
	local secret=$1 out status=101
	shift
	[ "${1:-}" = --h2 ] && status=200
	out=$(lab_ws "$@" --path /ws/chat ping)
	assert_eq "$status [\"ping\"]" "$(lab_json "$out" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
		"status and echo with an injected bearer"
	assert_eq "/ws/chat Bearer $secret" \
		"$(lab_jsonl "$LAB_WSLOG" '" ".join([d["path"]] + [v for k, v in d["headers"] if k.lower() == "authorization"]) if d["event"] == "request" else None')" \
		"the handshake and its Authorization as the origin got them"
	assert_eq 1 "$(lab_audit_wait 1)" "audit rows"
	lab_stop_sluice
}

# lab_ws_shutdown [--h2]: SIGTERM to sluice (started with --drain-timeout
# 1) while a WebSocket (an extended CONNECT with --h2) that sent "one" and
# "two" is held open; once sluice exited, the client's JSON line is in
# $LAB_DIR/ws.out and must show both echoes.
lab_ws_shutdown() {
	local pid status=101
	[ "${1:-}" = --h2 ] && status=200
	lab_ws "$@" --hold 6 --no-close one two >"$LAB_DIR/ws.out" &
	pid=$!
	lab_poll 10000 grep -q '"request"' "$LAB_WSLOG" >/dev/null || fail "the origin got no handshake"
	sleep 1
	lab_stop_sluice
	wait $pid
	assert_eq "$status [\"one\", \"two\"]" \
		"$(lab_json "$(cat "$LAB_DIR/ws.out")" '"%d %s" % (d["status"], json.dumps(d["echoes"]))')" \
		"status and echoes before the shutdown"
}

# --- HTTP/2 origin for the cache (tests/integration/38*) -------------------------

# lab_h2cache_up PORT [FLAGS...]: lab_cache_up, h2cache.py on PORT, then
# sluice with --default-policy deny, FLAGS and api.test resolved to it.
lab_h2cache_up() {
	local port=$1
	shift
	lab_cache_up
	lab_start_h2cache "$port"
	lab_start_sluice --default-policy deny --resolve "api.test:443:$LAB_U4:$port" "$@"
}

# lab_get_stale TARGET SECS: GET https://api.test/TARGET (response a), SECS
# seconds for its entry to go stale, then GET it again (response b): both
# must answer 200.
lab_get_stale() {
	assert_eq 200 "$(lab_get a "https://api.test$1")" "status of the first GET of $1"
	sleep "$2"
	assert_eq 200 "$(lab_get b "https://api.test$1")" "status of the GET of the stale entry $1"
}

# lab_reqprobe_status ARGS...: tests/lab/reqprobe.py in C with the
# interception CA and ARGS (--addr or --connect/--proxy, then --h1/--h2);
# prints each answer's status, one a line (0: none came).
lab_reqprobe_status() {
	lab_in_c "$LAB_PY" "$LAB_SRCDIR/tests/lab/reqprobe.py" --ca "$LAB_DIR/ica/ca.crt" "$@" |
		"$LAB_PY" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["status"])'
}

# --- upstream certificate verification (tests/integration/41*) --------------
#
# Three more upstream.py in U, on port 443 of addresses of their own, with
# the certificates of tests/lab/mkcerts-verify.sh:
#   $LAB_VFY4        one per name of LAB_VFY_NAMES, by SNI, at OpenSSL
#                    security level 0 so that it serves the weak ones too;
#                    without SNI one for IP:$LAB_VFY4
#   $LAB_VFY_IPDNS4  without SNI one that has its address as a DNS name only
#   $LAB_VFY_OLD4    the same as $LAB_VFY4, in TLS 1.1 at most (tls11.test)
# C and G resolve the names to $LAB_VFY4, tls11.test to $LAB_VFY_OLD4. All
# three log to $LAB_REQLOG_VFY.
LAB_VFY4=10.77.2.4
LAB_VFY_IPDNS4=10.77.2.5
LAB_VFY_OLD4=10.77.2.6
LAB_VFY_NAMES="good.test wrong-name.test cn-only.test cn-nosan.test a.wild.test
	a.b.wild.test wild.test ab.part.test ab.test star.test expired.test
	notyet.test chain.test no-intermediate.test leaf-signed.test eku-client.test
	rsa1024.test sha1.test"
LAB_REQLOG_VFY=
LAB_VFY_N=0

# lab_verify_certs: mkcerts-verify.sh's certificates in $LAB_DIR/certs,
# signed by the lab's trusted CA; made once per LAB_CERT_CACHE as lab_certs
# makes its own.
lab_verify_certs() {
	local cache=${LAB_CERT_CACHE:-} mk=$LAB_SRCDIR/tests/lab/mkcerts-verify.sh
	if [ -z "$cache" ]; then
		bash "$mk" "$LAB_DIR/certs" "$LAB_DIR/certs/ca" "$LAB_VFY4" "$LAB_VFY_IPDNS4"
		return
	fi
	[ -f "$cache/verify-made" ] || (
		flock 9 || exit 1
		[ -f "$cache/verify-made" ] && exit 0
		rm -rf "$cache/verify"
		bash "$mk" "$cache/verify" "$cache/certs/ca" "$LAB_VFY4" "$LAB_VFY_IPDNS4" &&
			: >"$cache/verify-made"
	) 9>>"$cache/lock" || return 1
	cp -a "$cache/verify/." "$LAB_DIR/certs/"
}

# lab_start_upstream_at ADDR CERTDIR ARGS...: upstream.py in U on ADDR:443
# (added to U's veth) with CERTDIR and ARGS, logging to $LAB_REQLOG_VFY.
lab_start_upstream_at() {
	local addr=$1 dir=$2
	shift 2
	lab_in_u ip addr add "$addr/24" dev "$LAB_IF_U" || fail "adding $addr to U"
	ip netns exec "$LAB_U" "$LAB_PY" "$LAB_SRCDIR/tests/lab/upstream.py" \
		--certdir "$dir" --listen "$addr:443" --request-log "$LAB_REQLOG_VFY" "$@" \
		>>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
}

# lab_verify_up [FLAGS...]: root, sluice, lab_up, the three upstreams and
# their names, then sluice with --default-policy allow and FLAGS.
lab_verify_up() {
	local ns n
	lab_require_root
	lab_require_sluice
	lab_up
	lab_verify_certs || fail "making the verification certificates"
	LAB_REQLOG_VFY=$LAB_DIR/requests-verify.jsonl
	: >"$LAB_REQLOG_VFY"
	lab_start_upstream_at "$LAB_VFY4" "$LAB_DIR/certs/verify" --seclevel 0
	lab_start_upstream_at "$LAB_VFY_IPDNS4" "$LAB_DIR/certs/ipdns"
	lab_start_upstream_at "$LAB_VFY_OLD4" "$LAB_DIR/certs/verify" --seclevel 0 --max-tls 1.1
	for ns in "$LAB_C" "$LAB_G"; do
		{
			for n in $LAB_VFY_NAMES; do
				printf '%s\t%s\n' "$LAB_VFY4" "$n"
			done
			printf '%s\t%s\n' "$LAB_VFY_OLD4" tls11.test
		} >>"/etc/netns/$ns/hosts" || fail "writing /etc/netns/$ns/hosts"
	done
	lab_wait_listen "$LAB_U" 443 7 || fail "the verification upstreams did not start"
	lab_start_sluice --default-policy allow "$@"
}

# lab_verify_case HOST STATUS ERR [CURL_ARGS...]: GET
# https://HOST/headers?X-Upstream-Marker=leaked-N (a new connection; N
# counts the calls), which the upstream would answer with that field.
# STATUS 200 (ERR ""): the field came back, and the connection's audit row
# says verify_result 'ok'.  STATUS 502 (the certificate did not verify, ERR
# being OpenSSL's reason): the JSON reason, the requests row's error and
# an event=upstream_verify_failed line say ERR, the connections row's
# verify_result is ERR, and neither the client got anything of the
# upstream's answer nor the upstream the request.
lab_verify_case() {
	local host=$1 status=$2 err=$3 n want logs0 code head body
	shift 3
	LAB_VFY_N=$((LAB_VFY_N + 1))
	n=$LAB_VFY_N
	want="upstream certificate verification failed: $err"
	logs0=$(lab_verify_logged "$host" "$err")
	code=$(lab_curl -D "$LAB_DIR/vfy.head" -o "$LAB_DIR/vfy.body" -w '%{http_code}' "$@" \
		"https://$host/headers?X-Upstream-Marker=leaked-$n") || fail "curl $host ($*) failed"
	assert_eq "$status" "$code" "status for $host ($*)"
	head=$(cat "$LAB_DIR/vfy.head")
	body=$(cat "$LAB_DIR/vfy.body")
	assert_eq "$n" "$(lab_audit_wait "$n" "conn_id IN (SELECT id FROM connections)")" \
		"audit rows with their connections' rows after $host ($*)"
	if [ "$status" = 200 ]; then
		assert_contains "$head" "leaked-$n" "the upstream's answer for $host ($*)"
		assert_eq "forwarded||ok" "$(lab_verify_row)" \
			"audit of $host ($*) (decision|error|verify_result)"
		return
	fi
	assert_eq "$want" "$(lab_json "$body" 'd["reason"]')" "502 reason for $host ($*)"
	assert_not_contains "$head$body" "leaked-$n" "502 for $host ($*)"
	assert_not_contains "$head" X-Conn-Id "502 head for $host ($*)"
	assert_eq "" "$(lab_jsonl "$LAB_REQLOG_VFY" \
		'd["path"] if d["event"] == "request" and "leaked-'"$n"'" in d["path"] else None')" \
		"requests the upstream got for $host ($*)"
	assert_eq "error|$want|$err" "$(lab_verify_row)" \
		"audit of $host ($*) (decision|error|verify_result)"
	# Logged before the 502 is written.
	[ "$(lab_verify_logged "$host" "$err")" -gt "$logs0" ] ||
		fail "no event=upstream_verify_failed host=$host err=\"$err\" line for $host ($*)"
}

# lab_verify_row: decision|error|verify_result of the last request's row
# and of its connection's.
lab_verify_row() {
	lab_audit_sql "SELECT r.decision, r.error, c.verify_result FROM requests r
		JOIN connections c ON c.id = r.conn_id ORDER BY r.id DESC LIMIT 1"
}

# lab_verify_logged HOST ERR: how many event=upstream_verify_failed lines
# sluice logged for HOST with err ERR.
lab_verify_logged() {
	grep -F ' event=upstream_verify_failed ' "$LAB_DIR/sluice.log" |
		grep -F " host=$1 " | grep -c -F " err=\"$2\""
}

# lab_start_nghttpd_as PORT NAME: nghttpd, an h2-only upstream, in U on
# $LAB_U4:PORT with mkcerts-verify.sh's certificate for NAME, serving
# $LAB_DIR/h2docs (made here), every frame logged to $LAB_DIR/nghttpd-PORT.log.
lab_start_nghttpd_as() {
	command -v nghttpd >/dev/null || fail "no nghttpd (Debian's nghttp2-server)"
	mkdir -p "$LAB_DIR/h2docs"
	ip netns exec "$LAB_U" nghttpd -v -a "$LAB_U4" -d "$LAB_DIR/h2docs" "$1" \
		"$LAB_DIR/certs/verify/$2.key" "$LAB_DIR/certs/verify/$2.crt" \
		>>"$LAB_DIR/nghttpd-$1.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" "$1" || fail "nghttpd did not start on $1"
}

# lab_nghttpd_conns_at PORT: the connections nghttpd on PORT accepted.
lab_nghttpd_conns_at() {
	grep -o '^\[id=[0-9]*\]' "$LAB_DIR/nghttpd-$1.log" | sort -u | wc -l
}

# --- what the upstream got, when the answer echoes it masked (tests/integration/397-404) --

# lab_upseen JSON: the request an /echo or /cache answer (JSON, from
# upstream.py) answered, as the trusted upstream logged it: method, path,
# headers and sni, the same keys as the answer, so lab_hdr and lab_param
# read it.  sluice masks the credentials an answer echoes; this is what
# the upstream was sent.  Prints nothing and fails (quietly: pollers use
# it) when JSON is no such answer.
lab_upseen() {
	"$LAB_PY" -c '
import json, sys
try:
    req = json.loads(sys.argv[1]).get("req")
except ValueError:
    sys.exit(1)
for line in open(sys.argv[2], encoding="utf-8"):
    d = json.loads(line)
    if req is not None and d.get("event") == "request" and d.get("req") == req:
        print(json.dumps(d))
        break
else:
    sys.exit(1)' "$1" "$LAB_REQLOG"
}

# lab_echo_up SECRET SQL: root, sluice, lab_up, rawup.py (lab_start_rawup),
# the secret 't' holding SECRET, then SQL: the rules that inject it.
lab_echo_up() {
	lab_require_root
	lab_require_sluice
	lab_up
	lab_start_rawup
	lab_rules_sql "INSERT INTO secrets (name, value) VALUES ('t', '$1'); $2" ||
		fail "inserting the rules"
}
