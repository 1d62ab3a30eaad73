/* One nf_tables batch (one kernel transaction), for every table ifwall
 * writes (nft_load.c, nft_table.c, divert_table.c): messages built from
 * libnftnl objects, each recorded so that the kernel's refusal is mapped
 * back to what the message was about, then sent on a socket of netlink.h and
 * every acknowledgement read, with the kernel's extended-ack message. */
#ifndef IFWALL_BACKENDS_NFT_BATCH_H
#define IFWALL_BACKENDS_NFT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/netlink.h"

/* What one acknowledged message is about (the caller's words). */
struct nft_batch_entry {
	int kind;               /* the caller's kind of object or change */
	size_t index;           /* which of the caller's objects */
	char name[64];          /* its name, or what the message does */
};

struct nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t first_seq;     /* seq of the first acknowledged message */
	size_t nentries, entries_cap;
	struct nft_batch_entry *entries;
	int failed;             /* -ENOMEM while building */
};

/* Starts *b with the batch's begin message; genid (not 0) makes the
 * kernel refuse the batch with ERESTART when the rule set changed since
 * that generation was read. Returns 0 or -ENOMEM. */
int nft_batch_begin(struct nft_batch *b, struct netlink *nl, uint32_t genid);
/* Starts an acknowledged message and records what it is about (name may
 * be NULL); the caller adds attributes, then nft_batch_message_end().
 * NULL when the batch failed (b->failed). */
struct nlmsghdr *nft_batch_message(struct nft_batch *b, struct netlink *nl,
				   uint16_t type, uint16_t family, uint16_t flags,
				   int kind, size_t index, const char *name);
void nft_batch_message_end(struct nft_batch *b, struct nlmsghdr *nlh);
/* A message carrying obj, the libnftnl object its type works on (table,
 * chain, set, the set's elements or rule), and frees obj. A NULL obj (its
 * allocation failed) fails the batch with -ENOMEM. */
void nft_batch_add(struct nft_batch *b, struct netlink *nl, uint16_t type,
		   uint16_t family, uint16_t flags, int kind, size_t index,
		   const char *name, void *obj);
/* Ends the batch. Returns 0 or b->failed. */
int nft_batch_end(struct nft_batch *b, struct netlink *nl);
/* Frees what the batch holds; *b is empty after. */
void nft_batch_free(struct nft_batch *b);

/* Set elements written into a batch, NFT_ELEMS_PER_MESSAGE to a
 * NEWSETELEM message, each message recorded as (kind, index). */
#define NFT_ELEMS_PER_MESSAGE 1024

struct nftnl_set;
struct addrset;

struct nft_elems {
	struct nft_batch *b;
	struct netlink *nl;
	const char *table, *set;  /* of family inet */
	uint32_t set_id;          /* the set added in the same batch, or 0 */
	int kind;
	size_t index;
	struct nftnl_set *cur;    /* the message being filled */
	size_t count;
};

/* One element: key (len bytes), an interval's end or not. */
void nft_elems_add(struct nft_elems *w, const void *key, uint32_t len, bool interval_end);
/* The intervals of set's addresses of family (4 or 6) as nft writes
 * them: [lo, hi + 1) with an end at 0 before a first interval that does
 * not start there. */
void nft_elems_add_ranges(struct nft_elems *w, const struct addrset *set, int family);
/* Writes the message being filled; call after the last element. */
void nft_elems_flush(struct nft_elems *w);

/* What the kernel answered to a sent batch. */
struct nft_batch_acks {
	size_t acked;           /* messages acknowledged */
	size_t first_error;     /* entry of the first refused message, or SIZE_MAX */
	char extack[256];       /* the kernel's message about it, or "" */
};

/* Sends the ended batch on nl (answers an earlier exchange left unread
 * are read away first) and reads every acknowledgement. Returns 0 when
 * every message was acknowledged without error; the first refused
 * message's -errno (acks->first_error names its entry); an error about no
 * message of the batch (the batch as a whole: -ERESTART, the generation
 * changed); -ETIMEDOUT when answers stopped for 5 s before all came; or
 * the socket's -errno. */
int nft_batch_send(const struct nft_batch *b, struct netlink *nl,
		   struct nft_batch_acks *acks);

#endif
