/* tun_decide_packet: one packet buffer of a userspace packet loop decided
 * with state, as a VPN client's own loop would call it. */
#include <string.h>

#include "backends/tun.h"
#include "tests/unit/testlib.h"

/* IPv4 UDP src:sport -> dst:dport with 4 bytes of payload. */
static size_t udp4(uint8_t *p, const uint8_t src[4], uint16_t sport,
		   const uint8_t dst[4], uint16_t dport)
{
	memset(p, 0, 32);
	p[0] = 0x45;
	p[3] = 32;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	p[20] = (uint8_t)(sport >> 8); p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8); p[23] = (uint8_t)dport;
	p[25] = 12;
	return 32;
}

int main(void)
{
	static const char text[] = "pass out on wg0 all\n";
	static const uint8_t client[4] = { 100, 64, 0, 2 }, server[4] = { 192, 0, 2, 1 };
	struct ruleset *rs = ruleset_from_string("t.rules", text, strlen(text), NULL);
	struct flow_table *ft = flow_table_new(NULL);
	struct tun_packet_context out_wg = { .dir = DIR_OUT, .ifname = "wg0", .iftype = IFTYPE_TUNNEL, .now = 1 };
	struct tun_packet_context in_wg = { .dir = DIR_IN, .ifname = "wg0", .iftype = IFTYPE_TUNNEL, .now = 2 };
	struct tun_packet_context out_eth = { .dir = DIR_OUT, .ifname = "eth0", .iftype = IFTYPE_ETHER, .now = 3 };
	struct tun_packet_context in_eth = { .dir = DIR_IN, .ifname = "eth0", .iftype = IFTYPE_ETHER, .now = 4 };
	struct tun_decided d;
	uint8_t pkt[64];
	size_t len;

	CHECK("rules parse", rs != NULL);
	CHECK("flow table", ft != NULL);
	if (!rs || !ft)
		TEST_MAIN_END();

	len = udp4(pkt, client, 40000, server, 53);
	CHECK("out on wg0 passes", tun_decide_packet(ft, rs, pkt, len, &out_wg, &d) == VERDICT_PASS);
	CHECK("decoded", d.status == DECODE_OK && d.packet.proto == 17 && d.packet.dport == 53);
	CHECK("context applied", d.packet.dir == DIR_OUT && !strcmp(d.packet.ifname, "wg0"));
	CHECK("deciding rule is line 1", d.decision.rule && d.decision.rule->line == 1);
	CHECK("a new flow", d.flow && d.flow->packets == 1);

	len = udp4(pkt, server, 53, client, 40000);
	CHECK("reply in on wg0 passes by state",
	      tun_decide_packet(ft, rs, pkt, len, &in_wg, &d) == VERDICT_PASS);
	CHECK("reply counted in the flow", d.flow && d.flow->packets == 2);
	CHECK("same reply in on eth0 is new: blocked",
	      tun_decide_packet(ft, rs, pkt, len, &in_eth, &d) == VERDICT_BLOCK && !d.decision.rule);

	len = udp4(pkt, client, 40000, server, 53);
	CHECK("the flow moved to eth0 is decided anew: blocked",
	      tun_decide_packet(ft, rs, pkt, len, &out_eth, &d) == VERDICT_BLOCK);

	CHECK("truncated packet blocked undecided",
	      tun_decide_packet(ft, rs, pkt, 10, &out_wg, &d) == VERDICT_BLOCK &&
	      d.status != DECODE_OK && !d.flow);

	flow_table_free(ft);
	ruleset_free(rs);
	TEST_MAIN_END();
}
