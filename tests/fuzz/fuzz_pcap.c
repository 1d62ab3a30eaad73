/* The pcap replay path: the input is a whole capture file (pcap or
 * pcapng, read by backends/capture.c), replayed with state; then the same
 * file twice, merged by timestamp (the several-captures path). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backends/capture.h"
#include "backends/replay.h"
#include "rules/ruleset.h"

static struct ruleset *rs;

static void visit(const struct flow *f, const struct replay_flow_info *info, void *ctx)
{
	(void)f;
	(void)info;
	(*(size_t *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rules_text[] =
		"set skip on lo\n"
		"killswitch {\n tunnel wg0\n endpoint 198.51.100.7 port 51820 proto udp\n"
		" dns 10.64.0.1\n allow lan\n allow dhcp\n}\n";
	static const struct replay_ifname ifmap[] = { { 1, "lo" }, { 2, "eth0" }, { 3, "wg0" } };
	char path[] = "/tmp/ifw-fuzz-pcap.XXXXXX";
	char err[256];
	size_t flows = 0;

	if (!rs) {
		rs = ruleset_from_string("fuzz.rules", rules_text, sizeof(rules_text) - 1, NULL);
		if (!rs)
			__builtin_trap();
	}
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	struct replay_config cfg = { .ifmap = ifmap, .nifmap = 3, .limits = { .max_flows = 256 } };
	struct replay *r = replay_new(rs, &cfg);
	if (r) {
		(void)replay_file(r, path, err, sizeof(err));
		(void)replay_foreach_flow(r, visit, &flows);
		replay_free(r);
	}
	r = replay_new(rs, &cfg);
	if (r) {
		struct replay_input in[2] = { { NULL, "wg0" }, { NULL, NULL } };
		if (capture_open(path, replay_linktype_supported, &in[0].capture, err, sizeof(err)) == 0 &&
		    capture_open(path, replay_linktype_supported, &in[1].capture, err, sizeof(err)) == 0)
			(void)replay_captures(r, in, 2, err, sizeof(err));
		(void)replay_foreach_flow(r, visit, &flows);
		capture_close(in[0].capture);
		capture_close(in[1].capture);
		replay_free(r);
	}
	unlink(path);
	return 0;
}
