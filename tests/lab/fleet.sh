# fleet.sh - lab.sh with a second gateway and a Redis, for limits shared by
# a fleet (tests/integration/18*).  Source it instead of lab.sh; the
# single-gateway lab is exactly lab.sh's.
#
#   client C ──veth── gateway G  ──veth── upstream U (upstream.py, redis-server)
#   10.77.1.2         10.77.1.1   10.77.2.1   10.77.2.2
#      │
#      └──────veth── gateway G2 ──veth──┘
#   10.77.3.2         10.77.3.1   10.77.4.1   10.77.4.2
#
# C reaches U through G by default, and through G2 for connections from
# its address 10.77.3.2 (a policy route), so a client picks its gateway by
# its source address (fleet_alternate does).  G2 redirects TCP/443 from its
# LAN to its own sluice, exactly as G does; G2 reaches U's addresses through
# its own link.  redis-server runs in U on $LAB_U4:$FLEET_REDIS_PORT, with
# no persistence.  Everything is removed by lab_down (fleet_up chains it).

. "$(dirname "${BASH_SOURCE[0]}")/lab.sh"

LAB_G2=${LAB_ID}h
LAB_IF_C2=${LAB_ID}c1		# in C, towards G2
LAB_IF_G2L=${LAB_ID}h0		# in G2, LAN side
LAB_IF_G2W=${LAB_ID}h1		# in G2, WAN side
LAB_IF_U2=${LAB_ID}u1		# in U, towards G2
LAB_C24=10.77.3.2	LAB_G2L4=10.77.3.1
LAB_G2W4=10.77.4.1	LAB_U24=10.77.4.2

FLEET_REDIS_PORT=6390
FLEET_REDIS_PID=
FLEET_SLUICE2_PID=

lab_in_g2() { ip netns exec "$LAB_G2" "$@"; }

# Shows both gateways' logs on a failure.
lab_diag() {
	local f
	for f in "$LAB_DIR/sluice.log" "$LAB_DIR/sluice2.log" "$LAB_DIR/redis.log"; do
		[ -n "$LAB_DIR" ] && [ -s "$f" ] || continue
		printf -- '--- last lines of %s\n' "${f##*/}" >&2
		tail -n 25 "$f" >&2
	done
}

