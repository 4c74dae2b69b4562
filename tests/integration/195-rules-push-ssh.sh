#!/bin/bash
# sluice-rules push to HOST:PATH sends the snapshot to "ssh HOST
# sluice-rules install - PATH" (here an ssh stand-in that runs the command
# in the gateway's namespace), next to local paths; gateways that fail
# (an unreachable host, a missing directory) cost one line each on stderr
# and a non-zero exit, and the others are still updated.
. "$(dirname "$0")/../lab/lab.sh"
lab_require_root
lab_require_sluice
lab_up

GW1=$LAB_DIR/rules.db GW2=$LAB_DIR/gw2/rules.db
mkdir -p "$LAB_DIR/gw2"
cat >"$LAB_DIR/ssh" <<-EOF2
#!/bin/sh
# ssh [-o OPT]... [--] HOST COMMAND: COMMAND in the gateway's namespace.
while [ \$# -gt 0 ]; do
	case \$1 in -o) shift 2 ;; --) shift; break ;; *) break ;; esac
done
host=\$1; shift
echo "\$host \$*" >>"$LAB_DIR/ssh.log"
case \$host in
gw1) exec ip netns exec "$LAB_G" sh -c "\$*" ;;
*) echo "ssh: connect to host \$host port 22: No route to host" >&2; exit 255 ;;
esac
EOF2
chmod +x "$LAB_DIR/ssh"
push() {	# push MASTER DEST...: from outside the gateway, like an operator
	"$SLUICE_RULES_TOOL" push --ssh "$LAB_DIR/ssh" --remote "$SLUICE_RULES_TOOL" "$@"
}

lab_master_sql "INSERT INTO rules (id, host, action) VALUES (1, 'api.test', 'allow')" ||
	fail "writing the master"
push "$LAB_DIR/master.db" "gw1:$GW1" "$GW2" >/dev/null || fail "the first push"
assert_contains "$(cat "$LAB_DIR/ssh.log")" "gw1 $SLUICE_RULES_TOOL install - '$GW1'" \
	"the command run over ssh"
lab_start_fleet --default-policy deny

lab_master_sql "INSERT INTO rules (id, priority, host, action) VALUES (2, 10, 'api.test', 'deny')" ||
	fail "adding a deny to the master"
out=$(push "$LAB_DIR/master.db" "unreachable:$GW1" "gw1:$GW1" \
	"$LAB_DIR/nonexistent/rules.db" "$GW2" 2>"$LAB_DIR/err") &&
	fail "push succeeded with two gateways failing"
err=$(cat "$LAB_DIR/err")
assert_eq 2 "$(printf '%s\n' "$err" | wc -l)" "lines on stderr ($err)"
assert_contains "$err" "unreachable:$GW1: ssh: connect to host unreachable" "the unreachable gateway's line"
assert_contains "$err" "$LAB_DIR/nonexistent/rules.db:" "the missing directory's line"
id=$(printf '%s\n' "$out" | awk '/^snapshot/ { print $2 }')
assert_contains "$out" "gw1:$GW1: installed $id" "push's report for gw1"
assert_contains "$out" "$GW2: installed $id" "push's report for gateway 2"

sleep 1.5	# longer than sluice's reload poll
for port in "$LAB_CONNECT_PORT" "$LAB_CONNECT_PORT2"; do
	assert_eq 403 "$(lab_curl --proxy "http://$LAB_GL4:$port" -o /dev/null \
		-w '%{http_code}' https://api.test/echo)" "status through the gateway on port $port"
done
out=$("$SLUICE_RULES_TOOL" status --ssh "$LAB_DIR/ssh" --remote "$SLUICE_RULES_TOOL" \
	--admin "http://$LAB_ADMIN1" "gw1:$GW1") || fail "status over ssh: $out"
assert_eq "gw1:$GW1 id=$id version=2 rules=2 generation=2" "$out" "status over ssh"
