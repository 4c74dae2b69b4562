#!/bin/bash
# --nfqueue: a client that connects the moment its lookup returns is judged
# by the name it looked up.  Two names share one address: allowed.test
# (allowed) and other.test (denied); the client looks them up in turn and
# connects at once after each lookup, 50 times each, with no pause.  Every
# connection must be decided by the name just looked up: sluice learns
# from the answer before the client gets it (the answer goes through the
# queue), so a SYN can never be judged by the name of the lookup before.
. "$(dirname "$0")/../lab/lab.sh"
. "$(dirname "$0")/../lab/nfq.sh"
lab_require_root
lab_require_sluice
lab_up
nfq_up
nfq_echo_up
nfq_dns_up "allowed.test=$LAB_U4" "other.test=$LAB_U4"
lab_rules_sql "INSERT INTO rules (id, host, port, action) VALUES
	(11, 'allowed.test', $NFQ_ECHO_PORT, 'allow'),
	(12, 'other.test', $NFQ_ECHO_PORT, 'deny')" || fail "inserting the rules"
nfq_start_sluice --default-policy deny

out=$(lab_in_c "$LAB_PY" -c '
import socket, sys
port, got = int(sys.argv[1]), {"allowed.test": [], "other.test": []}
for i in range(50):
    for name in ("allowed.test", "other.test"):
        addr = socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(addr)
            got[name].append("ok")
        except ConnectionRefusedError:
            got[name].append("refused")
        except OSError as e:
            got[name].append(str(e))
        s.close()
print("allowed.test ok %d, other.test refused %d" % (got["allowed.test"].count("ok"),
    got["other.test"].count("refused")))' "$NFQ_ECHO_PORT") || fail "the lookups and connections"
assert_eq "allowed.test ok 50, other.test refused 50" "$out" \
	"connections decided by the name looked up just before"
assert_contains "$(cat "$LAB_DIR/dns.log")" "other.test 1 -> 1 answers" "the client's lookups"
lab_stop_sluice
n=$(sed -n 's/.* \([0-9]*\) DNS answers,.*/\1/p' "$LAB_DIR/sluice.log")
[ "${n:-0}" -ge 100 ] || fail "sluice let ${n:-no} DNS answers through, not at least 100"
