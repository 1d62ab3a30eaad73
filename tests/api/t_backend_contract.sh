#!/usr/bin/env bash
# The userspace backends' one contract (backends/backend.h), on divert and
# on tun alike (tests/api/backend_contract_test.c, internal API, built with
# the sanitizers of a SAN build: run it with O=build-san to have a freed or
# leaked rule set caught):
# - open, set_ruleset, run, free; run refuses to start without rules;
# - the caller owns its rule sets: freed right after set_ruleset (the
#   backend's own reference keeps it), and still whole after the backend's
#   free (the caller frees it, once);
# - a failed open leaves the rule set with the caller; libifwall's
#   ifw_tun_run and ifw_divert_run keep their 0.1 ownership;
# - a reload through backend_reload takes effect on new flows;
# - the JSON log lines of divert and tun have the same keys: verdict
#   lines and reload events.
set -u
cd "${TOP:?}"
source tests/common.sh   # pass, fail, skip, wait_for
O=${O:-build}
CC=${CC:-cc}
if [ "$(id -u)" -ne 0 ]; then skip backend-contract "needs root"; exit 0; fi
if [ ! -c /dev/net/tun ]; then skip backend-contract "no /dev/net/tun"; exit 0; fi
san=; case $O in *san*) san="-fsanitize=address,undefined -fno-omit-frame-pointer" ;; esac
d=ifwbc-d$$ h=ifwbc-h$$ c=ifwbc-c$$
dir=$(mktemp -d /tmp/ifwbc.XXXXXX)
cleanup() {
	for ns in $d $h $c; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT

bin=$dir/backend_contract_test
if ! $CC -std=gnu11 -Wall -Wextra -Werror $san -I. -D_GNU_SOURCE -o "$bin" \
	tests/api/backend_contract_test.c "$O/libifwall.a" \
	$(pkg-config --libs libpcap libnftnl libmnl 2>/dev/null || echo -lpcap -lnftnl -lmnl) \
	-lpthread 2>"$dir/cc.log"; then
	fail backend-contract-build "$(head -5 "$dir/cc.log" | tr '\n' ' ')"; exit 1
fi

# sanitizer_clean NAME FILE: PASS when the program's stderr has no report.
sanitizer_clean() {
	if grep -qE 'Sanitizer|runtime error' "$2"; then
		fail "$1" "$(grep -E -m3 'Sanitizer|runtime error|SUMMARY' "$2" | tr '\n' ' ')"
	else
		pass "$1"
	fi
}

# What a reload puts in force: port 11 blocked from then on.
printf 'pass out proto udp to any port 9\npass out proto udp to any port 10\nblock out proto udp to any port 11\npass all\n' \
	>"$dir/reload.rules"

# --- divert, in a namespace of its own (traffic on lo) ---------------------------
ip netns add "$d" && ip -n "$d" link set lo up
nsenter --net=/var/run/netns/"$d" "$bin" divert "$dir/reload.rules" "$dir/divert.json" 2>"$dir/divert.err"
echo "divert exit $?" >>"$dir/divert.err"
sanitizer_clean divert-sanitizers "$dir/divert.err"
[ -n "${VERBOSE:-}" ] && cat "$dir/divert.err" >&2

# --- tun: client namespace c, host namespace h with a route to 10.9.0.0/24 ---------
ip netns add "$h" && ip netns add "$c"
ip -n "$h" link set lo up; ip -n "$c" link set lo up
ip -n "$h" link add far0 type veth peer name far1
ip -n "$h" addr add 10.9.0.1/24 dev far0
ip -n "$h" link set far0 up; ip -n "$h" link set far1 up
mkdir -p "$dir/state"
nsenter --net=/var/run/netns/"$h" "$bin" tun "$c" "$dir/reload.rules" "$dir/tun.json" "$dir/state" \
	2>"$dir/tun.err"
echo "tun exit $?" >>"$dir/tun.err"
sanitizer_clean tun-sanitizers "$dir/tun.err"
[ -n "${VERBOSE:-}" ] && cat "$dir/tun.err" >&2
if [ -z "$(ip -n "$h" -o link show | grep -v -e ' lo:' -e ' far[01]@')" ] &&
	[ -z "$(ip -n "$c" -o link show | grep -v ' lo:')" ]; then
	pass tun-free-removes-devices
else
	fail tun-free-removes-devices "$(ip -n "$h" -o link show; ip -n "$c" -o link show)"
fi

# --- failed opens ----------------------------------------------------------------
"$bin" failed-open 2>"$dir/failed.err"
echo "failed-open exit $?" >>"$dir/failed.err"
sanitizer_clean failed-open-sanitizers "$dir/failed.err"

# --- one log schema ------------------------------------------------------------------
if out=$(/usr/bin/python3 - "$dir/divert.json" "$dir/tun.json" "$dir/reload.rules" <<'PY' 2>&1
import json, sys
def lines(path):
    return [json.loads(l) for l in open(path) if l.strip()]
logs = {name: lines(path) for name, path in (("divert", sys.argv[1]), ("tun", sys.argv[2]))}
reload_rules = sys.argv[3]
keys = {}
for name, log in logs.items():
    verdicts = [l for l in log if "verdict" in l and l["proto"] == "udp" and l["dir"] == "out"]
    assert verdicts, "%s: no outbound UDP verdict line" % name
    # 'uid' is added where the packet's socket is known (divert's local
    # traffic; a TUN device has none): the only key one may have alone.
    kinds = {frozenset(set(l) - {"uid"}) for l in verdicts}
    assert len(kinds) == 1, "%s: verdict lines with different keys: %s" % (name, kinds)
    events = [l for l in log if l.get("event") == "reload"]
    assert len(events) == 1 and events[0]["ok"] is True and events[0]["rules"] == reload_rules, \
        "%s: reload events %s" % (name, events)
    assert all(l["backend"] == name for l in log), "%s: other backends named" % name
    # After the reload, port 11 is blocked by its rule 3.
    assert any(l["dport"] == 11 and l["verdict"] == "block" and l["rule"] == reload_rules + ":3"
               for l in verdicts), "%s: no port 11 line blocked by the reloaded rules" % name
    # Before it, port 10 passed ('second', set by the caller).
    assert any(l["dport"] == 10 and l["verdict"] == "pass" for l in verdicts), \
        "%s: port 10 not passed" % name
    keys[name] = (next(iter(kinds)), frozenset(events[0]))
assert keys["divert"][0] == keys["tun"][0], "verdict keys differ: %s" % keys
assert keys["divert"][1] == keys["tun"][1], "reload event keys differ: %s" % keys
print(" ".join(sorted(keys["tun"][0])))
PY
); then
	pass log-same-keys "$out"
else
	fail log-same-keys "$(echo "$out" | tail -1)"
fi
exit 0