fleet_down() {
	local pid i
	if [ -n "$FLEET_SLUICE2_PID" ]; then
		kill -TERM "$FLEET_SLUICE2_PID" 2>/dev/null
		for ((i = 0; i < 10; i++)); do
			kill -0 "$FLEET_SLUICE2_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$FLEET_SLUICE2_PID" 2>/dev/null
	fi
	for pid in $(ip netns pids "$LAB_G2" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	ip netns del "$LAB_G2" 2>/dev/null
	lab_down
}

fleet_up() {
	lab_require_root
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		skip "needs redis-server (apt-get install redis-server)"
	lab_up
	trap fleet_down EXIT
	ip netns del "$LAB_G2" 2>/dev/null
	ip netns add "$LAB_G2" || fail "ip netns add $LAB_G2"
	lab_in_g2 ip link set lo up
	ip link add "$LAB_IF_C2" netns "$LAB_C" type veth peer name "$LAB_IF_G2L" netns "$LAB_G2" &&
	ip link add "$LAB_IF_G2W" netns "$LAB_G2" type veth peer name "$LAB_IF_U2" netns "$LAB_U" ||
		fail "creating the second gateway's veth pairs"
	lab_in_c sh -ec "
		ip addr add $LAB_C24/24 dev $LAB_IF_C2
		ip link set $LAB_IF_C2 up
		ip rule add from $LAB_C24 table 102
		ip route add default via $LAB_G2L4 table 102" || fail "configuring C's second link"
	lab_in_g2 sh -ec "
		sysctl -qw net.ipv4.ip_forward=1
		ip addr add $LAB_G2L4/24 dev $LAB_IF_G2L
		ip addr add $LAB_G2W4/24 dev $LAB_IF_G2W
		ip link set $LAB_IF_G2L up
		ip link set $LAB_IF_G2W up
		ip route add 10.77.2.0/24 via $LAB_U24" || fail "configuring the second gateway"
	lab_in_u sh -ec "
		ip addr add $LAB_U24/24 dev $LAB_IF_U2
		ip link set $LAB_IF_U2 up
		ip route add 10.77.3.0/24 via $LAB_G2W4" || fail "configuring U's second link"
	lab_in_g2 iptables -t nat -A PREROUTING -i "$LAB_IF_G2L" -p tcp --dport 443 \
		-j REDIRECT --to-ports "$LAB_PROXY_PORT" || fail "adding G2's REDIRECT rule"
	# rate_limits.shared is version 2: migrate now, so rules can be
	# written before sluice starts (it would do the same).
	lab_rules_init
	{ echo 'BEGIN;'; cat "$LAB_SRCDIR/rules/migrate-2.sql"
	  echo 'PRAGMA user_version = 2; COMMIT;'; } | sqlite3 "$LAB_DIR/rules.db" ||
		fail "migrating the rules database to version 2"
}

# fleet_redis_start [ARGS]: redis-server in U, no persistence, DEBUG
# allowed (for DEBUG SLEEP), with ARGS last (they override); waits until
# it listens.
fleet_redis_start() {
	[ -z "$FLEET_REDIS_PID" ] || fail "fleet_redis_start: already running"
	ip netns exec "$LAB_U" redis-server --bind "$LAB_U4" --port "$FLEET_REDIS_PORT" \
		--save '' --appendonly no --protected-mode no --enable-debug-command yes \
		--dir "$LAB_DIR" "$@" >>"$LAB_DIR/redis.log" 2>&1 &
	FLEET_REDIS_PID=$!
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" "$FLEET_REDIS_PORT" || fail "redis-server did not start"
}

# fleet_redis_start_tls CERT [ARGS]: the same, speaking TLS only (no
# plain-text port) with the certificate CERT.crt and key CERT.key; clients
# are not asked for certificates.
fleet_redis_start_tls() {
	local cert=$1
	shift
	fleet_redis_start --port 0 --tls-port "$FLEET_REDIS_PORT" \
		--tls-cert-file "$cert.crt" --tls-key-file "$cert.key" \
		--tls-ca-cert-file "$LAB_DIR/certs/ca.crt" --tls-auth-clients no "$@"
}

fleet_redis_stop() {
	[ -n "$FLEET_REDIS_PID" ] || fail "fleet_redis_stop: not running"
	kill -KILL "$FLEET_REDIS_PID"
	while kill -0 "$FLEET_REDIS_PID" 2>/dev/null; do sleep 0.05; done
	FLEET_REDIS_PID=
}

fleet_redis_cli() { lab_in_u redis-cli -h "$LAB_U4" -p "$FLEET_REDIS_PORT" "$@"; }

# fleet_start_sluices FLAGS...: sluice in G (lab_start_sluice) and in G2,
# both on the lab's rules database (each its own audit database:
# audit.db, audit2.db), with --redis and FLAGS.
fleet_start_sluices() {
	local i
	lab_start_sluice --redis "$LAB_U4:$FLEET_REDIS_PORT" "$@"
	printf '+ sluice %s\n' "$*" >>"$LAB_DIR/sluice2.log"
	ip netns exec "$LAB_G2" "$SLUICE" \
		--listen "0.0.0.0:$LAB_PROXY_PORT" \
		--rules "$LAB_DIR/rules.db" --audit "$LAB_DIR/audit2.db" \
		--ca-cert "$LAB_DIR/ica/ca.crt" --ca-key "$LAB_DIR/ica/ca.key" \
		--upstream-ca "$LAB_DIR/certs/ca.crt" \
		--redis "$LAB_U4:$FLEET_REDIS_PORT" "$@" >>"$LAB_DIR/sluice2.log" 2>&1 &
	FLEET_SLUICE2_PID=$!
	disown $!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$FLEET_SLUICE2_PID" 2>/dev/null || fail "the second sluice exited while starting"
		[ "$(lab_in_g2 ss -Hltn "sport = :$LAB_PROXY_PORT" | wc -l)" -gt 0 ] && return 0
		sleep 0.1
	done
	fail "the second sluice does not listen after 10 s"
}

# fleet_stop_sluices: both stop on SIGTERM (G's must exit 0; G2's, not a
# child of this shell, must be gone within 15 s and have logged no
# sanitizer report).
fleet_stop_sluices() {
	local i pid=$FLEET_SLUICE2_PID
	lab_stop_sluice
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "the second sluice did not exit within 15 s of SIGTERM"
	FLEET_SLUICE2_PID=
	! grep -E -q 'Sanitizer|runtime error' "$LAB_DIR/sluice2.log" ||
		fail "the second sluice: $(grep -E -m1 'Sanitizer|runtime error' "$LAB_DIR/sluice2.log")"
}

# fleet_audit_sql SQL: SQL over both gateways' audit rows, as one table
# "requests" with a column gw (1 or 2).
fleet_audit_sql() {
	sqlite3 -cmd '.timeout 5000' "$LAB_DIR/audit.db" \
		"ATTACH '$LAB_DIR/audit2.db' AS g2;
		 CREATE TEMP VIEW r AS SELECT 1 AS gw, * FROM main.requests
		 UNION ALL SELECT 2 AS gw, * FROM g2.requests;" "$1"
}

# fleet_audit_wait N [WHERE]: until both audit databases hold N rows in all.
fleet_audit_wait() {
	local want=$1 where=${2:-1} i n=
	for ((i = 0; i < 50; i++)); do
		if [ -f "$LAB_DIR/audit.db" ] && [ -f "$LAB_DIR/audit2.db" ]; then
			n=$(fleet_audit_sql "SELECT count(*) FROM r WHERE $where" 2>/dev/null)
			[ "$n" = "$want" ] && break
		fi
		sleep 0.1
	done
	printf '%s\n' "$n"
}

# fleet_alternate N URL [PAUSE_MS]: from C, N GETs of URL, alternating
# between G (odd) and G2 (even), each gateway's on one kept-alive
# connection (opened again when sluice closes it, as after a 429).  Prints
# one line per request: "GW STATUS SENT_MS MS RA|RLP|RL", the time it was
# sent since the first one, how long its answer took, and its Retry-After,
# RateLimit-Policy and RateLimit fields ("-" for one it lacks).
fleet_alternate() {
	lab_in_c "$LAB_PY" - "$1" "$2" "${3:-0}" "$LAB_DIR/ica/ca.crt" "$LAB_C4" "$LAB_C24" <<'PY'
import http.client, ssl, sys, time, urllib.parse
n, url, pause, cafile = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
srcs = sys.argv[5:7]
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=cafile)
conns = [None, None]
t0 = time.monotonic()
for i in range(n):
    g = i % 2
    for attempt in (0, 1):
        if conns[g] is None:
            conns[g] = http.client.HTTPSConnection(u.hostname, 443, context=ctx,
                timeout=30, source_address=(srcs[g], 0))
            conns[g].connect()
        sent = time.monotonic()
        try:
            conns[g].request("GET", u.path or "/")
            r = conns[g].getresponse()
            r.read()
            status = r.status
            fields = "|".join(r.getheader(h, "-") for h in
                              ("Retry-After", "RateLimit-Policy", "RateLimit"))
            if r.getheader("connection", "").lower() == "close":
                conns[g].close()
                conns[g] = None
            break
        except (http.client.HTTPException, OSError) as e:
            conns[g].close()
            conns[g] = None
            status = 0
            if attempt == 1:
                print("%d 000 %d 0 %s" % (g + 1, (sent - t0) * 1000, e))
    if status:
        print("%d %d %d %.1f %s" % (g + 1, status, (sent - t0) * 1000,
                                    (time.monotonic() - sent) * 1000, fields), flush=True)
    if pause:
        time.sleep(pause / 1000)
PY
}
