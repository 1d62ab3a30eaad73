/* Packet description parser for 'ifwall query' (grammar in pktdesc.h). */
#include "filter/pktdesc.h"
#include "filter/number.h"

#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 24
#define MAX_TOKEN_LEN IFW_CGROUP_PATH_MAX /* a cgroup path is the longest word */

struct token {
	const char *start;
	size_t len;
	int col;
};

struct parser {
	const char *text;
	struct token tokens[MAX_TOKENS];
	size_t count;
	size_t pos;
	bool iftype_given;   /* 'iftype TYPE' was read */
	struct pktdesc_error *err;
};

static int fail(struct parser *ps, int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, int col, const char *fmt, ...)
{
	va_list ap;

	if (ps->err) {
		ps->err->col = col;
		va_start(ap, fmt);
		vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Words are separated by blanks; '>' is a word of its own even when glued
 * to its neighbours ("a>b"), since no address or name contains it. */
static int tokenize(struct parser *ps)
{
	const char *s = ps->text;
	size_t i = 0;

	while (s[i]) {
		if (is_space(s[i])) {
			i++;
			continue;
		}
		if (ps->count == MAX_TOKENS)
			return fail(ps, (int)i + 1, "too many words");
		struct token *t = &ps->tokens[ps->count++];
		t->start = s + i;
		t->col = i < 1000000 ? (int)i + 1 : 1000000;
		if (s[i] == '>') {
			t->len = 1;
			i++;
			continue;
		}
		while (s[i] && !is_space(s[i]) && s[i] != '>')
			i++;
		t->len = (size_t)(s + i - t->start);
		if (t->len >= MAX_TOKEN_LEN)
			return fail(ps, t->col, "word too long");
	}
	return 0;
}

static const struct token *peek(const struct parser *ps)
{
	return ps->pos < ps->count ? &ps->tokens[ps->pos] : NULL;
}

static int end_col(const struct parser *ps)
{
	return (int)strnlen(ps->text, 1000000) + 1;
}

static bool token_is(const struct token *t, const char *word)
{
	return t && t->len == strlen(word) && !strncmp(t->start, word, t->len);
}

/* Copies a token into buf (MAX_TOKEN_LEN bytes) as a C string. */
static void token_copy(const struct token *t, char *buf)
{
	memcpy(buf, t->start, t->len);
	buf[t->len] = '\0';
}

/* Decimal or 0x hex, no sign, at most max. */
static bool parse_number(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (ifw_parse_number(s, len, max, &v) < 0)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int parse_dir(struct parser *ps, struct packet *p)
{
	const struct token *t = peek(ps);

	if (!t)
		return fail(ps, end_col(ps), "empty packet description; expected 'in' or 'out'");
	if (token_is(t, "in"))
		p->dir = DIR_IN;
	else if (token_is(t, "out"))
		p->dir = DIR_OUT;
	else
		return fail(ps, t->col, "expected direction 'in' or 'out', got '%.*s'",
			    (int)t->len, t->start);
	ps->pos++;
	return 0;
}

/* The TYPE after 'iftype': overrides the type guessed from the name. */
static int parse_iftype(struct parser *ps, struct packet *p)
{
	const struct token *t = peek(ps);

	ps->iftype_given = true;
	if (!t || !iftype_from_type_name(t->start, t->len, &p->iftype))
		return fail(ps, t ? t->col : end_col(ps),
			    "expected interface type 'ether', 'tunnel' or 'loopback'");
	ps->pos++;
	return 0;
}

static int parse_interface(struct parser *ps, struct packet *p)
{
	const struct token *t = peek(ps);

	if (!token_is(t, "on"))
		return fail(ps, t ? t->col : end_col(ps), "expected 'on INTERFACE'");
	ps->pos++;
	t = peek(ps);
	if (!t || token_is(t, ">"))
		return fail(ps, t ? t->col : end_col(ps), "expected an interface name after 'on'");
	if (t->len >= IFW_IFNAMSIZ)
		return fail(ps, t->col, "interface name longer than %d characters",
			    IFW_IFNAMSIZ - 1);
	for (size_t i = 0; i < t->len; i++)
		if (t->start[i] == '/' || (unsigned char)t->start[i] < 0x21 ||
		    (unsigned char)t->start[i] > 0x7e)
			return fail(ps, t->col + (int)i, "invalid character in interface name");
	token_copy(t, p->ifname);
	p->iftype = iftype_from_name(p->ifname);
	ps->pos++;

	t = peek(ps);
	if (token_is(t, "iftype")) {
		ps->pos++;
		return parse_iftype(ps, p);
	}
	return 0;
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_UDPLITE;
}

static int parse_proto(struct parser *ps, struct packet *p)
{
	const struct token *t = peek(ps);
	uint32_t n;

	if (!t || token_is(t, ">"))
		return fail(ps, t ? t->col : end_col(ps),
			    "expected a protocol (tcp, udp, icmp, icmp6 or a number)");
	if (token_is(t, "tcp"))
		p->proto = IPPROTO_TCP;
	else if (token_is(t, "udp"))
		p->proto = IPPROTO_UDP;
	else if (token_is(t, "icmp"))
		p->proto = IPPROTO_ICMP;
	else if (token_is(t, "icmp6") || token_is(t, "ipv6-icmp") || token_is(t, "icmpv6"))
		p->proto = IPPROTO_ICMPV6;
	else if (parse_number(t->start, t->len, 255, &n))
		p->proto = (uint8_t)n;
	else
		return fail(ps, t->col, "unknown protocol '%.*s' (tcp, udp, icmp, icmp6 or 0-255)",
			    (int)t->len, t->start);
	ps->pos++;
	return 0;
}

/* ADDR, ADDR:PORT (IPv4), IPV6ADDR, [IPV6ADDR] or [IPV6ADDR]:PORT. */
static int parse_endpoint(struct parser *ps, const char *what,
			  struct ifw_addr *addr, bool *has_port, uint16_t *port)
{
	const struct token *t = peek(ps);
	char buf[MAX_TOKEN_LEN];
	struct ifw_addr parsed;
	const char *port_text = NULL;
	size_t port_len = 0;
	int port_col = 0;
	bool v6;

	if (!t || token_is(t, ">"))
		return fail(ps, t ? t->col : end_col(ps), "expected the %s address", what);
	token_copy(t, buf);
	*has_port = false;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close)
			return fail(ps, t->col, "missing ']' after IPv6 address");
		*close = '\0';
		if (close[1] == ':') {
			port_text = close + 2;
			port_len = strlen(port_text);
			port_col = t->col + (int)(port_text - buf);
		} else if (close[1] != '\0') {
			return fail(ps, t->col + (int)(close + 1 - buf),
				    "expected ':PORT' after ']'");
		}
		memmove(buf, buf + 1, strlen(buf + 1) + 1);
		v6 = true;
	} else {
		char *colon = strchr(buf, ':');
		if (colon && !strchr(colon + 1, ':')) {
			*colon = '\0';
			port_text = colon + 1;
			port_len = strlen(port_text);
			port_col = t->col + (int)(port_text - buf);
			v6 = false;
		} else {
			v6 = colon != NULL;
		}
	}

	memset(addr, 0, sizeof(*addr));
	/* The form chose the family: "[1.2.3.4]" is not an IPv6 address. */
	if (ifw_addr_parse(buf, &parsed) < 0 || (parsed.family == 6) != v6)
		return fail(ps, t->col, "invalid %s%s address '%s'", v6 ? "IPv6 " : "",
			    what, buf);
	*addr = parsed;
	if (port_text) {
		uint32_t n;
		if (port_len == 0 || port_len > 5 ||
		    !parse_number(port_text, port_len, 65535, &n) ||
		    (port_len > 1 && port_text[1] == 'x'))
			return fail(ps, port_col, "invalid %s port (0-65535)", what);
		*has_port = true;
		*port = (uint16_t)n;
	}
	ps->pos++;
	return 0;
}

static int parse_addresses(struct parser *ps, struct packet *p)
{
	bool has_sport, has_dport;
	int src_col, dst_col, sport_col;
	const struct token *t;
	int rc;

	src_col = peek(ps) ? peek(ps)->col : end_col(ps);
	rc = parse_endpoint(ps, "source", &p->src, &has_sport, &p->sport);
	if (rc)
		return rc;
	sport_col = src_col;
	t = peek(ps);
	if (!token_is(t, ">"))
		return fail(ps, t ? t->col : end_col(ps), "expected '>' between source and destination");
	ps->pos++;
	dst_col = peek(ps) ? peek(ps)->col : end_col(ps);
	rc = parse_endpoint(ps, "destination", &p->dst, &has_dport, &p->dport);
	if (rc)
		return rc;

	if (p->src.family != p->dst.family)
		return fail(ps, dst_col, "source is IPv%d but destination is IPv%d",
			    p->src.family, p->dst.family);
	p->family = p->src.family;
	if (p->proto == IPPROTO_ICMP && p->family == 6)
		return fail(ps, src_col, "icmp is IPv4 only; use icmp6 with IPv6 addresses");
	if (p->proto == IPPROTO_ICMPV6 && p->family == 4)
		return fail(ps, src_col, "icmp6 needs IPv6 addresses");
	if ((has_sport || has_dport) && !proto_has_ports(p->proto))
		return fail(ps, has_sport ? sport_col : dst_col,
			    "ports are only allowed with tcp or udp");
	/* A TCP or UDP packet always has both ports: rather than guess one,
	 * ask for it (cli.md). */
	if ((p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) && (!has_sport || !has_dport))
		return fail(ps, !has_sport ? src_col : dst_col,
			    "%s needs a %s port: ADDR:PORT, or [ADDR]:PORT for IPv6",
			    p->proto == IPPROTO_TCP ? "tcp" : "udp",
			    !has_sport ? "source" : "destination");
	/* A port left out (sctp, udplite) is 0: the packet still has a
	 * transport header. */
	p->has_ports = has_sport || has_dport;
	return 0;
}

static int parse_icmp_type(struct parser *ps, struct packet *p, const struct token *kw)
{
	const struct token *t = peek(ps);
	char buf[MAX_TOKEN_LEN];
	bool icmp6 = p->proto == IPPROTO_ICMPV6;
	uint32_t n;

	if (p->proto != IPPROTO_ICMP && !icmp6)
		return fail(ps, kw->col, "'type' is only allowed with icmp or icmp6");
	if (!t)
		return fail(ps, end_col(ps), "expected an ICMP type after 'type'");
	token_copy(t, buf);
	if (parse_number(t->start, t->len, 255, &n)) {
		p->icmp_type = (uint8_t)n;
	} else {
		int v = icmp_type_from_name(buf, icmp6);
		if (v < 0 || v > 255)
			return fail(ps, t->col, "unknown %s type '%s'", icmp6 ? "icmp6" : "icmp", buf);
		p->icmp_type = (uint8_t)v;
	}
	p->has_icmp = true;
	ps->pos++;
	return 0;
}

static int parse_user(struct parser *ps, struct packet *p)
{
	const struct token *t = peek(ps);
	char buf[MAX_TOKEN_LEN];
	uint32_t n;

	if (!t)
		return fail(ps, end_col(ps), "expected a user name or uid after 'user'");
	if (parse_number(t->start, t->len, UINT32_MAX, &n)) {
		p->uid = n;
	} else {
		struct passwd pw, *found = NULL;
		char pwbuf[4096];
		token_copy(t, buf);
		if (getpwnam_r(buf, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || !found)
			return fail(ps, t->col, "unknown user '%s'", buf);
		p->uid = (uint32_t)found->pw_uid;
	}
	p->has_uid = true;
	ps->pos++;
	return 0;
}

static int parse_mark(struct parser *ps, struct packet *p)
{
	const struct token *t = peek(ps);
	uint32_t n;

	if (!t)
		return fail(ps, end_col(ps), "expected a number after 'mark'");
	if (!parse_number(t->start, t->len, UINT32_MAX, &n))
		return fail(ps, t->col, "invalid mark '%.*s' (decimal or 0x hex, 32 bits)",
			    (int)t->len, t->start);
	p->mark = n;
	p->has_mark = true;
	ps->pos++;
	return 0;
}

static int parse_cgroup(struct parser *ps, struct packet *p)
{
	const struct token *t = peek(ps);
	size_t bad;
	const char *why;

	if (!t)
		return fail(ps, end_col(ps), "expected a cgroup path after 'cgroup'");
	if (t->len == 1 && t->start[0] == '/') {
		/* the root cgroup */
		p->cgroup[0] = '\0';
	} else {
		why = cgroup_pattern_check(t->start, t->len, &bad);
		if (!why && memchr(t->start, '*', t->len)) {
			why = "a packet's cgroup is one path, not a pattern";
			bad = (size_t)((const char *)memchr(t->start, '*', t->len) - t->start);
		}
		if (why)
			return fail(ps, t->col + (int)bad, "%s", why);
		memcpy(p->cgroup, t->start, t->len);
		p->cgroup[t->len] = '\0';
		cgroup_pattern_normalize(p->cgroup);
	}
	p->has_cgroup = true;
	ps->pos++;
	return 0;
}

/* type / user / mark / cgroup / iftype, each at most once, in any order ('iftype'
 * may also follow the interface name; cli.md says only that it is added). */
static int parse_options(struct parser *ps, struct packet *p)
{
	bool seen_type = false, seen_user = false, seen_mark = false, seen_cgroup = false;
	bool seen_iftype = ps->iftype_given;
	const struct token *t;
	int rc;

	while ((t = peek(ps))) {
		bool *seen;
		ps->pos++;
		if (token_is(t, "type"))
			seen = &seen_type;
		else if (token_is(t, "user"))
			seen = &seen_user;
		else if (token_is(t, "mark"))
			seen = &seen_mark;
		else if (token_is(t, "cgroup"))
			seen = &seen_cgroup;
		else if (token_is(t, "iftype"))
			seen = &seen_iftype;
		else
			return fail(ps, t->col, "unexpected '%.*s' (expected type, user, mark, cgroup or iftype)",
				    (int)t->len, t->start);
		if (*seen)
			return fail(ps, t->col, "'%.*s' given twice", (int)t->len, t->start);
		*seen = true;
		if (seen == &seen_type)
			rc = parse_icmp_type(ps, p, t);
		else if (seen == &seen_user)
			rc = parse_user(ps, p);
		else if (seen == &seen_iftype)
			rc = parse_iftype(ps, p);
		else if (seen == &seen_cgroup)
			rc = parse_cgroup(ps, p);
		else
			rc = parse_mark(ps, p);
		if (rc)
			return rc;
	}
	return 0;
}

int pktdesc_parse(const char *text, struct packet *out, struct pktdesc_error *err)
{
	struct parser ps = { .text = text ? text : "", .err = err };
	int rc;

	if (err) {
		err->col = 0;
		err->message[0] = '\0';
	}
	memset(out, 0, sizeof(*out));
	if ((rc = tokenize(&ps)) || (rc = parse_dir(&ps, out)) ||
	    (rc = parse_interface(&ps, out)) || (rc = parse_proto(&ps, out)) ||
	    (rc = parse_addresses(&ps, out)) || (rc = parse_options(&ps, out)))
		return rc;

	/* A plausible length and, for tcp, a connection opening (SYN). */
	out->len = (out->family == 4 ? 20 : 40) +
		   (out->proto == IPPROTO_TCP ? 20 :
		    out->has_ports || out->proto == IPPROTO_ICMP ||
		    out->proto == IPPROTO_ICMPV6 ? 8 : 0);
	if (out->proto == IPPROTO_TCP)
		out->tcp_flags = 0x02;
	out->ifaddrs = NULL;
	return 0;
}
