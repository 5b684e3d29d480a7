#!/usr/bin/env bash
# Network namespaces for the LAN (MDNS) and NAT (holepunch) tests. Everything
# is named hdht-<tag>-*, lives only inside namespaces this script creates, and
# is removed by `down <tag>` (also run automatically if `up` fails halfway).
#   netns.sh pair <tag>  two namespaces a, b on one veth link 10.231.0.0/24,
#                        each with a default route so multicast (MDNS) works
#   netns.sh nat <tag>   "public" router namespace pub (10.200.1.1, 10.200.2.1),
#                        NAT routers nata (10.200.1.2) / natb (10.200.2.2) doing
#                        MASQUERADE, and peers a (192.168.1.2) and b (192.168.2.2)
#   netns.sh down <tag>  delete every hdht-<tag>-* namespace (their veths go with them)
set -euo pipefail

cmd=${1:-}
tag=${2:-}
if [[ -z "$cmd" || -z "$tag" || ! "$tag" =~ ^[a-z0-9]{1,8}$ ]]; then
  echo "usage: $0 pair|nat|down <tag (a-z0-9, max 8)>" >&2
  exit 2
fi
p="hdht-$tag"

down () {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$p-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
}

nsx () { local ns=$1; shift; ip netns exec "$p-$ns" "$@"; }

mkns () {
  ip netns add "$p-$1"
  nsx "$1" ip link set lo up
}

# veth between two namespaces: link <nsA> <ifA> <nsB> <ifB>
link () {
  # temporary names in the root namespace; renamed as they move
  ip link add "h${tag}x" type veth peer name "h${tag}y"
  ip link set "h${tag}x" netns "$p-$1" name "$2"
  ip link set "h${tag}y" netns "$p-$3" name "$4"
  nsx "$1" ip link set "$2" up
  nsx "$3" ip link set "$4" up
}

case "$cmd" in
  down)
    down
    ;;
  pair)
    trap 'down' ERR
    mkns a
    mkns b
    link a eth0 b eth0
    nsx a ip addr add 10.231.0.1/24 dev eth0
    nsx b ip addr add 10.231.0.2/24 dev eth0
    nsx a ip route add default dev eth0
    nsx b ip route add default dev eth0
    ;;
  nat)
    trap 'down' ERR
    for ns in pub nata natb a b; do mkns "$ns"; done
    # pub is a router between the two NATs' WAN links: one hop on the path,
    # so a low-TTL probe can open a NAT mapping without reaching the other NAT
    link pub pa nata wan
    link pub pb natb wan
    nsx pub ip addr add 10.200.1.1/24 dev pa
    nsx pub ip addr add 10.200.2.1/24 dev pb
    nsx pub sysctl -qw net.ipv4.ip_forward=1
    link nata lan a eth0
    link natb lan b eth0
    nsx nata ip addr add 10.200.1.2/24 dev wan
    nsx natb ip addr add 10.200.2.2/24 dev wan
    nsx nata ip route add default via 10.200.1.1
    nsx natb ip route add default via 10.200.2.1
    nsx nata ip addr add 192.168.1.1/24 dev lan
    nsx natb ip addr add 192.168.2.1/24 dev lan
    nsx a ip addr add 192.168.1.2/24 dev eth0
    nsx b ip addr add 192.168.2.2/24 dev eth0
    nsx a ip route add default via 192.168.1.1
    nsx b ip route add default via 192.168.2.1
    for r in nata natb; do
      nsx "$r" sysctl -qw net.ipv4.ip_forward=1
      nsx "$r" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
      # unsolicited inbound is dropped, as by a home router
      nsx "$r" iptables -A FORWARD -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
      nsx "$r" iptables -A FORWARD -i wan -j DROP
    done
    ;;
  *)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
