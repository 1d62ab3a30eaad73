/* Capture files, read in one pass from any stream (a file, a pipe,
 * standard input): pcap (either byte order, micro- or nanosecond
 * timestamps) and pcapng (sections of either byte order; interface
 * description blocks, each with its own link type, name and timestamp
 * resolution; enhanced, simple and obsolete packet blocks, with the
 * direction of the enhanced and obsolete ones' flags; other blocks
 * skipped). libpcap reads pcapng too, but keeps neither a packet's
 * interface nor its direction, and refuses interfaces of different link
 * types, which is what 'dumpcap -i eth0 -i wg0' writes.
 *
 * Every length in the file is checked against the bytes read: hostile
 * input ends in an error, never an out-of-bounds read. */
#ifndef IFWALL_BACKENDS_CAPTURE_H
#define IFWALL_BACKENDS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/ruleset.h"

/* An interface of the capture: the one of a pcap file, or a pcapng
 * interface description block. */
struct capture_interface {
	int linktype;             /* DLT_ value */
	char name[IFW_IFNAMSIZ];  /* if_name; "" when the file names none */
	enum iftype type;         /* of name, when there is one */
	uint32_t snaplen;         /* 0: no limit */
	uint8_t tsresol;          /* pcapng if_tsresol (default 6: us) */
};

struct capture_frame {
	const uint8_t *data;      /* valid until the next capture_next() */
	size_t caplen, wirelen;
	uint64_t ts_ns;           /* capture time, ns since the epoch */
	const struct capture_interface *iface; /* valid as data is */
	unsigned dir;             /* DIR_IN / DIR_OUT from pcapng flags, 0: none */
};

struct capture;

/* Opens path ("-": standard input) once and reads its file header.
 * linktype_ok says which DLT_ link types the caller reads; an interface of
 * another one makes -EPROTONOSUPPORT (here or from capture_next()) with err
 * naming it. Returns 0 and *out, or a negative errno with err saying why:
 * the open's own (-ENOENT, -EACCES, ...), -EISDIR, -EINVAL when the stream
 * is not a pcap or pcapng capture. */
int capture_open(const char *path, bool (*linktype_ok)(int linktype),
		 struct capture **out, char *err, size_t errsize);

/* The next frame: 1 and *frame, 0 at the end, or a negative errno with
 * err saying why: -EINVAL for a corrupt file (a length that does not fit,
 * a packet of an interface the file never described), -EPROTONOSUPPORT, or
 * a read error (-EIO, ...). A file cut short in its last record ends (0)
 * there; capture_warning() then says where. */
int capture_next(struct capture *c, struct capture_frame *frame,
		 char *err, size_t errsize);

/* NULL, or when the file ended in the middle of a record or block, a
 * message saying so ("PATH: capture ends early: ..."). */
const char *capture_warning(const struct capture *c);

/* The name the capture was opened with ("-" for standard input). */
const char *capture_path(const struct capture *c);

/* Closes the stream (standard input stays open) and frees; NULL is fine. */
void capture_close(struct capture *c);

#endif
