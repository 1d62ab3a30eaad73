# Seeds fuzz_netlink_nft with valid kernel messages (netlink.py).
exec /usr/bin/python3 "$(dirname "$0")/netlink.py" nft "$1"
