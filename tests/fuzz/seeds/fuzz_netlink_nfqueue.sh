# Seeds fuzz_netlink_nfqueue with valid kernel messages (netlink.py).
exec /usr/bin/python3 "$(dirname "$0")/netlink.py" nfqueue "$1"
