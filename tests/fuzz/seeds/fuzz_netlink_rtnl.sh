# Seeds fuzz_netlink_rtnl with valid kernel messages (netlink.py).
exec /usr/bin/python3 "$(dirname "$0")/netlink.py" rtnl "$1"
