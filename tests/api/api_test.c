/* libifwall's public API, through the shared library and <ifwall.h> only
 * (built and run by t_api.sh). One PASS/FAIL line per check. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ifwall.h>

#include "testlib.h"

/* An IPv4 packet: 20-byte header, then a UDP or TCP header (8/20 bytes). */
static size_t ipv4_packet(uint8_t *p, int proto, const uint8_t src[4],
			  const uint8_t dst[4], uint16_t sport, uint16_t dport)
{
	size_t l4 = proto == 6 ? 20 : 8, len = 20 + l4;

	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = (uint8_t)proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	if (proto == 17) {
		p[24] = 0;
		p[25] = 8;
	} else {
		p[32] = 0x50; /* data offset 5 */
		p[33] = 0x02; /* SYN */
	}
	return len;
}

static const char rules_text[] =
	"block out on eth0 proto udp to any port 53\n"
	"pass out on wg0 all\n"
	"reject out proto tcp to 192.0.2.0/24\n";

struct parse_job {
	int ok;
};

/* Threads deciding on one shared rule set get the single-thread answers. */
struct decide_job {
	const struct ifw_ruleset *rs;
	int ok;
};

static void *decide_many(void *arg)
{
	static const uint8_t src[4] = { 10, 0, 0, 2 }, dst[4] = { 8, 8, 8, 8 };
	struct decide_job *job = arg;
	struct ifw_decision d;
	uint8_t p[64];
	size_t len = ipv4_packet(p, 17, src, dst, 5353, 53);

	for (int i = 0; i < 20000; i++) {
		const char *ifname = i & 1 ? "wg0" : "eth0";
		int want = i & 1 ? IFW_PASS : IFW_BLOCK;

		if (ifw_decide(job->rs, p, len, IFW_OUT, ifname, &d) == 0 && d.verdict == want)
			job->ok++;
	}
	return NULL;
}

static void *parse_many(void *arg)
{
	struct parse_job *job = arg;

	for (int i = 0; i < 50; i++) {
		struct ifw_ruleset *rs;

		if (ifw_ruleset_from_string("t.rules", rules_text, strlen(rules_text), &rs, NULL) == 0 &&
		    ifw_ruleset_rule_count(rs) == 3)
			job->ok++;
		ifw_ruleset_free(rs);
	}
	return NULL;
}

