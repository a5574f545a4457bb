#!/bin/sh
# iptables-wrapper picks the iptables backend the node uses (legacy or nft)
# the first time an iptables command runs in this container, relinks every
# iptables command to it and then runs the command. Same idea as
# kubernetes-sigs/iptables-wrappers: the rules kubelet and the node already
# made tell which backend is in use.
set -e
sbin=/usr/sbin

# count prints how many lines of the given save commands' output match $1.
count() {
	pattern=$1
	shift
	for c in "$@"; do
		"$sbin/$c" 2>/dev/null || true
	done | grep -cE "$pattern" || true
}

hint='^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)'
if [ "$(count "$hint" iptables-nft-save ip6tables-nft-save)" -gt 0 ]; then
	mode=nft
elif [ "$(count "$hint" iptables-legacy-save ip6tables-legacy-save)" -gt 0 ]; then
	mode=legacy
elif [ "$(count '^-' iptables-legacy-save ip6tables-legacy-save)" -gt "$(count '^-' iptables-nft-save ip6tables-nft-save)" ]; then
	mode=legacy
else
	mode=nft
fi

for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
	ln -sf "xtables-$mode-multi" "$sbin/$c"
done
echo "iptables-wrapper: using iptables-$mode" >&2

self=$(basename "$0")
if [ "$self" = iptables-wrapper ]; then
	exit 0
fi
exec "$sbin/$self" "$@"
