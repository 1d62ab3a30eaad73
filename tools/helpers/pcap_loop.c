/* pcap_loop: the bare libpcap read loop the replay benchmark compares
 * against. Reads every frame of the captures (pcap_next_ex, like replay)
 * and touches its bytes; prints "N frames N bytes LINKTYPE". */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	uint64_t frames = 0, bytes = 0, sum = 0;
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: pcap_loop CAPTURE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char errbuf[PCAP_ERRBUF_SIZE] = "";
		struct pcap_pkthdr *hdr;
		const u_char *data;
		pcap_t *pc;
		int rc;

		pc = pcap_open_offline_with_tstamp_precision(argv[i], PCAP_TSTAMP_PRECISION_NANO,
							     errbuf);
		if (!pc) {
			fprintf(stderr, "pcap_loop: %s: %s\n", argv[i], errbuf);
			status = 2;
			continue;
		}
		while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
			frames++;
			bytes += hdr->caplen;
			/* Read the first byte, as any consumer would. */
			if (hdr->caplen)
				sum += data[0];
		}
		if (rc == -1) {
			fprintf(stderr, "pcap_loop: %s: %s\n", argv[i], pcap_geterr(pc));
			status = 1;
		}
		printf("%llu frames %llu bytes %s (%llu)\n", (unsigned long long)frames,
		       (unsigned long long)bytes,
		       pcap_datalink_val_to_name(pcap_datalink(pc)) ?
		       pcap_datalink_val_to_name(pcap_datalink(pc)) : "?",
		       (unsigned long long)(sum & 1));
		pcap_close(pc);
	}
	return status;
}
