/* Capture files: pcap and pcapng, read in one pass. */
#include "backends/capture.h"
#include "filter/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The stream is read this much at a time: a megabyte (a quarter of that
 * made replays of large captures 6% slower, in system calls). */
#define READ_SIZE (1024 * 1024)
/* A pcapng block larger than this is corrupt (libpcap's limit too). */
#define MAX_BLOCK_SIZE (16u * 1024 * 1024)
/* A pcap record larger than this is corrupt (libpcap's MAXIMUM_SNAPLEN). */
#define MAX_PCAP_CAPLEN 262144u
/* Interfaces of one pcapng section. */
#define MAX_INTERFACES 65536

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_MAGIC_KUZNETZOV 0xa1b2cd34u /* records carry 8 more bytes */
#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_BYTE_ORDER_MAGIC 0x1a2b3c4du
#define PCAPNG_IDB 1u
#define PCAPNG_OPB 2u  /* obsolete packet block */
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define OPT_ENDOFOPT 0
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9
#define OPT_EPB_FLAGS 2
#define EPB_DIR_INBOUND 1
#define EPB_DIR_OUTBOUND 2

/* LINKTYPE_ values (files) whose DLT_ value (libpcap) differs. */
#define LINKTYPE_ATM_RFC1483 100
#define LINKTYPE_RAW 101
#define LINKTYPE_SLIP_BSDOS 102
#define LINKTYPE_PPP_BSDOS 103
#define LINKTYPE_ATM_CLIP 106

enum capture_format { FORMAT_PCAP, FORMAT_PCAPNG };

struct capture {
	char *path;
	int fd;
	uint8_t *buf;
	size_t size, start, end;   /* unread bytes: buf[start..end) */
	bool eof;
	char *warning;             /* the file was cut short: where */
	enum capture_format format;
	bool big_endian;           /* of the file, or of the pcapng section */
	bool (*linktype_ok)(int linktype);
	/* pcap */
	bool nanoseconds;
	size_t record_header;      /* 16, or 24 in Kuznetzov's format */
	bool old_version;          /* before 2.3: caplen and len may be swapped */
	/* The pcap file's interface, or the pcapng section's. */
	struct capture_interface *ifaces;
	size_t nifaces, ifcapacity;
	uint64_t last_ts;          /* for simple packet blocks, which have none */
};

