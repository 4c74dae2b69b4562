# tests/bench/lab-bench.sh - the lab that tests/bench/run and
# tests/bench/callgrind share.  Source it after setting srcdir (the source
# tree) and builddir; it defines functions and runs nothing but lab.sh's
# sourcing.
#
#   bench_up            the lab (no Python upstream), the client resolving
#                       api.test to IPv4 only, and nginx in U serving
#                       small.json and 1m.bin over TLS (upstream on CPU 1)
#   bench_mode MODE     where G sends the client's TCP/443: direct, sluice,
#                       sluice-obs or nginx
#   bench_nginx_conf    nginx's certificate (same key type as sluice's
#                       forged leaf: sluice must run and bench_mode sluice be
#                       set) and $LAB_DIR/nginx-proxy.conf for nginx as the
#                       proxy, listening on $NGINX_PORT
#   bench_nginx_h2      that config with h2 on its listener and 256 idle
#                       upstream connections kept (sluice's UPSTREAM_POOL_MAX)
#   bench_nginx_log     that config with an access log line per request,
#                       the fields of sluice's audit row, buffered (64 KiB)
#   bench_nginx_start   nginx as the proxy, on CPU 0 in G ($NGINX_PID)
#   proxy_pids MODE     the processes doing the proxy's work in MODE
#   cpu_ticks PID...    their utime+stime, all threads, in clock ticks
#   dials               TCP connections G has opened so far (the proxy's
#                       upstream dials: nothing else in G connects)
#   ratio A B           A / B to two places, "-" when it has no meaning
#   to_ms TIME          wrk's or h2load's 1.23ms / 456.00us / 1.02s in ms
export SLUICE_SRCDIR=$srcdir
export SLUICE=${SLUICE:-$builddir/src/sluice}
export SLUICE_CA=${SLUICE_CA:-$builddir/tools/sluice-ca}
export SLUICE_NETFILTER=${SLUICE_NETFILTER:-$builddir/tools/sluice-netfilter}
. "$srcdir/tests/lab/lab.sh"
# In a bench a "skip" is a plain failure to run.
skip() { printf 'bench: %s\n' "$*" >&2; exit 1; }

NGINX_PORT=8445
OBS_PORT=8446			# tests/bench/run's second sluice, with --pcap and --admin

fill() {	# fill TEMPLATE OUT KEY=VALUE...
	local in=$1 out=$2 expr=() kv
	shift 2
	for kv in "$@"; do
		expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
	done
	sed "${expr[@]}" "$in" >"$out"
}

bench_up() {
	LAB_UPSTREAM=0
	lab_up
	lab_redirect_off
	# wrk takes the first address; make it the IPv4 one, like every mode here.
	printf '127.0.0.1\tlocalhost\n%s\t%s\n' "$LAB_U4" "$LAB_NAMES" >"/etc/netns/$LAB_C/hosts"

	mkdir -p "$LAB_DIR/www" "$LAB_DIR/nginx-upstream-tmp" "$LAB_DIR/nginx-proxy-tmp"
	# nginx's workers are not root: let them reach the files (the keys stay 0600).
	chmod 0711 "$LAB_DIR"
	printf '{"id":42,"name":"sluice","ok":true,"items":[1,2,3],"note":"a small JSON body"}\n' \
		>"$LAB_DIR/www/small.json"
	lab_gen $((1024 * 1024)) bench >"$LAB_DIR/www/1m.bin"

	fill "$srcdir/tests/bench/nginx-upstream.conf.in" "$LAB_DIR/nginx-upstream.conf" \
		DIR="$LAB_DIR" LISTEN="$LAB_U4:443" \
		CERT="$LAB_DIR/certs/trusted/api.test.crt" KEY="$LAB_DIR/certs/trusted/api.test.key"
	taskset -c 1 ip netns exec "$LAB_U" nginx -e "$LAB_DIR/nginx-upstream-error.log" \
		-c "$LAB_DIR/nginx-upstream.conf" -g 'daemon off;' >>"$LAB_DIR/upstream.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!
	lab_wait_listen "$LAB_U" 443 || fail "the upstream nginx did not start: $(cat "$LAB_DIR/nginx-upstream-error.log")"
}

bench_mode() {
	lab_in_g iptables -t nat -F PREROUTING
	case $1 in
	direct) ;;
	sluice) lab_in_g iptables -t nat -A PREROUTING -i "$LAB_IF_GL" -p tcp --dport 443 \
		-j REDIRECT --to-ports "$LAB_PROXY_PORT" ;;
	sluice-obs) lab_in_g iptables -t nat -A PREROUTING -i "$LAB_IF_GL" -p tcp --dport 443 \
		-j REDIRECT --to-ports "$OBS_PORT" ;;
	nginx) lab_in_g iptables -t nat -A PREROUTING -i "$LAB_IF_GL" -p tcp --dport 443 \
		-j REDIRECT --to-ports "$NGINX_PORT" ;;
	esac
}