int main(void)
{
	static const uint8_t client[4] = { 10, 0, 0, 2 }, dns[4] = { 8, 8, 8, 8 },
			     doc[4] = { 192, 0, 2, 10 }, web[4] = { 93, 184, 216, 34 };
	struct ifw_ruleset *rs = (void *)1, *rs2;
	struct ifw_diags *diags = (void *)1;
	struct ifw_decision d;
	uint8_t pkt[64];
	size_t len;
	char *text;
	int err;

	CHECK_STR("version", ifw_version(), "0.1.0");
	CHECK_STR("verdict-names", ifw_verdict_name(IFW_REJECT), "reject");
	CHECK("verdict-name-unknown", ifw_verdict_name(7) == NULL);

	/* A good rule set from a string. */
	err = ifw_ruleset_from_string("t.rules", rules_text, strlen(rules_text), &rs, &diags);
	CHECK("string-parses", err == 0 && rs != NULL);
	CHECK("string-diags-empty", diags != NULL && ifw_diags_count(diags) == 0 &&
				    ifw_diags_errors(diags) == 0);
	CHECK("rule-count", ifw_ruleset_rule_count(rs) == 3);
	ifw_diags_free(diags);

	err = ifw_ruleset_format(rs, 0, &text);
	CHECK("format-length", err > 0 && text && (size_t)err == strlen(text));
	CHECK("format-canonical", text && strstr(text, "pass out on wg0 all  #@ t.rules:2\n") != NULL);
	free(text);
	CHECK("format-bad-flag", ifw_ruleset_format(rs, 0x100, &text) == -EINVAL && text == NULL);

	/* Raw packets, stateless. */
	len = ipv4_packet(pkt, 17, client, dns, 5353, 53);
	err = ifw_decide(rs, pkt, len, IFW_OUT, "eth0", &d);
	CHECK("decide-dns-eth0", err == 0 && d.verdict == IFW_BLOCK && d.rule == 0 &&
				 d.line == 1 && d.file && !strcmp(d.file, "t.rules"));
	CHECK_STR("decide-rule-text", d.text, "block out on eth0 proto udp to any port 53");
	err = ifw_decide(rs, pkt, len, IFW_OUT, "wg0", &d);
	CHECK("decide-dns-wg0", err == 0 && d.verdict == IFW_PASS && d.line == 2);
	len = ipv4_packet(pkt, 6, client, doc, 40000, 443);
	err = ifw_decide(rs, pkt, len, IFW_OUT, "eth0", &d);
	CHECK("decide-reject", err == 0 && d.verdict == IFW_REJECT && d.line == 3);
	len = ipv4_packet(pkt, 6, client, web, 40000, 443);
	err = ifw_decide(rs, pkt, len, IFW_OUT, "eth0", &d);
	CHECK("decide-default", err == 0 && d.verdict == IFW_BLOCK && d.rule == -1 &&
				d.file == NULL && d.text == NULL);
	CHECK("decide-truncated", ifw_decide(rs, pkt, 10, IFW_OUT, "eth0", &d) == -EBADMSG);
	pkt[0] = 0x55;
	CHECK("decide-not-ip", ifw_decide(rs, pkt, len, IFW_OUT, "eth0", &d) == -EPROTONOSUPPORT);
	pkt[0] = 0x45;
	CHECK("decide-bad-dir", ifw_decide(rs, pkt, len, 3, "eth0", &d) == -EINVAL);
	CHECK("decide-long-ifname", ifw_decide(rs, pkt, len, IFW_OUT, "a-very-long-ifname", &d) == -EINVAL);
	CHECK("decide-null", ifw_decide(NULL, pkt, len, IFW_OUT, "eth0", &d) == -EFAULT);

	/* Packet descriptions. */
	err = ifw_decide_description(rs, "out on eth0 udp 10.0.0.2:5353 > 8.8.8.8:53", &d);
	CHECK("description-block", err == 0 && d.verdict == IFW_BLOCK && d.line == 1);
	err = ifw_decide_description(rs, "out on wg0 tcp [fd00::2]:443 > [fd00::1]:51000", &d);
	CHECK("description-v6-pass", err == 0 && d.verdict == IFW_PASS && d.line == 2);
	CHECK("description-invalid",
	      ifw_decide_description(rs, "sideways on eth0 udp 1.2.3.4 > 5.6.7.8", &d) == -EINVAL);

	/* Flow state: the reply of a flow passed on wg0 passes on wg0 only. */
	struct ifw_flow_table *ft = (void *)1;
	CHECK("flow-table-new", ifw_flow_table_new(0, &ft) == 0 && ft != NULL);
	len = ipv4_packet(pkt, 6, client, web, 40000, 443);
	err = ifw_flow_table_packet(ft, rs, pkt, len, IFW_OUT, "wg0", 1000, &d);
	CHECK("flow-first-pass", err == 0 && d.verdict == IFW_PASS && d.line == 2);
	CHECK("flow-count", ifw_flow_table_count(ft) == 1);
	len = ipv4_packet(pkt, 6, web, client, 443, 40000);
	err = ifw_flow_table_packet(ft, rs, pkt, len, IFW_IN, "wg0", 2000, &d);
	CHECK("flow-reply-by-state", err == 0 && d.verdict == IFW_PASS);
	err = ifw_decide(rs, pkt, len, IFW_IN, "wg0", &d);
	CHECK("stateless-reply-blocked", err == 0 && d.verdict == IFW_BLOCK);
	err = ifw_flow_table_packet(ft, rs, pkt, len, IFW_IN, "eth0", 3000, &d);
	CHECK("flow-reply-other-if-blocked", err == 0 && d.verdict == IFW_BLOCK);

	/* Reload: the flow is re-checked against the new set. */
	const char *block_all = "block all\n";
	err = ifw_ruleset_from_string("new.rules", block_all, strlen(block_all), &rs2, NULL);
	CHECK("reload-parses", err == 0);
	CHECK("recheck-changed", ifw_flow_table_recheck(ft, rs2) >= 1);
	ifw_ruleset_free(rs);
	rs = rs2;
	len = ipv4_packet(pkt, 6, client, web, 40000, 443);
	err = ifw_flow_table_packet(ft, rs, pkt, len, IFW_OUT, "wg0", 4000, &d);
	CHECK("flow-blocked-after-reload", err == 0 && d.verdict == IFW_BLOCK &&
					   d.file && !strcmp(d.file, "new.rules"));
	CHECK("flow-expire", ifw_flow_table_expire(ft, 4000ull + 7200ull * 1000000000ull) >= 1 &&
			     ifw_flow_table_count(ft) == 0);
	ifw_flow_table_free(ft);
	ifw_ruleset_free(rs);

	/* Errors come back as data, with locations. */
	const char *bad = "pass out all\nblock frobnicate\n";
	rs = (void *)1;
	err = ifw_ruleset_from_string("bad.rules", bad, strlen(bad), &rs, &diags);
	CHECK("bad-einval", err == -EINVAL && rs == NULL);
	CHECK("bad-has-error", ifw_diags_errors(diags) >= 1 && ifw_diags_count(diags) >= 1);
	const struct ifw_diag *first = ifw_diags_get(diags, 0);
	CHECK("bad-location", first && first->severity == IFW_SEVERITY_ERROR && first->file &&
			      !strcmp(first->file, "bad.rules") && first->line == 2 &&
			      first->col >= 1 && first->span >= 1);
	CHECK("bad-message", first && first->message && first->message[0] &&
			     !strstr(first->message, "bad.rules"));
	CHECK("bad-source-line", first && first->source_line &&
				 !strcmp(first->source_line, "block frobnicate"));
	CHECK("diag-out-of-range", ifw_diags_get(diags, 1000) == NULL);
	err = ifw_diags_format(diags, IFW_FORMAT_TEXT, &text);
	CHECK("diags-text", err > 0 && text && strstr(text, "bad.rules:2:") &&
			    strstr(text, "error: ") && strstr(text, "^"));
	free(text);
	err = ifw_diags_format(diags, IFW_FORMAT_JSON, &text);
	CHECK("diags-json", err > 0 && text && text[0] == '[' && strstr(text, "\"line\":2"));
	free(text);
	CHECK("diags-bad-format", ifw_diags_format(diags, 9, &text) == -EINVAL);
	ifw_diags_free(diags);

	/* Files. */
	char dir[] = "/tmp/ifwlib-api.XXXXXX", path[64];
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/missing.rules", dir);
	err = ifw_ruleset_from_file(path, &rs, &diags);
	CHECK("file-missing-enoent", err == -ENOENT && rs == NULL);
	CHECK("file-missing-diag", ifw_diags_errors(diags) >= 1);
	ifw_diags_free(diags);
	snprintf(path, sizeof(path), "%s/ok.rules", dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(rules_text, f);
		fclose(f);
	}
	err = ifw_ruleset_from_file(path, &rs, NULL);
	CHECK("file-parses", err == 0 && ifw_ruleset_rule_count(rs) == 3);
	len = ipv4_packet(pkt, 17, client, dns, 5353, 53);
	err = ifw_decide(rs, pkt, len, IFW_OUT, "eth0", &d);
	CHECK("file-location", err == 0 && d.file && strstr(d.file, "ok.rules") && d.line == 1);
	ifw_ruleset_free(rs);
	unlink(path);
	rmdir(dir);

	/* Reject answers for a packet loop. */
	uint8_t answer[IFW_REJECT_MAX];
	len = ipv4_packet(pkt, 17, client, dns, 5353, 53);
	int alen = ifw_reject_build(pkt, len, answer, sizeof(answer));
	CHECK("reject-udp-icmp", alen >= 20 + 8 + 20 && answer[9] == 1 && answer[20] == 3 &&
				 answer[21] == 13 && !memcmp(answer + 16, client, 4) &&
				 !memcmp(answer + 12, dns, 4));
	len = ipv4_packet(pkt, 6, client, web, 40000, 443);
	alen = ifw_reject_build(pkt, len, answer, sizeof(answer));
	CHECK("reject-tcp-rst", alen >= 40 && answer[9] == 6 && (answer[33] & 0x04) &&
				answer[22] == (40000 >> 8) && answer[23] == (40000 & 0xff));
	CHECK("reject-small-buffer", ifw_reject_build(pkt, len, answer, 100) == -ENOBUFS);
	CHECK("reject-null", ifw_reject_build(NULL, len, answer, sizeof(answer)) == -EFAULT);

	/* Parsing from several threads at once. */
	pthread_t threads[4];
	struct parse_job jobs[4] = { { 0 } };
	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, parse_many, &jobs[i]);
	int parsed = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		parsed += jobs[i].ok;
	}
	CHECK("parse-threads", parsed == 200);

	struct decide_job djobs[4];
	err = ifw_ruleset_from_string("t.rules", rules_text, strlen(rules_text), &rs, NULL);
	for (int i = 0; i < 4; i++) {
		djobs[i].rs = rs;
		djobs[i].ok = 0;
		pthread_create(&threads[i], NULL, decide_many, &djobs[i]);
	}
	int decided = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		decided += djobs[i].ok;
	}
	CHECK("decide-threads", err == 0 && decided == 80000);
	ifw_ruleset_free(rs);

	/* NULL is accepted where the header says so. */
	ifw_ruleset_free(NULL);
	ifw_diags_free(NULL);
	ifw_flow_table_free(NULL);
	CHECK("null-counts", ifw_diags_count(NULL) == 0 && ifw_ruleset_rule_count(NULL) == 0 &&
			     ifw_flow_table_count(NULL) == 0);
	CHECK("null-out", ifw_ruleset_from_string("x", "", 0, NULL, NULL) == -EFAULT);
	TEST_MAIN_END();
}