static uint16_t get16(const struct capture *c, const uint8_t *p)
{
	return c->big_endian ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t get32(const struct capture *c, const uint8_t *p)
{
	if (c->big_endian)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t little32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t swap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

static int fail(const struct capture *c, int rc, char *err, size_t errsize,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "PATH: cannot read capture: WHY", returns rc. */
static int fail(const struct capture *c, int rc, char *err, size_t errsize,
		const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errsize, "%s: cannot read capture: %s", c->path, why);
	return rc;
}

/* The file ends inside a record: what was read counts; the end is noted. */
static int cut_short(struct capture *c, const char *what, size_t want)
{
	char text[512];

	snprintf(text, sizeof(text), "%s: capture ends early: truncated %s (%zu of %zu bytes)",
		 c->path, what, c->end - c->start, want);
	free(c->warning);
	c->warning = strdup(text);
	return 0;
}

/* fill() when the bytes are not all there yet. */
static int fill_more(struct capture *c, size_t n)
{
	if (n > c->size - c->start) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
		if (n > c->size) {
			size_t size = c->size;
			uint8_t *buf;
			while (size < n)
				size *= 2;
			buf = realloc(c->buf, size);
			if (!buf)
				return -ENOMEM;
			c->buf = buf;
			c->size = size;
		}
	}
	while (c->end - c->start < n && !c->eof) {
		ssize_t got = read(c->fd, c->buf + c->end, c->size - c->end);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			c->eof = true;
		c->end += (size_t)got;
	}
	return c->end - c->start >= n;
}

/* Makes n unread bytes available at buf + start: 1, 0 when the stream ends
 * before (fewer bytes are there), or -errno. */
static inline int fill(struct capture *c, size_t n)
{
	if (__builtin_expect(c->end - c->start >= n, 1))
		return 1;
	return fill_more(c, n);
}

/* libpcap's DLT_ value of a file's LINKTYPE_ value. */
static int dlt_of_linktype(uint32_t linktype)
{
	switch (linktype) {
	case LINKTYPE_ATM_RFC1483: return DLT_ATM_RFC1483;
	case LINKTYPE_RAW: return DLT_RAW;
	case LINKTYPE_SLIP_BSDOS: return DLT_SLIP_BSDOS;
	case LINKTYPE_PPP_BSDOS: return DLT_PPP_BSDOS;
	case LINKTYPE_ATM_CLIP: return DLT_ATM_CLIP;
	default: return (int)linktype;
	}
}

static int unsupported(const struct capture *c, int dlt, char *err, size_t errsize)
{
	const char *name = pcap_datalink_val_to_name(dlt);

	if (c->format == FORMAT_PCAPNG)
		snprintf(err, errsize, "%s: unsupported link type %s (%d) of interface %zu",
			 c->path, name ? name : "UNKNOWN", dlt, c->nifaces);
	else
		snprintf(err, errsize, "%s: unsupported link type %s (%d)", c->path,
			 name ? name : "UNKNOWN", dlt);
	return -EPROTONOSUPPORT;
}

static struct capture_interface *add_interface(struct capture *c)
{
	struct capture_interface *ci;

	if (grow_array(&c->ifaces, &c->ifcapacity, c->nifaces, sizeof(*c->ifaces)) < 0)
		return NULL;
	ci = &c->ifaces[c->nifaces++];
	memset(ci, 0, sizeof(*ci));
	ci->tsresol = 6;
	return ci;
}

/* A record longer than the interface's snap length is cut to it, as
 * libpcap does. */
static size_t snapped(const struct capture_interface *ci, size_t caplen)
{
	return ci->snaplen && caplen > ci->snaplen ? ci->snaplen : caplen;
}

/* --- pcap ---------------------------------------------------------------- */

static int pcap_header(struct capture *c, char *err, size_t errsize)
{
	const uint8_t *h;
	uint32_t magic;
	int rc = fill(c, 24), dlt;
	struct capture_interface *ci;

	if (rc < 0)
		return fail(c, rc, err, errsize, "%s", strerror(-rc));
	if (rc == 0)
		return fail(c, -EINVAL, err, errsize, "truncated file header (%zu of 24 bytes)",
			    c->end - c->start);
	h = c->buf + c->start;
	magic = little32(h);
	c->big_endian = false;
	if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS && magic != PCAP_MAGIC_KUZNETZOV) {
		c->big_endian = true;
		magic = swap32(magic);
	}
	c->nanoseconds = magic == PCAP_MAGIC_NS;
	c->record_header = magic == PCAP_MAGIC_KUZNETZOV ? 24 : 16;
	if (get16(c, h + 4) != 2)
		return fail(c, -EINVAL, err, errsize, "unsupported pcap version %u.%u",
			    get16(c, h + 4), get16(c, h + 6));
	c->old_version = get16(c, h + 6) < 3;
	ci = add_interface(c);
	if (!ci)
		return fail(c, -ENOMEM, err, errsize, "out of memory");
	ci->snaplen = get32(c, h + 16);
	/* The upper 16 bits say how long an FCS is: not ours to read. */
	dlt = dlt_of_linktype(get32(c, h + 20) & 0xffff);
	ci->linktype = dlt;
	c->start += 24;
	if (!c->linktype_ok(dlt))
		return unsupported(c, dlt, err, errsize);
	return 0;
}

static int pcap_next_record(struct capture *c, struct capture_frame *frame,
			    char *err, size_t errsize)
{
	size_t hlen = c->record_header;
	const uint8_t *h;
	uint32_t sec, frac, caplen, len;
	int rc = fill(c, hlen);

	if (rc < 0)
		return fail(c, rc, err, errsize, "%s", strerror(-rc));
	if (rc == 0)
		return c->end == c->start ? 0 : cut_short(c, "record header", hlen);
	h = c->buf + c->start;
	sec = get32(c, h);
	frac = get32(c, h + 4);
	caplen = get32(c, h + 8);
	len = get32(c, h + 12);
	if (c->old_version && caplen > len) {
		uint32_t t = caplen;
		caplen = len;
		len = t;
	}
	if (caplen > MAX_PCAP_CAPLEN)
		return fail(c, -EINVAL, err, errsize,
			    "invalid packet capture length %u, bigger than maximum of %u",
			    caplen, MAX_PCAP_CAPLEN);
	rc = fill(c, hlen + caplen);
	if (rc < 0)
		return fail(c, rc, err, errsize, "%s", strerror(-rc));
	if (rc == 0)
		return cut_short(c, "record", hlen + caplen);
	frame->data = c->buf + c->start + hlen;
	frame->caplen = snapped(&c->ifaces[0], caplen);
	frame->wirelen = len;
	frame->ts_ns = (uint64_t)sec * 1000000000ull +
		       (c->nanoseconds ? frac : (uint64_t)frac * 1000ull);
	frame->iface = &c->ifaces[0];
	frame->dir = 0;
	c->start += hlen + caplen;
	/* The next record's header and link and IP headers: reading them
	 * overlaps this frame's decision. */
	__builtin_prefetch(c->buf + c->start);
	__builtin_prefetch(c->buf + c->start + 64);
	return 1;
}

