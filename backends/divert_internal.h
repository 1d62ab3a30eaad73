/* Internals of the divert backend, shared by its files: the nftables table
 * that queues new flows (divert_table.c), the nfnetlink_queue socket
 * (nfqueue.c). */
#ifndef IFWALL_BACKENDS_DIVERT_INTERNAL_H
#define IFWALL_BACKENDS_DIVERT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/divert.h"

/* --- the table inet ifwall_divert (divert_table.c) ----------------------- */

#define DIVERT_TABLE_NAME "ifwall_divert"
/* After conntrack (-200) and mangle's rerouting (-150), before NAT (-100)
 * and every filter table (0). */
#define DIVERT_CHAIN_PRIORITY (-140)

struct divert_table;

/* Who changed the table (from the transaction's generation message). */
struct divert_table_change {
	int pid;         /* 0: unknown */
	char comm[32];
};

/* Where the queue rules send packets: NFQUEUE first..first+total-1, by the
 * CPU the packet is on (cpu % total) when total > 1, so each CPU's new
 * flows go to the worker that runs on that CPU. */
struct divert_queues {
	uint16_t first, total;
	bool fail_open;          /* bypass when nobody listens */
};

/* Opens the netlink sockets the table is installed and watched through
 * (qs: the queues the rules send to). Installs nothing. Returns 0 or
 * -errno with a reason in err. */
int divert_table_open(struct divert_table **out, const struct divert_queues *qs,
		      char *err, size_t errlen);
/* When a live process other than this one runs the table: says so in buf
 * ("table inet ifwall_divert belongs to a running ... (pid N)") and
 * returns its pid; 0 otherwise. */
int divert_table_owner_text(char *buf, size_t len);
/* Closes the sockets; the table stays in the kernel. Accepts NULL. */
void divert_table_free(struct divert_table *t);

/* Installs the table, replacing an older one in the same transaction (one
 * a live divert process runs: -EBUSY). kind DIVERT_QUEUE_AUTO tries the
 * queue expression and falls back to the xtables target; *used tells
 * which one the kernel took, *existed whether a table was there before
 * (both may be NULL). Returns 0 or -errno with a reason in err. */
int divert_table_install(struct divert_table *t, enum divert_queue_kind kind,
			 enum divert_queue_kind *used, bool *existed,
			 char *err, size_t errlen);
/* Installs the table again as it was installed. */
int divert_table_restore(struct divert_table *t, char *err, size_t errlen);
/* Empties the set of passed flows: the next packet of every flow goes
 * through the engine again (after a reload). Returns 0 or -errno. */
int divert_table_forget_passed(struct divert_table *t, char *err, size_t errlen);
/* Deletes the table (no error when it is not there). */
int divert_table_remove(struct divert_table *t, char *err, size_t errlen);

/* The socket that receives nf_tables notifications (poll it). */
int divert_table_watch_fd(const struct divert_table *t);
/* Reads the notifications waiting. Returns 1 when another process changed
 * the installed table (who did in *by, when known), 0 when nobody did, or
 * -errno. When notifications were lost, the table is checked instead. */
int divert_table_changed(struct divert_table *t, struct divert_table_change *by);
/* Checks the table in the kernel against what was installed: returns 0
 * when it is intact, 1 when it is gone, replaced or has other rules (why
 * says which), or -errno. */
int divert_table_verify(struct divert_table *t, char *why, size_t whylen);

/* --- nfnetlink_queue (nfqueue.c) ----------------------------------------- */

struct nfqueue;

/* One queued packet, pointing into a receive buffer (valid until the
 * next nfqueue_receive). */
struct nfqueue_packet {
	uint32_t id;
	uint8_t hook;           /* NF_INET_LOCAL_IN, FORWARD, LOCAL_OUT, ... */
	uint16_t hw_protocol;   /* ETH_P_IP / ETH_P_IPV6, host order */
	uint32_t indev, outdev; /* 0 when absent */
	uint32_t mark;
	bool has_uid;
	uint32_t uid;
	const uint8_t *payload;
	size_t len;             /* bytes of payload */
	uint32_t orig_len;      /* length on the wire (>= len) */
};

struct nfqueue_options {
	uint16_t queue;
	uint32_t copy_range;     /* bytes of each packet to copy */
	uint32_t max_len;        /* packets waiting for a verdict */
	bool fail_open;          /* accept when the queue is full */
	int rcvbuf;              /* socket receive buffer bytes */
};

/* Binds the queue. Returns 0 or -errno (-EBUSY: another process has it). */
int nfqueue_open(struct nfqueue **out, const struct nfqueue_options *opts,
		 char *err, size_t errlen);
void nfqueue_free(struct nfqueue *q);
int nfqueue_fd(const struct nfqueue *q);

/* Receives one message without blocking. Returns 1 with *pkt filled, 0 when
 * nothing is pending, -ENOBUFS when the kernel dropped messages (the
 * packets are gone, dropped or bypassed by the kernel), other -errno. */
int nfqueue_receive(struct nfqueue *q, struct nfqueue_packet *pkt);
/* Whether packets already received wait in the buffers (poll() on the
 * socket does not see them): call nfqueue_receive again before sleeping. */
bool nfqueue_buffered(const struct nfqueue *q);

/* Finds the first packet message in buf (one datagram from the queue
 * socket, len bytes). Returns 1 with *pkt filled (pointing into buf), 0
 * when buf holds none. For nfqueue_receive and the fuzzer. */
int nfqueue_parse_message(const void *buf, size_t len, struct nfqueue_packet *pkt);

/* Verdicts are collected, then sent together: runs of consecutive ids with
 * the same verdict and mark go out as one NFQNL_MSG_VERDICT_BATCH. */
int nfqueue_verdict(struct nfqueue *q, uint32_t id, uint32_t verdict,
		    bool set_mark, uint32_t mark);
/* Sends the collected verdicts. Returns 0 or -errno. */
int nfqueue_flush(struct nfqueue *q);
/* Verdict messages sent so far (for tests and benchmarks). */
uint64_t nfqueue_messages_sent(const struct nfqueue *q);
/* The queue's number. */
uint16_t nfqueue_number(const struct nfqueue *q);

#endif