# Sets keyalg and keybits (sluice's forged leaf) for the caller to print.
bench_nginx_conf() {
	local newkey
	lab_cert_of "$LAB_DIR/sluice-leaf.pem" https://api.test/small.json >/dev/null
	keyalg=$(openssl x509 -in "$LAB_DIR/sluice-leaf.pem" -noout -text 2>/dev/null |
		sed -n 's/^ *Public Key Algorithm: *//p')
	keybits=$(openssl x509 -in "$LAB_DIR/sluice-leaf.pem" -noout -text 2>/dev/null |
		sed -n 's/^ *Public-Key: *(\([0-9]*\) bit)/\1/p')
	case $keyalg in
	rsaEncryption) newkey=(-newkey "rsa:${keybits:-2048}") ;;
	id-ecPublicKey) newkey=(-newkey ec -pkeyopt "ec_paramgen_curve:P-${keybits:-256}") ;;
	*) fail "cannot tell the key type of sluice's forged certificate (got '$keyalg')" ;;
	esac

	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth" "subjectAltName=DNS:api.test" >"$LAB_DIR/nginx-leaf.ext"
	openssl req -new "${newkey[@]}" -nodes -keyout "$LAB_DIR/nginx-leaf.key" \
		-out "$LAB_DIR/nginx-leaf.csr" -subj "/CN=api.test" 2>/dev/null &&
	openssl x509 -req -in "$LAB_DIR/nginx-leaf.csr" -CA "$LAB_DIR/ica/ca.crt" \
		-CAkey "$LAB_DIR/ica/ca.key" -CAcreateserial -CAserial "$LAB_DIR/ica.srl" -days 2 \
		-extfile "$LAB_DIR/nginx-leaf.ext" -out "$LAB_DIR/nginx-leaf.crt" 2>/dev/null ||
		fail "making nginx's certificate from the interception CA"
	fill "$srcdir/tests/bench/nginx.conf.in" "$LAB_DIR/nginx-proxy.conf" \
		DIR="$LAB_DIR" LISTEN="0.0.0.0:$NGINX_PORT" UPSTREAM="$LAB_U4" \
		CERT="$LAB_DIR/nginx-leaf.crt" KEY="$LAB_DIR/nginx-leaf.key" \
		UPSTREAM_CA="$LAB_DIR/certs/ca.crt"
}

# 100 requests in flight need up to 100 upstream connections; nginx keeps
# as many idle as sluice's pool does (UPSTREAM_POOL_MAX, per worker).
bench_nginx_h2() {
	sed -i -e "s|listen 0.0.0.0:$NGINX_PORT ssl;|listen 0.0.0.0:$NGINX_PORT ssl http2;|" \
		-e "s|keepalive 32;|keepalive 256;|" "$LAB_DIR/nginx-proxy.conf"
	grep -q "ssl http2;" "$LAB_DIR/nginx-proxy.conf" && grep -q "keepalive 256;" "$LAB_DIR/nginx-proxy.conf" ||
		fail "could not give nginx's listener http2 and 256 idle upstream connections"
}

bench_nginx_log() {
	local fmt='$time_iso8601 $remote_addr $server_addr:$server_port $ssl_server_name $host'
	fmt+=' $request_method "$request_uri" $status $request_length $bytes_sent $request_time'
	fmt+=' $server_protocol $upstream_addr $upstream_status $ssl_protocol $ssl_cipher'
	sed -i "s|access_log off;|log_format audit '$fmt'; access_log $LAB_DIR/nginx-access.log audit buffer=64k flush=1s;|" \
		"$LAB_DIR/nginx-proxy.conf"
	grep -q "access_log $LAB_DIR/nginx-access.log" "$LAB_DIR/nginx-proxy.conf" ||
		fail "could not give nginx an access log"
}

bench_nginx_start() {
	taskset -c 0 ip netns exec "$LAB_G" nginx -e "$LAB_DIR/nginx-proxy-error.log" \
		-c "$LAB_DIR/nginx-proxy.conf" -g 'daemon off;' >>"$LAB_DIR/nginx-proxy.out" 2>&1 &
	NGINX_PID=$!
	LAB_PIDS+=("$NGINX_PID")
	disown $NGINX_PID
	lab_wait_listen "$LAB_G" "$NGINX_PORT" ||
		fail "nginx proxy did not start: $(cat "$LAB_DIR/nginx-proxy-error.log")"
}

proxy_pids() {	# every process doing the proxy's work
	case $1 in
	sluice) echo "$LAB_SLUICE_PID" ;;
	sluice-obs) echo "$OBS_PID" ;;
	nginx) echo "$NGINX_PID" "$(ps -o pid= --ppid "$NGINX_PID")" ;;
	esac
}

cpu_ticks() {	# utime+stime of the processes (all their threads), in ticks
	local pid sum=0 f
	for pid in "$@"; do
		# fields after the ")" of comm: utime and stime are the 12th and 13th
		f=$(sed 's/^.*) //' "/proc/$pid/stat") || continue
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

dials() {	# ActiveOpens of G's /proc/net/snmp: the 5th value of the Tcp: line
	lab_in_g awk '/^Tcp: [0-9]/ { print $6 }' /proc/net/snmp
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "-" }'; }

to_ms() {	# wrk's or h2load's 1.23ms / 456.00us / 1.02s -> milliseconds
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "%s", v }'
}
