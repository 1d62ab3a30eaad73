/* nfnetlink_queue packet messages as the kernel sends them to the divert
 * backend: arbitrary datagram bytes through nfqueue_parse_message (the
 * parser of nfqueue_receive), then the packet it finds through the
 * decoder, as divert does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/divert_internal.h"
#include "filter/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy in a buffer whose length is a multiple of 4, as the
	 * backend's receive buffer (see backends/nlmsg.h). */
	uint8_t *buf = calloc(1, (size + 4) & ~(size_t)3);
	struct nfqueue_packet pkt;
	volatile uint32_t sum = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (nfqueue_parse_message(buf, size, &pkt) == 1) {
		if (pkt.len > size)
			__builtin_trap();
		for (size_t i = 0; i < pkt.len; i++) /* every payload byte is ours */
			sum += pkt.payload[i];
		struct packet p;
		memset(&p, 0, sizeof(p));
		p.dir = pkt.outdev ? DIR_OUT : DIR_IN;
		strcpy(p.ifname, "eth0");
		p.iftype = iftype_from_name("eth0");
		p.has_mark = true;
		p.mark = pkt.mark;
		p.has_uid = pkt.has_uid;
		p.uid = pkt.uid;
		(void)packet_decode(pkt.payload, pkt.len, &p);
	}
	free(buf);
	return 0;
}
