/* The shared verdict log writer, see logline.h. */
#include "filter/logline.h"
#include "filter/engine.h"
#include "filter/json.h"
#include "filter/ruleset.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void log_record_from_packet(struct log_record *r, const char *backend,
			    const struct packet *p, const struct decision *d)
{
	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &r->time);
	r->backend = backend;
	r->dir = p->dir;
	r->iface = p->ifname;
	r->proto = p->proto;
	r->src = p->src;
	r->dst = p->dst;
	r->has_ports = p->has_ports;
	r->sport = p->sport;
	r->dport = p->dport;
	r->has_icmp = p->has_icmp;
	r->icmp_type = p->icmp_type;
	r->has_uid = p->has_uid;
	r->uid = p->uid;
	r->verdict = "?";
	snprintf(r->rule, sizeof(r->rule), "default");
	if (!d)
		return;
	r->verdict = verdict_name(d->verdict);
	if (d->skipped) {
		snprintf(r->rule, sizeof(r->rule), "skip");
	} else if (d->rule) {
		snprintf(r->rule, sizeof(r->rule), "%s:%d", d->rule->file ? d->rule->file : "",
			 d->rule->line);
		r->text = d->rule->text;
	}
}

static const char *proto_text(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmp6";
	}
	snprintf(buf, size, "%u", proto);
	return buf;
}

static void time_text(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	char when[24];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06dZ", when, (int)(ts->tv_nsec / 1000) % 1000000);
}

void log_record_write_json(FILE *out, const struct log_record *r)
{
	char when[48], num[8], src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];

	time_text(&r->time, when, sizeof(when));
	fprintf(out, "{\"time\":\"%s\",\"backend\":", when);
	json_string(out, r->backend);
	fputs(",\"verdict\":", out);
	json_string(out, r->verdict);
	fprintf(out, ",\"dir\":\"%s\",\"iface\":", r->dir == DIR_IN ? "in" : "out");
	json_string(out, r->iface);
	fputs(",\"proto\":", out);
	json_string(out, proto_text(r->proto, num, sizeof(num)));
	fputs(",\"src\":", out);
	json_string(out, ifw_addr_format(&r->src, src, sizeof(src)));
	if (r->has_ports)
		fprintf(out, ",\"sport\":%u", r->sport);
	else
		fputs(",\"sport\":null", out);
	fputs(",\"dst\":", out);
	json_string(out, ifw_addr_format(&r->dst, dst, sizeof(dst)));
	if (r->has_ports)
		fprintf(out, ",\"dport\":%u", r->dport);
	else
		fputs(",\"dport\":null", out);
	if (r->has_icmp)
		fprintf(out, ",\"icmp_type\":%u", r->icmp_type);
	fputs(",\"rule\":", out);
	json_string(out, r->rule);
	fputs(",\"text\":", out);
	json_string(out, r->text);
	if (r->has_uid)
		fprintf(out, ",\"uid\":%u", r->uid);
	fputs("}\n", out);
}

void log_reload_write_json(FILE *out, const char *backend, const char *rules, bool ok,
			   size_t flows_changed)
{
	struct timespec now;
	char when[48];

	clock_gettime(CLOCK_REALTIME, &now);
	time_text(&now, when, sizeof(when));
	fprintf(out, "{\"time\":\"%s\",\"backend\":", when);
	json_string(out, backend);
	fputs(",\"event\":\"reload\",\"rules\":", out);
	json_string(out, rules);
	fprintf(out, ",\"ok\":%s,\"flows_changed\":%zu}\n", ok ? "true" : "false", flows_changed);
}

static void endpoint(char *buf, size_t size, const struct ifw_addr *a, bool ports, uint16_t port)
{
	char text[INET6_ADDRSTRLEN + 8];

	ifw_addr_format(a, text, sizeof(text));
	if (!ports)
		snprintf(buf, size, "%s", text);
	else if (a->family == 6)
		snprintf(buf, size, "[%s]:%u", text, port);
	else
		snprintf(buf, size, "%s:%u", text, port);
}

void log_record_write_text(FILE *out, const struct log_record *r)
{
	char when[48], num[8], src[INET6_ADDRSTRLEN + 16], dst[INET6_ADDRSTRLEN + 16];

	time_text(&r->time, when, sizeof(when));
	endpoint(src, sizeof(src), &r->src, r->has_ports, r->sport);
	endpoint(dst, sizeof(dst), &r->dst, r->has_ports, r->dport);
	fprintf(out, "%s %-6s %-3s %-8s %-5s %s > %s", when, r->verdict,
		r->dir == DIR_IN ? "in" : "out", r->iface && *r->iface ? r->iface : "-",
		proto_text(r->proto, num, sizeof(num)), src, dst);
	if (r->has_icmp)
		fprintf(out, " type %u", r->icmp_type);
	fprintf(out, "  %s%s%s\n", r->rule, r->text ? "  " : "", r->text ? r->text : "");
}