/* --- pcapng -------------------------------------------------------------- */

/* Options from p to end: calls fn for each (code, length, value). Returns
 * 0, or -EINVAL when an option runs past the end. */
static int walk_options(const struct capture *c, const uint8_t *p, const uint8_t *end,
			void (*fn)(const struct capture *c, uint16_t code, uint16_t len,
				   const uint8_t *value, void *ctx),
			void *ctx)
{
	while (end - p >= 4) {
		uint16_t code = get16(c, p), len = get16(c, p + 2);
		size_t padded = ((size_t)len + 3) & ~(size_t)3;
		if (code == OPT_ENDOFOPT)
			break;
		if (padded > (size_t)(end - p) - 4)
			return -EINVAL;
		fn(c, code, len, p + 4, ctx);
		p += 4 + padded;
	}
	return 0;
}

/* A name Linux could give an interface (1 to 15 bytes, no space, '/' or
 * ':'), and not 'any', the pseudo-device of every interface. Other names
 * (text2pcap's "Fake IF, text2pcap", Windows' "\Device\NPF_{...}") name
 * no interface. */
static bool is_interface_name(const char *name)
{
	if (!*name || !strcmp(name, "any"))
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == ':' || *p == 0x7f)
			return false;
	return true;
}

static void interface_option(const struct capture *c, uint16_t code, uint16_t len,
			     const uint8_t *value, void *ctx)
{
	struct capture_interface *ci = ctx;

	if (code == OPT_IF_NAME) {
		size_t n = strnlen((const char *)value, len);
		if (n >= IFW_IFNAMSIZ)
			n = 0;     /* too long for Linux: names none */
		memcpy(ci->name, value, n);
		ci->name[n] = '\0';
		if (!is_interface_name(ci->name))
			ci->name[0] = '\0';
	} else if (code == OPT_IF_TSRESOL && len >= 1) {
		ci->tsresol = value[0];
	}
}

static void packet_option(const struct capture *c, uint16_t code, uint16_t len,
			  const uint8_t *value, void *ctx)
{
	unsigned *dir = ctx;

	if (code == OPT_EPB_FLAGS && len == 4) {
		switch (get32(c, value) & 3) {
		case EPB_DIR_INBOUND: *dir = DIR_IN; break;
		case EPB_DIR_OUTBOUND: *dir = DIR_OUT; break;
		default: *dir = 0; break;
		}
	}
}

/* A timestamp in units of the interface's resolution, in ns (saturated):
 * if_tsresol is 10^-N, or 2^-N with the high bit set. */
