/* Packet decoder + stateful engine on raw packet bytes with a fixed kill
 * switch rule set. The first byte picks direction and interface. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "filter/engine.h"
#include "rules/ruleset.h"

static const char rules_text[] =
	"table <bad> { 203.0.113.0/24 2001:db8:bad::/48 }\n"
	"block out log to <bad>\n"
	"killswitch {\n"
	"  tunnel wg0\n"
	"  endpoint 198.51.100.7 port 51820 proto udp\n"
	"  dns 10.64.0.1\n"
	"  allow lan\n"
	"  allow dhcp\n"
	"}\n"
	"pass in on wg0 proto tcp to port 22\n"
	"pass in on eth0 proto icmp icmp-type echo-request\n";

static struct ruleset *rs;
static struct flow_table *ft;
static struct ifaddr_table *ifaddrs;
static uint64_t now;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *ifnames[] = { "eth0", "wg0", "lo", "wlan0" };
	struct packet p;

	if (!rs) {
		struct flow_limits lim = { .max_flows = 1024 };
		rs = ruleset_from_string("fuzz.rules", rules_text, sizeof(rules_text) - 1, NULL);
		if (!rs)
			__builtin_trap();
		ft = flow_table_new(&lim);
		ifaddrs = ifaddr_table_new();
		struct ifw_addr a;
		if (ifw_addr_parse("10.64.0.2", &a) == 0)
			ifaddr_table_add(ifaddrs, "wg0", &a);
	}
	if (size < 1)
		return 0;
	memset(&p, 0, sizeof(p));
	p.dir = (data[0] & 1) ? DIR_OUT : DIR_IN;
	const char *ifn = ifnames[(data[0] >> 1) & 3];
	strcpy(p.ifname, ifn);
	p.iftype = iftype_from_name(ifn);
	p.ifaddrs = ifaddrs;
	if (data[0] & 0x10) {
		p.has_mark = true;
		p.mark = 0xca6c;
	}
	if (packet_decode(data + 1, size - 1, &p) != DECODE_OK)
		return 0;
	(void)ruleset_decide(rs, &p);
	now += 1000000000ull;
	(void)flow_table_packet(ft, rs, &p, now, NULL);
	if ((data[0] & 0xe0) == 0xe0)
		flow_table_recheck(ft, rs);
	return 0;
}
