#!/usr/bin/env bash
# make demo: the XDP runbook end to end. It creates a network namespace and a veth pair
# (rbtdemo0 here, rbtdemo1 in the namespace), loads examples/xdp_drop.bpf.o, attaches it to
# rbtdemo0, pings from the namespace (every packet is dropped and counted), shows the counter,
# detaches, shows the pings pass again, and removes everything it made, also when a step fails.
set -euo pipefail
RBT=${1:-target/release/rbt}
PIN=/sys/fs/bpf/xdp_drop
NS=rbtdemo
HOST=rbtdemo0
PEER=rbtdemo1
HOST_IP=10.213.37.1
PEER_IP=10.213.37.2
PINGS=5

step() { printf '\n$ %s\n' "$*"; "$@"; }
note() { printf '\n# %s\n' "$*"; }

for tool in ip ping jq; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is missing (run make deps)" >&2; exit 1; }
done
[ -x "$RBT" ] || { echo "demo: $RBT is not built (run make build)" >&2; exit 1; }
if [ -e "$PIN" ]; then
	echo "demo: $PIN exists already (a program from an earlier run?); remove it first: rm $PIN" >&2
	exit 1
fi
if ip netns list | grep -qw "$NS" || ip link show "$HOST" >/dev/null 2>&1; then
	echo "demo: namespace $NS or interface $HOST exists already; remove them first:" >&2
	echo "  ip netns del $NS; ip link del $HOST" >&2
	exit 1
fi
if [ -n "$(ip -4 route show to match "$HOST_IP" | grep -v '^default')" ]; then
	echo "demo: $HOST_IP is already routed on this machine; edit HOST_IP in $0" >&2
	exit 1
fi

created_ns=0
cleanup() {
	status=$?
	set +e
	"$RBT" net detach xdp dev "$HOST" >/dev/null 2>&1
	rm -f "$PIN"
	ip link del "$HOST" >/dev/null 2>&1
	[ "$created_ns" = 1 ] && ip netns del "$NS" >/dev/null 2>&1
	if [ "$status" != 0 ]; then
		echo "demo FAILED (exit $status); everything it created was removed" >&2
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note "a namespace and a veth pair: $HOST here ($HOST_IP), $PEER in namespace $NS ($PEER_IP)"
ip netns add "$NS"
created_ns=1
ip link add "$HOST" type veth peer name "$PEER" netns "$NS"
# No IPv6 chatter and fixed neighbours: the only packets on the wire are the demo's pings.
sysctl -qw "net.ipv6.conf.$HOST.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$PEER.disable_ipv6=1"
ip addr add "$HOST_IP/30" dev "$HOST"
ip netns exec "$NS" ip addr add "$PEER_IP/30" dev "$PEER"
ip link set "$HOST" up
ip netns exec "$NS" ip link set "$PEER" up
ip netns exec "$NS" ip link set lo up
ip neigh replace "$PEER_IP" lladdr "$(ip netns exec "$NS" cat /sys/class/net/$PEER/address)" dev "$HOST" nud permanent
ip netns exec "$NS" ip neigh replace "$HOST_IP" lladdr "$(cat /sys/class/net/$HOST/address)" dev "$PEER" nud permanent
step ip netns exec "$NS" ping -c 2 -i 0.2 -W 1 "$HOST_IP"

step "$RBT" prog load examples/xdp_drop.bpf.o
step "$RBT" prog show pinned "$PIN"
MAP_ID=$("$RBT" -j prog show pinned "$PIN" | jq '.map_ids[0]')

step "$RBT" net attach xdp pinned "$PIN" dev "$HOST"
step "$RBT" net show dev "$HOST"
step "$RBT" -p net show dev "$HOST"
note "attaching the same program again is not an error"
step "$RBT" net attach xdp pinned "$PIN" dev "$HOST"

note "$PINGS pings from $NS: every one is dropped"
if ip netns exec "$NS" ping -c "$PINGS" -i 0.2 -W 1 "$HOST_IP"; then
	echo "demo: the pings passed although XDP drops every packet" >&2
	exit 1
fi

note "the drop counter (map id $MAP_ID)"
step "$RBT" map dump id "$MAP_ID"
printf '\n$ %s -j map dump id %s | jq\n' "$RBT" "$MAP_ID"
"$RBT" -j map dump id "$MAP_ID" | jq
COUNT=$("$RBT" -j map dump id "$MAP_ID" | jq '.[0].value')
if [ "$COUNT" != "$PINGS" ]; then
	echo "demo: expected $PINGS drops, the counter says $COUNT" >&2
	exit 1
fi
echo "drop_cnt = $COUNT: each of the $PINGS pings was dropped and counted"

step "$RBT" net detach xdp dev "$HOST"
step "$RBT" net show dev "$HOST"
note "with the program detached, the pings pass again"
step ip netns exec "$NS" ping -c 3 -i 0.2 -W 1 "$HOST_IP"

step rm "$PIN"
echo
echo "demo done: loaded, attached, dropped and counted $PINGS pings, detached; cleaning up."
