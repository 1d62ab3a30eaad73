#!/usr/bin/env bash
# Installs what building and testing ifwall needs, when it is missing.
# Debian packages only; quiet when everything is there.
set -u
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in build-essential pkg-config libpcap-dev libnftnl-dev libmnl-dev uthash-dev \
         nftables tcpdump tcpreplay python3-scapy iproute2 wireguard-tools \
         wireguard-go openvpn iperf3 clang libclang-rt-dev valgrind iputils-ping time dnsmasq-base busybox \
         tshark iptables ufw util-linux; do
	have "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "deps: missing ${need[*]}; run as root to install" >&2; exit 1; fi
else SUDO=; fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