static uint64_t timestamp_ns(uint64_t ts, uint8_t tsresol)
{
	unsigned n = tsresol & 0x7f;
	unsigned __int128 v;

	if (tsresol & 0x80) {
		v = ((unsigned __int128)ts * 1000000000u) >> n;
	} else if (n <= 9) {
		uint64_t mul = 1;
		for (unsigned i = n; i < 9; i++)
			mul *= 10;
		v = (unsigned __int128)ts * mul;
	} else {
		uint64_t div = 1;
		if (n - 9 > 19)
			return 0;
		for (unsigned i = 9; i < n; i++)
			div *= 10;
		v = ts / div;
	}
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* A section header block at buf + start, length len: byte order (already
 * set by the caller), version; the section's interfaces start anew. */
static int section_header(struct capture *c, const uint8_t *body, size_t bodylen,
			  char *err, size_t errsize)
{
	uint16_t major, minor;

	if (bodylen < 16)
		return fail(c, -EINVAL, err, errsize, "section header block of %zu bytes",
			    bodylen + 12);
	major = get16(c, body + 4);
	minor = get16(c, body + 6);
	if (major != 1)
		return fail(c, -EINVAL, err, errsize, "unsupported pcapng version %u.%u",
			    major, minor);
	c->nifaces = 0;
	return 0;
}

static int interface_description(struct capture *c, const uint8_t *body, size_t bodylen,
				 char *err, size_t errsize)
{
	struct capture_interface *ci;

	if (bodylen < 8)
		return fail(c, -EINVAL, err, errsize, "interface description block of %zu bytes",
			    bodylen + 12);
	if (c->nifaces == MAX_INTERFACES)
		return fail(c, -EINVAL, err, errsize, "more than %d interfaces in a section",
			    MAX_INTERFACES);
	ci = add_interface(c);
	if (!ci)
		return fail(c, -ENOMEM, err, errsize, "out of memory");
	ci->linktype = dlt_of_linktype(get16(c, body));
	ci->snaplen = get32(c, body + 4);
	if (walk_options(c, body + 8, body + bodylen, interface_option, ci) < 0)
		return fail(c, -EINVAL, err, errsize,
			    "an option of interface %zu runs past its block", c->nifaces - 1);
	if (!c->linktype_ok(ci->linktype)) {
		c->nifaces--;
		return unsupported(c, ci->linktype, err, errsize);
	}
	ci->type = ci->name[0] ? iftype_from_name(ci->name) : IFTYPE_ETHER;
	return 0;
}

static const struct capture_interface *packet_interface(struct capture *c, uint32_t id,
							char *err, size_t errsize, int *rc)
{
	if (id >= c->nifaces) {
		*rc = fail(c, -EINVAL, err, errsize,
			   "a packet on interface %u, but its section describes %zu", id,
			   c->nifaces);
		return NULL;
	}
	return &c->ifaces[id];
}

/* An enhanced (or obsolete) packet block: interface, timestamp, lengths,
 * data, then options. */
static int packet_block(struct capture *c, uint32_t type, const uint8_t *body,
			size_t bodylen, struct capture_frame *frame, char *err, size_t errsize)
{
	const struct capture_interface *ci;
	uint32_t id, caplen;
	uint64_t ts;
	size_t data_end;
	int rc = 0;

	if (bodylen < 20)
		return fail(c, -EINVAL, err, errsize, "packet block of %zu bytes", bodylen + 12);
	id = type == PCAPNG_EPB ? get32(c, body) : get16(c, body);
	ci = packet_interface(c, id, err, errsize, &rc);
	if (!ci)
		return rc;
	ts = (uint64_t)get32(c, body + 4) << 32 | get32(c, body + 8);
	caplen = get32(c, body + 12);
	if (caplen > bodylen - 20)
		return fail(c, -EINVAL, err, errsize,
			    "a packet of %u bytes in a block of %zu", caplen, bodylen + 12);
	frame->data = body + 20;
	frame->caplen = snapped(ci, caplen);
	frame->wirelen = get32(c, body + 16);
	frame->ts_ns = c->last_ts = timestamp_ns(ts, ci->tsresol);
	frame->iface = ci;
	frame->dir = 0;
	data_end = 20 + (((size_t)caplen + 3) & ~(size_t)3);
	if (data_end < bodylen &&
	    walk_options(c, body + data_end, body + bodylen, packet_option, &frame->dir) < 0)
		return fail(c, -EINVAL, err, errsize, "an option of a packet runs past its block");
	return 1;
}

/* A simple packet block: interface 0, no timestamp (the previous packet's
 * is kept), the data cut to the interface's snap length. */
static int simple_packet_block(struct capture *c, const uint8_t *body, size_t bodylen,
			       struct capture_frame *frame, char *err, size_t errsize)
{
	const struct capture_interface *ci;
	size_t caplen;
	int rc = 0;

	if (bodylen < 4)
		return fail(c, -EINVAL, err, errsize, "simple packet block of %zu bytes",
			    bodylen + 12);
	ci = packet_interface(c, 0, err, errsize, &rc);
	if (!ci)
		return rc;
	frame->wirelen = get32(c, body);
	caplen = bodylen - 4;
	if (caplen > frame->wirelen)
		caplen = frame->wirelen;
	if (ci->snaplen && caplen > ci->snaplen)
		caplen = ci->snaplen;
	frame->data = body + 4;
	frame->caplen = caplen;
	frame->ts_ns = c->last_ts;
	frame->iface = ci;
	frame->dir = 0;
	return 1;
}

static int pcapng_next_block(struct capture *c, struct capture_frame *frame,
			     char *err, size_t errsize)
{
	for (;;) {
		const uint8_t *b;
		uint32_t type, len;
		int rc = fill(c, 12);

		if (rc < 0)
			return fail(c, rc, err, errsize, "%s", strerror(-rc));
		if (rc == 0)
			return c->end == c->start ? 0 : cut_short(c, "block header", 12);
		b = c->buf + c->start;
		type = little32(b); /* the section header's type reads the same both ways */
		if (type == PCAPNG_SHB) {
			uint32_t magic = little32(b + 8);
			if (magic == PCAPNG_BYTE_ORDER_MAGIC)
				c->big_endian = false;
			else if (swap32(magic) == PCAPNG_BYTE_ORDER_MAGIC)
				c->big_endian = true;
			else
				return fail(c, -EINVAL, err, errsize,
					    "section header of unknown byte order");
		} else {
			type = get32(c, b);
		}
		len = get32(c, b + 4);
		if (len < 12 || len > MAX_BLOCK_SIZE)
			return fail(c, -EINVAL, err, errsize, "block of type 0x%x of %u bytes",
				    type, len);
		rc = fill(c, len);
		if (rc < 0)
			return fail(c, rc, err, errsize, "%s", strerror(-rc));
		if (rc == 0)
			return cut_short(c, "block", len);
		b = c->buf + c->start;
		if (get32(c, b + len - 4) != len)
			return fail(c, -EINVAL, err, errsize,
				    "block of type 0x%x: its lengths differ (%u, %u)", type, len,
				    get32(c, b + len - 4));
		c->start += len;   /* b stays valid until the next fill() */
		switch (type) {
		case PCAPNG_SHB:
			rc = section_header(c, b + 8, len - 12, err, errsize);
			break;
		case PCAPNG_IDB:
			rc = interface_description(c, b + 8, len - 12, err, errsize);
			break;
		case PCAPNG_EPB:
		case PCAPNG_OPB:
			return packet_block(c, type, b + 8, len - 12, frame, err, errsize);
		case PCAPNG_SPB:
			return simple_packet_block(c, b + 8, len - 12, frame, err, errsize);
		default:
			break;     /* statistics, name resolution, custom: not ours */
		}
		if (rc < 0)
			return rc;
	}
}

/* --- the stream ---------------------------------------------------------- */

int capture_open(const char *path, bool (*linktype_ok)(int linktype),
		 struct capture **out, char *err, size_t errsize)
{
	struct capture *c = calloc(1, sizeof(*c));
	struct stat st;
	int rc;

	*out = NULL;
	if (!c || !(c->path = strdup(path)) || !(c->buf = malloc(READ_SIZE))) {
		capture_close(c);
		snprintf(err, errsize, "%s: out of memory", path);
		return -ENOMEM;
	}
	c->size = READ_SIZE;
	c->linktype_ok = linktype_ok;
	if (!strcmp(path, "-")) {
		c->fd = STDIN_FILENO;
	} else {
		c->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (c->fd < 0) {
			rc = -errno;
			snprintf(err, errsize, "%s: cannot open capture: %s", path, strerror(-rc));
			capture_close(c);
			return rc;
		}
	}
	if (fstat(c->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errsize, "%s: cannot read capture: %s", path, strerror(EISDIR));
		capture_close(c);
		return -EISDIR;
	}
	rc = fill(c, 4);
	if (rc <= 0) {
		rc = rc < 0 ? fail(c, rc, err, errsize, "%s", strerror(-rc))
			    : fail(c, -EINVAL, err, errsize, "not a pcap or pcapng file (%zu bytes)",
				   c->end - c->start);
		capture_close(c);
		return rc;
	}
	if (little32(c->buf + c->start) == PCAPNG_SHB) {
		c->format = FORMAT_PCAPNG;
		rc = fill(c, 12);
		if (rc < 0)
			rc = fail(c, rc, err, errsize, "%s", strerror(-rc));
		else if (rc == 0)
			rc = fail(c, -EINVAL, err, errsize, "truncated section header");
		else if (little32(c->buf + c->start + 8) != PCAPNG_BYTE_ORDER_MAGIC &&
			 swap32(little32(c->buf + c->start + 8)) != PCAPNG_BYTE_ORDER_MAGIC)
			rc = fail(c, -EINVAL, err, errsize, "unknown file format");
		else
			rc = 0;
	} else {
		uint32_t magic = little32(c->buf + c->start);
		c->format = FORMAT_PCAP;
		if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS || magic == PCAP_MAGIC_KUZNETZOV ||
		    swap32(magic) == PCAP_MAGIC_US || swap32(magic) == PCAP_MAGIC_NS ||
		    swap32(magic) == PCAP_MAGIC_KUZNETZOV)
			rc = pcap_header(c, err, errsize);
		else
			rc = fail(c, -EINVAL, err, errsize, "unknown file format");
	}
	if (rc < 0) {
		capture_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int capture_next(struct capture *c, struct capture_frame *frame, char *err, size_t errsize)
{
	if (c->format == FORMAT_PCAP)
		return pcap_next_record(c, frame, err, errsize);
	return pcapng_next_block(c, frame, err, errsize);
}

const char *capture_warning(const struct capture *c)
{
	return c->warning;
}

const char *capture_path(const struct capture *c)
{
	return c->path;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	if (c->path && strcmp(c->path, "-") && c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c->buf);
	free(c->warning);
	free(c->ifaces);
	free(c);
}
