/* nft backend, resident: table inet ifwall held by one process
 * ('ifwall run --backend nft').
 *
 * Kernel semantics this relies on (net/netfilter/nf_tables_api.c):
 *   - NFT_TABLE_F_OWNER binds the table to the netlink socket (port id)
 *     that set it. Every change by another socket is refused with EPERM;
 *     'flush ruleset' of another process skips the table.
 *   - NFT_TABLE_F_PERSIST (Linux 6.9+): when the owner's socket closes
 *     (exit, crash, kill -9) the table stays, with the owner flag cleared
 *     (an orphan: unprotected, enforced). Without persist the kernel
 *     deletes an owned table with its owner, which would open a kill
 *     switch, so ifwall only takes ownership where persist exists.
 *   - An orphan can be adopted: a NEWTABLE message with owner|persist on
 *     it makes the sender the owner, in the same transaction as the new
 *     rules. A table without persist cannot become owned in place; it is
 *     deleted and created again in one transaction (the flow state set is
 *     lost then, so replies of flows open before are evaluated as new).
 *
 * Where the kernel lacks persist (or when asked), the table is not owned
 * and the process watches nf_tables notifications (NFNLGRP_NFTABLES): a
 * change to table inet ifwall by any other process is answered by loading
 * the rule set again, within milliseconds. Between the change and the
 * restore the table is missing or altered: watching narrows the window,
 * it cannot close it. */
#ifndef IFWALL_BACKENDS_NFT_OWNER_H
#define IFWALL_BACKENDS_NFT_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netfilter/nf_tables.h>

#include "backends/nft.h"
#include "filter/addr.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif
/* nft_plan_load_socket: leave an existing table's flags as they are. */
#define NFT_TABLE_FLAGS_KEEP UINT32_MAX

struct mnl_socket;

/* nft_plan_load / nft_flush on a socket the caller keeps open (the owner's),
 * *seq being its message counter. table_flags: NFT_TABLE_FLAGS_KEEP, or
 * the flags table inet ifwall must carry (see above). */
int nft_plan_load_socket(struct mnl_socket *sock, uint32_t *seq,
			 const struct nft_plan *plan, uint32_t table_flags,
			 struct nft_load_stats *stats, struct nft_error *err);
int nft_flush_socket(struct mnl_socket *sock, uint32_t *seq, size_t *deleted,
		     struct nft_error *err);

enum nft_owner_mode {
	NFT_OWNER_OWNED = 0,  /* owner|persist flags: nobody else can change it */
	NFT_OWNER_WATCHING,   /* no flags: restored on every foreign change */
};

const char *nft_owner_mode_name(enum nft_owner_mode mode); /* "owned", "watching" */

struct nft_owner;

/* Opens the owner's netlink socket. watch: do not take ownership even
 * where the kernel could (the mode of kernels without persist). Returns 0
 * or -errno. */
int nft_owner_open(struct nft_owner **out, bool watch, struct nft_error *err);
/* Closes the socket: an owned table becomes an orphan and stays. NULL ok. */
void nft_owner_free(struct nft_owner *o);

/* Loads plan (the first call decides the mode: owned where the kernel
 * takes owner|persist, else watching). The plan must stay valid until the
 * next apply or free: a watching owner restores it. Returns 0 or -errno;
 * on failure the previous rules stay. */
int nft_owner_apply(struct nft_owner *o, const struct nft_plan *plan,
		    struct nft_load_stats *stats, struct nft_error *err);
enum nft_owner_mode nft_owner_mode(const struct nft_owner *o);
/* The netlink port id that owns the table. */
uint32_t nft_owner_portid(const struct nft_owner *o);

/* Watching: the notification socket to poll (POLLIN), or -1 when owned. */
int nft_owner_watch_fd(const struct nft_owner *o);

struct nft_owner_event {
	bool restored;        /* the table was loaded again */
	uint32_t by_pid;      /* the process whose change it answered (0: unknown) */
	char by_name[32];     /* its name, when the kernel says */
	double latency_ms;    /* from reading the change to the restore's commit */
};

/* Reads the pending notifications; when another process changed table
 * inet ifwall, loads the plan again. Returns 0 (ev says what happened) or
 * -errno (the restore failed; err says why). */
int nft_owner_watch_event(struct nft_owner *o, struct nft_owner_event *ev,
			  struct nft_error *err);

/* Deletes every ifwall table through the owner's socket (nft_flush). */
int nft_owner_flush(struct nft_owner *o, size_t *deleted, struct nft_error *err);
/* The plan's '(IFSPEC)' and/or cgroup sets written again (their contents
 * recomputed by the caller), through the owner's socket. */
int nft_owner_refill(struct nft_owner *o, const struct nft_plan *plan, bool ifaddr_sets,
		     bool cgroup_sets, struct nft_error *err);
/* 'ifwall table' on the owned table, through the owner's socket (the only
 * one the kernel lets change it); see nft_table_change(). A later restore
 * (watch mode) or reload writes the table from the rule file again. */
int nft_owner_table_change(struct nft_owner *o, const char *name, enum addrset_op op,
			   const struct ifw_prefix *p, size_t n, size_t *changed,
			   struct nft_error *err);

/* What the kernel says about table inet ifwall. */
struct nft_table_info {
	bool present;
	uint32_t flags;       /* NFT_TABLE_F_* */
	uint32_t owner;       /* port id, when flags has OWNER */
	size_t chains, rules, sets;
};

/* Reads table inet ifwall's flags and owner and counts its objects.
 * Returns 0 (info->present false without the table) or -errno. */
int nft_table_info_read(struct nft_table_info *info, struct nft_error *err);

/* A base chain of another table (ip, ip6, inet; not ifwall's) on one of
 * ifwall's hooks (input, forward, output). nftables accepts a packet only
 * when every base chain on its hook accepts it: a drop in another table
 * is final, whatever ifwall's table says (nft_foreign.c). */
struct nft_foreign_chain {
	char family[8];       /* "ip", "ip6", "inet" */
	char table[64];
	char chain[64];
	char hook[16];        /* "input", "forward", "output" */
	char type[16];        /* "filter", "nat", "route" */
	int32_t priority;
	bool policy_drop;
	size_t table_drop_rules; /* rules of its table that can drop or reject */
};

/* Lists them (*out: malloc'd array, free() it). Returns 0 or -errno. */
int nft_foreign_chains_read(struct nft_foreign_chain **out, size_t *count,
			    struct nft_error *err);

#endif
