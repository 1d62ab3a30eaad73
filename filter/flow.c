/* If-bound flow state.
 *
 * A flow is keyed by (family, proto, both endpoints, interface), ordered so
 * both directions give the same key. Entries live in a pool capped at
 * max_flows (memory is bounded whatever the traffic), found through an
 * open-addressing array of 32-bit (hash tag, index) slots, and on one LRU list per
 * timeout class and verdict (passed or blocked): the head of each list is
 * its stalest flow, so expiry and eviction are O(1) per flow. Interface
 * names are interned to a 16-bit index (reference counted) to keep entries
 * small.
 *
 * Why not uthash for the flows (it still keys fragments and names): its
 * handle is 56 bytes per entry and a lookup walks a chain of entries, a
 * cache miss each, on every packet. Here a lookup reads one slot (the slot
 * array is small enough to stay in cache) and then the one entry whose
 * hash matches, 96 bytes with everything a packet touches; the LRU links
 * sit in a separate compact array for the same reason. Non-first fragments follow the decision recorded
 * for their first fragment in a small bounded fragment table.
 *
 * The public struct flow is only materialised on demand (the *flow result,
 * callbacks), so the stored entry stays compact. */
#include "filter/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filter/hash.h"

#define NS_PER_SEC 1000000000ull
#define MAX_IFNAMES 65535
#define FRAG_TIMEOUT_NS (30 * NS_PER_SEC)
/* Stale flows are dropped in passing (at most EXPIRE_BUDGET every
 * SWEEP_INTERVAL_NS of the caller's clock), so dead flows are reported and
 * reclaimed even when the caller never calls flow_table_expire(). A stale
 * flow found by a packet is dropped then, whatever the pace. */
#define EXPIRE_BUDGET 256
#define SWEEP_INTERVAL_NS (NS_PER_SEC / 10)

enum timeout_class {
	CLASS_TCP,
	CLASS_TCP_CLOSED,
	CLASS_UDP,
	CLASS_ICMP,
	CLASS_OTHER,
	NCLASSES,
};

/* One LRU list per timeout class for passed flows, and another for blocked
 * ones: a full table evicts blocked flows (kept only for reporting) before
 * passed ones, so a flood of blocked packets cannot push established
 * connections out of the table. */
enum {
	LIST_BLOCKED = NCLASSES,
	NLISTS = 2 * NCLASSES,
};

enum {
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_ACK = 0x10,
};

/* Both endpoints in canonical order (a <= b), so a reply has the same key. */
struct flow_key {
	union {
		struct {
			uint8_t family, proto;
			uint16_t ifindex;
			uint16_t port_a, port_b;
			uint8_t addr_a[16], addr_b[16];
		};
		/* The same as five words: keys are built, hashed and
		 * compared a word at a time (a word read right after byte
		 * writes to it would wait for them to reach the cache). */
		uint64_t w[5];
	};
};

enum {
	FLOW_SWAPPED = 0x01,   /* the first packet went from b to a */
	FLOW_STICKY = 0x02,    /* blocked by a recheck: no re-decision */
	FLOW_HAS_UID = 0x04,   /* owner of the first packet, for rechecks */
	FLOW_HAS_MARK = 0x08,
	FLOW_HAS_PORTS = 0x10,
	FLOW_HAS_ICMP = 0x20,
	FLOW_FIN_A = 0x40,     /* a FIN seen from side a of the key */
	FLOW_FIN_B = 0x80,
};

/* Flow entries are addressed by their index in the pool; UINT32_MAX is
 * "none". */
#define NO_ENTRY UINT32_MAX

/* A flow's place in its LRU list. Kept beside the entries, not in them:
 * moving a flow to the tail rewrites its neighbours' links, and in this
 * compact array those are usually in cache where the neighbours' entries
 * are not. */
struct lru_link {
	uint32_t prev, next;
};

struct lru_list {
	uint32_t head, tail;
};

/* 96 bytes. The first 64 hold what a lookup reads (key, last_seen, rule,
 * packets, flags); small fields are bit fields so that the whole entry,
 * its link and its share of the slot array stay under 128 bytes per flow.
 * 48-bit packet counts and ids last years at a million a second. verdict
 * and rule are the latest decision (a blocked flow's packets may be
 * decided anew), first_verdict its first packet's, which is what a report
 * of the flow says, with its first rule: rule itself, unless a later
 * packet was decided by another rule (first_apart: the first rule is then
 * in ft->firsts, beside the entries; few flows have one). uid and mark are
 * the first packet's owner (FLOW_HAS_UID, FLOW_HAS_MARK say which is
 * known): divert's flows all have one. */
struct flow_entry {
	struct flow_key key;   /* family 0: a free entry */
	uint64_t last_seen;
	const struct rule *rule;
	uint64_t packets : 48, flags : 8, icmp_type : 8;
	uint64_t bytes;
	uint64_t first_seen;
	uint64_t id : 48;
	uint64_t verdict : 2, dir : 2, iftype : 2;
	uint64_t list : 4;     /* timeout class, + LIST_BLOCKED unless passed */
	uint64_t first_verdict : 2;
	uint64_t flagged : 1;  /* flow_table_flag_last() */
	uint64_t first_apart : 1;
	uint32_t uid, mark;
};

_Static_assert(sizeof(struct flow_entry) == 96, "flow entries are 96 bytes");
_Static_assert(NLISTS <= 16 && IFTYPE_TUNNEL < 4, "bit fields are wide enough");
_Static_assert(sizeof(struct flow_key) == 40, "flow keys are five 64-bit words");

/* The pool's arrays start at POOL_MIN entries and double, up to
 * max_flows; entries are handed out from the free list, else from the
 * never used part, which is never written (so not resident): memory
 * follows the live flows, not the limit. */
#define POOL_MIN 1024

/* A place in the fragment table's LRU list (pointers: fragments are few). */
struct frag_link {
	struct frag_link *prev, *next;
};

struct frag_list {
	struct frag_link *head, *tail;
};

struct frag_key {
	uint8_t family, proto;
	uint16_t ifindex;
	uint32_t id;
	uint8_t src[16], dst[16];
};

/* The decision of a first fragment, for the fragments that follow it. */
struct frag_entry {
	UT_hash_handle hh;
	struct frag_key key;
	struct flow_key flow;
	uint8_t verdict;
	const struct rule *rule;
	uint64_t last_seen;
	struct frag_link lru;
};

/* The fragment entry that holds link l (NULL stays NULL). */
#define FRAG_ENTRY(l) ((l) ? (struct frag_entry *)(void *)((char *)(l) - offsetof(struct frag_entry, lru)) : NULL)

struct ifname_entry {
	UT_hash_handle hh;
	char name[IFW_IFNAMSIZ]; /* key, NUL padded */
	uint32_t refs;           /* flows and fragments using it */
	uint16_t index;
};

struct flow_table {
	size_t max_flows;
	uint64_t timeout_ns[NCLASSES];
	size_t count;
	uint64_t next_id;
	uint64_t evictions;
	uint64_t next_sweep;
	struct lru_list lru[NLISTS];

	/* Open addressing with linear probing. A slot is 32 bits: the
	 * entry's index + 1 in the bits of index_mask (0: empty), the top
	 * bits of the key's hash above them as a tag, so probing mostly
	 * passes other keys without touching their entries. At most half
	 * full; a deletion shifts the probe run back (no tombstones). */
	uint32_t *slots;
	size_t slot_mask;      /* slot count - 1 (a power of two) */
	size_t max_slots;
	uint32_t index_mask;

	uint32_t free_entries; /* of pool entries, through links[].next */
	size_t allocated;      /* entries handed out at least once */
	size_t capacity;
	struct flow_entry *entries;
	struct lru_link *links;
	/* First rules of the flows whose rule changed (first_apart), as
	 * long as entries once one did (NULL before). */
	const struct rule **firsts;
	/* The flow the latest packet was counted in (flow_table_flag_last). */
	uint32_t last;

	struct frag_entry *frags;
	size_t nfrags, max_frags;
	struct frag_list frag_lru;

	struct ifname_entry *names_by_name;
	struct ifname_entry *last_name; /* the latest found */
	struct ifname_entry **names; /* by index */
	size_t names_cap;
	uint16_t *free_indexes;
	size_t nfree_indexes;
	size_t next_index;

	flow_visit_fn end_fn;
	void *end_ctx;
	/* The latest interface address table seen, for rechecks. */
	const struct ifaddr_table *ifaddrs;
	struct flow scratch;
};

/* --- hashing ------------------------------------------------------------- */

/* uthash's keys (filter/hash.h) are at most 40 bytes. */
_Static_assert(sizeof(struct flow_key) <= IFW_HASH_MAX_KEY &&
	       sizeof(struct frag_key) <= IFW_HASH_MAX_KEY &&
	       IFW_IFNAMSIZ <= IFW_HASH_MAX_KEY, "hash keys fit");

/* The bucket array is sized here, not by uthash's own rule: uthash doubles
 * it when one chain reaches 10 entries, so chains average 3 to 5 (a cache
 * miss per entry walked, on every packet), and under endless churn it keeps
 * doubling now and then, never shrinking. Here it doubles whenever there
 * are more entries than buckets (chains stay near 1), up to one bucket per
 * entry of the table's limit: bounded memory, 16 bytes per flow at most. */
static void size_buckets(UT_hash_table *tbl, size_t limit)
{
	int oomed = 0; /* out of memory: the table just stays as it is */

	if (!tbl)
		return;
	tbl->noexpand = 1;
	if (tbl->num_items > tbl->num_buckets && (size_t)tbl->num_buckets < limit)
		HASH_EXPAND_BUCKETS(hh, tbl, oomed);
	(void)oomed;
	tbl->noexpand = 1;
}

/* --- interface names ----------------------------------------------------- */

/* Copies a name into a NUL-padded key of IFW_IFNAMSIZ bytes. */
static void name_key(char *key, const char *name)
{
	size_t i = 0;

	for (; i < IFW_IFNAMSIZ - 1 && name[i]; i++)
		key[i] = name[i];
	memset(key + i, 0, IFW_IFNAMSIZ - i);
}

static struct ifname_entry *ifname_find(struct flow_table *ft, const char *name)
{
	char key[IFW_IFNAMSIZ];
	struct ifname_entry *e;

	/* Packets come in runs on one interface. name is a packet's
	 * IFW_IFNAMSIZ array: usually NUL padded, so two word compares. */
	if (ft->last_name) {
		uint64_t x[2], y[2];
		_Static_assert(IFW_IFNAMSIZ == sizeof(x), "a name is two words");
		memcpy(x, ft->last_name->name, sizeof(x));
		memcpy(y, name, sizeof(y));
		if (((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0 ||
		    strncmp(ft->last_name->name, name, IFW_IFNAMSIZ - 1) == 0)
			return ft->last_name;
	}
	name_key(key, name);
	HASH_FIND(hh, ft->names_by_name, key, IFW_IFNAMSIZ, e);
	if (e)
		ft->last_name = e;
	return e;
}

/* Returns the entry for name, creating it; NULL when out of memory or
 * indexes. The caller takes a reference. */
static struct ifname_entry *ifname_intern(struct flow_table *ft, const char *name)
{
	struct ifname_entry *e = ifname_find(ft, name);
	size_t index;

	if (e)
		return e;
	if (ft->nfree_indexes) {
		index = ft->free_indexes[--ft->nfree_indexes];
	} else {
		if (ft->next_index >= MAX_IFNAMES)
			return NULL;
		if (ft->next_index == ft->names_cap) {
			size_t cap = ft->names_cap ? ft->names_cap * 2 : 16;
			struct ifname_entry **n = realloc(ft->names, cap * sizeof(*n));
			uint16_t *f = realloc(ft->free_indexes, cap * sizeof(*f));
			if (n)
				ft->names = n;
			if (f)
				ft->free_indexes = f;
			if (!n || !f)
				return NULL;
			ft->names_cap = cap;
		}
		index = ft->next_index++;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		ft->free_indexes[ft->nfree_indexes++] = (uint16_t)index;
		return NULL;
	}
	name_key(e->name, name);
	e->index = (uint16_t)index;
	ifw_hash_oom = false;
	HASH_ADD(hh, ft->names_by_name, name, IFW_IFNAMSIZ, e);
	if (ifw_hash_oom) {
		free(e);
		ft->free_indexes[ft->nfree_indexes++] = (uint16_t)index;
		return NULL;
	}
	ft->names[index] = e;
	return e;
}

static void ifname_unref(struct flow_table *ft, uint16_t index)
{
	struct ifname_entry *e = ft->names[index];

	if (--e->refs)
		return;
	if (ft->last_name == e)
		ft->last_name = NULL;
	HASH_DELETE(hh, ft->names_by_name, e);
	ft->names[index] = NULL;
	ft->free_indexes[ft->nfree_indexes++] = index;
	free(e);
}

/* --- keys ---------------------------------------------------------------- */

static bool is_echo(const struct packet *p)
{
	if (p->family == 6)
		return p->icmp_type == 128 || p->icmp_type == 129;
	return p->icmp_type == 8 || p->icmp_type == 0;
}

/* The endpoints' "ports": transport ports, the echo identifier on both
 * sides for echo request/reply (so a reply finds its request), the type
 * on both sides for other icmp messages. */
static void packet_ports(const struct packet *p, uint16_t *sport, uint16_t *dport)
{
	if (p->has_ports) {
		*sport = p->sport;
		*dport = p->dport;
	} else if (p->has_icmp) {
		*sport = *dport = is_echo(p) ? p->icmp_id : p->icmp_type;
	} else {
		*sport = *dport = 0;
	}
}

static size_t addr_bytes(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

/* Words of a key: w[0] holds family, proto, ifindex and the ports in
 * struct flow_key's layout; an IPv4 address is its 4 bytes then zeros. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define KEY_WORD0(family, proto, ifindex, a, b) \
	((uint64_t)(family) | (uint64_t)(proto) << 8 | (uint64_t)(ifindex) << 16 | \
	 (uint64_t)(a) << 32 | (uint64_t)(b) << 48)
#define V4_WORD(x) ((uint64_t)(x))
#else
#define KEY_WORD0(family, proto, ifindex, a, b) \
	((uint64_t)(family) << 56 | (uint64_t)(proto) << 48 | (uint64_t)(ifindex) << 32 | \
	 (uint64_t)(a) << 16 | (uint64_t)(b))
#define V4_WORD(x) ((uint64_t)(x) << 32)
#endif

/* Builds the canonical key (the lower address first, as memcmp orders
 * them; on a tie the lower port); returns true when src is the b side. */
static bool flow_key_of(const struct packet *p, uint16_t ifindex,
			uint64_t w[5])
{
	uint16_t sport, dport;
	uint64_t s0, s1, d0, d1;
	int c;
	bool swapped;

	packet_ports(p, &sport, &dport);
	if (p->family == 4) {
		uint32_t s, d, sb, db;
		memcpy(&s, p->src.a, 4);
		memcpy(&d, p->dst.a, 4);
		sb = __builtin_bswap32(s);
		db = __builtin_bswap32(d);
		c = (sb > db) - (sb < db);
		s0 = V4_WORD(s);
		d0 = V4_WORD(d);
		s1 = d1 = 0;
	} else {
		uint64_t sh, dh;
		memcpy(&s0, p->src.a, 8);
		memcpy(&s1, p->src.a + 8, 8);
		memcpy(&d0, p->dst.a, 8);
		memcpy(&d1, p->dst.a + 8, 8);
		sh = __builtin_bswap64(s0);
		dh = __builtin_bswap64(d0);
		if (sh == dh) {
			sh = __builtin_bswap64(s1);
			dh = __builtin_bswap64(d1);
		}
		c = (sh > dh) - (sh < dh);
	}
	swapped = c > 0 || (c == 0 && sport > dport);
	if (swapped) {
		w[0] = KEY_WORD0(p->family, p->proto, ifindex, dport, sport);
		w[1] = d0;
		w[2] = d1;
		w[3] = s0;
		w[4] = s1;
	} else {
		w[0] = KEY_WORD0(p->family, p->proto, ifindex, sport, dport);
		w[1] = s0;
		w[2] = s1;
		w[3] = d0;
		w[4] = d1;
	}
	return swapped;
}

static void frag_key_of(const struct packet *p, uint16_t ifindex,
			struct frag_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = p->family;
	k->proto = p->proto;
	k->ifindex = ifindex;
	k->id = p->frag_id;
	memcpy(k->src, p->src.a, addr_bytes(p->family));
	memcpy(k->dst, p->dst.a, addr_bytes(p->family));
}

/* --- entries, lists, pool ------------------------------------------------ */

static enum timeout_class class_of(const struct packet *p)
{
	switch (p->proto) {
	case 6: return CLASS_TCP;
	case 17: case 136: return CLASS_UDP;
	case 1: case 58: return CLASS_ICMP;
	default: return CLASS_OTHER;
	}
}

static inline struct flow_entry *entry_at(const struct flow_table *ft, uint32_t i)
{
	return &ft->entries[i];
}

static inline struct lru_link *link_at(const struct flow_table *ft, uint32_t i)
{
	return &ft->links[i];
}

static void lru_unlink(struct flow_table *ft, struct lru_list *l, uint32_t i)
{
	struct lru_link *n = link_at(ft, i);

	if (n->prev != NO_ENTRY)
		link_at(ft, n->prev)->next = n->next;
	else
		l->head = n->next;
	if (n->next != NO_ENTRY)
		link_at(ft, n->next)->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NO_ENTRY;
}

static void lru_append(struct flow_table *ft, struct lru_list *l, uint32_t i)
{
	struct lru_link *n = link_at(ft, i);

	n->next = NO_ENTRY;
	n->prev = l->tail;
	if (l->tail != NO_ENTRY)
		link_at(ft, l->tail)->next = i;
	else
		l->head = i;
	l->tail = i;
}

static void lru_clear(struct flow_table *ft)
{
	for (int c = 0; c < NLISTS; c++)
		ft->lru[c].head = ft->lru[c].tail = NO_ENTRY;
}

static void frag_unlink(struct frag_list *l, struct frag_link *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

static void frag_append(struct frag_list *l, struct frag_link *n)
{
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

static struct frag_entry *lru_oldest_frag(const struct flow_table *ft)
{
	return FRAG_ENTRY(ft->frag_lru.head);
}

/* Doubles the pool's arrays (up to max_flows). False when out of memory. */
static bool pool_grow(struct flow_table *ft)
{
	size_t cap = ft->capacity ? ft->capacity * 2 : POOL_MIN;
	struct flow_entry *entries;
	struct lru_link *links;

	if (cap > ft->max_flows)
		cap = ft->max_flows;
	/* Large blocks are mapped, and realloc moves their pages without
	 * copying or touching the unused tail. */
	links = realloc(ft->links, cap * sizeof(*links));
	if (!links)
		return false;
	ft->links = links;
	entries = realloc(ft->entries, cap * sizeof(*entries));
	if (!entries)
		return false;
	ft->entries = entries;
	if (ft->firsts) {
		const struct rule **firsts = realloc(ft->firsts, cap * sizeof(*firsts));
		if (!firsts)
			return false;
		ft->firsts = firsts;
	}
	ft->capacity = cap;
	return true;
}

/* The first rules' array, from the first flow whose rule changes on.
 * False when out of memory. */
static bool firsts_reserve(struct flow_table *ft)
{
	if (ft->firsts)
		return true;
	ft->firsts = calloc(ft->capacity ? ft->capacity : 1, sizeof(*ft->firsts));
	return ft->firsts != NULL;
}

/* A later decision of flow i, by rule: its first rule stays for reports.
 * Out of memory, the first rule stays as the latest too (only a report
 * names it: the verdict is the caller's). */
static void set_rule(struct flow_table *ft, uint32_t i, const struct rule *rule)
{
	struct flow_entry *e = entry_at(ft, i);

	if (rule == e->rule)
		return;
	if (!e->first_apart) {
		if (!firsts_reserve(ft))
			return;
		ft->firsts[i] = e->rule;
		e->first_apart = 1;
	}
	e->rule = rule;
}

/* A free entry's index, or NO_ENTRY (the pool is at max_flows, or out of
 * memory). */
static uint32_t pool_get(struct flow_table *ft)
{
	uint32_t i;

	if (ft->free_entries != NO_ENTRY) {
		i = ft->free_entries;
		ft->free_entries = link_at(ft, i)->next;
	} else {
		if (ft->allocated == ft->max_flows)
			return NO_ENTRY;
		if (ft->allocated == ft->capacity && !pool_grow(ft))
			return NO_ENTRY;
		i = (uint32_t)ft->allocated++;
	}
	memset(entry_at(ft, i), 0, sizeof(struct flow_entry));
	return i;
}

static void pool_put(struct flow_table *ft, uint32_t i)
{
	entry_at(ft, i)->key.family = 0;
	link_at(ft, i)->next = ft->free_entries;
	ft->free_entries = i;
}

/* --- the slot array ------------------------------------------------------ */

/* The flow key as five 64-bit words. */
/* NH over the key's 64-bit words (three independent 64x64->128 bit
 * products), then a full mix: the per-packet hash, so it is the cheap one. */
static inline uint32_t flow_hash_words(const uint64_t *w)
{
	const uint64_t *key = ifw_hash_wide_keys;
	unsigned __int128 sum;
	uint64_t h;

	sum = (unsigned __int128)(w[0] + key[0]) * (w[1] + key[1]);
	sum += (unsigned __int128)(w[2] + key[2]) * (w[3] + key[3]);
	sum += (unsigned __int128)(w[4] + key[4]) * key[5];
	h = ifw_hash_mix64((uint64_t)sum ^ (uint64_t)(sum >> 64) ^ ifw_hash_seed);
	return (uint32_t)(h ^ (h >> 32));
}

static inline bool key_equal(const struct flow_key *a, const struct flow_key *b)
{
	const uint64_t *x = a->w, *y = b->w;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4])) == 0;
}

static inline uint32_t slot_of(const struct flow_table *ft, uint32_t hash,
			       uint32_t i)
{
	return (hash & ~ft->index_mask) | (i + 1);
}

static inline uint32_t slot_entry(const struct flow_table *ft, uint32_t s)
{
	return (s & ft->index_mask) - 1;
}

static inline uint32_t flow_hash(const struct flow_key *k)
{
	return flow_hash_words(k->w);
}

/* Where the entry in slot s would be without collisions (its key's hash,
 * recomputed: only growing and deleting need it). */
static size_t slot_home(const struct flow_table *ft, uint32_t s, size_t mask)
{
	return flow_hash(&entry_at(ft, slot_entry(ft, s))->key) & mask;
}

/* The entry holding key k (of hash h), or NO_ENTRY. */
static inline uint32_t slot_find(const struct flow_table *ft,
				 const struct flow_key *k, uint32_t h)
{
	size_t at = h & ft->slot_mask;

	if (!ft->slots)
		return NO_ENTRY;
	for (;; at = (at + 1) & ft->slot_mask) {
		uint32_t s = ft->slots[at];
		if (!s)
			return NO_ENTRY;
		if (((s ^ h) & ~ft->index_mask) == 0) {
			uint32_t i = slot_entry(ft, s);
			const struct flow_entry *e = entry_at(ft, i);
			/* The lookup reads both cache lines of the entry. */
			__builtin_prefetch((const char *)e + 64);
			if (key_equal(&e->key, k))
				return i;
		}
	}
}

static void slot_put(uint32_t *slots, size_t mask, size_t home, uint32_t s)
{
	size_t at = home;

	while (slots[at])
		at = (at + 1) & mask;
	slots[at] = s;
}

/* Room for one more entry: the array grows (doubling, up to two slots per
 * entry of max_flows) to stay at most half full. False when out of memory. */
static bool slots_reserve(struct flow_table *ft)
{
	size_t n = ft->slots ? ft->slot_mask + 1 : 0, size;
	uint32_t *slots;

	if (ft->slots && (ft->count + 1) * 2 <= n)
		return true;
	/* Full size (never more than half full then), or no memory to grow:
	 * go on while a slot stays empty, which ends every probe. */
	if (ft->slots && n >= ft->max_slots)
		return ft->count + 1 < n;
	size = n ? n * 2 : 64;
	slots = calloc(size, sizeof(*slots));
	if (!slots)
		return ft->slots && ft->count + 1 < n;
	for (size_t k = 0; k < n; k++)
		if (ft->slots[k])
			slot_put(slots, size - 1, slot_home(ft, ft->slots[k], size - 1),
				 ft->slots[k]);
	free(ft->slots);
	ft->slots = slots;
	ft->slot_mask = size - 1;
	return true;
}

/* Removes entry i (key hash h) from the array: backward shift, so probe
 * sequences stay unbroken without tombstones. */
static void slot_delete(struct flow_table *ft, uint32_t h, uint32_t i)
{
	size_t mask = ft->slot_mask, at = h & mask, next;
	uint32_t want = slot_of(ft, h, i);

	while (ft->slots[at] != want)
		at = (at + 1) & mask;
	for (next = (at + 1) & mask; ft->slots[next]; next = (next + 1) & mask) {
		size_t home = slot_home(ft, ft->slots[next], mask);
		/* The entry at next may move back to at when its home is not
		 * cyclically within (at, next]. */
		if (((next - home) & mask) >= ((next - at) & mask)) {
			ft->slots[at] = ft->slots[next];
			at = next;
		}
	}
	ft->slots[at] = 0;
}

static uint32_t index_of(const struct flow_table *ft, const struct flow_entry *e)
{
	return (uint32_t)(e - ft->entries);
}

/* The public view of an entry. Every field is assigned (no memset: this
 * runs for every packet whose flow the caller asks for); key addresses are
 * zero padded, so whole 16-byte copies are right for IPv4 too. */
static void materialize(const struct flow_table *ft, const struct flow_entry *e,
			struct flow *f)
{
	bool swapped = e->flags & FLOW_SWAPPED;

	f->family = e->key.family;
	f->proto = e->key.proto;
	f->dir = (unsigned)e->dir;
	f->src.family = f->dst.family = e->key.family;
	memcpy(f->src.a, swapped ? e->key.addr_b : e->key.addr_a, 16);
	memcpy(f->dst.a, swapped ? e->key.addr_a : e->key.addr_b, 16);
	if (e->flags & FLOW_HAS_ICMP) {
		f->sport = e->key.port_a; /* echo id (or type) on both sides */
		f->dport = (uint16_t)e->icmp_type;
	} else {
		f->sport = swapped ? e->key.port_b : e->key.port_a;
		f->dport = swapped ? e->key.port_a : e->key.port_b;
	}
	memcpy(f->ifname, ft->names[e->key.ifindex]->name, IFW_IFNAMSIZ);
	f->verdict = (enum verdict)e->verdict;
	f->rule = e->rule;
	f->first_verdict = (enum verdict)e->first_verdict;
	f->first_rule = e->first_apart ? ft->firsts[index_of(ft, e)] : e->rule;
	f->flagged = e->flagged;
	f->packets = e->packets;
	f->bytes = e->bytes;
	f->first_seen = e->first_seen;
	f->last_seen = e->last_seen;
	f->id = e->id;
}

/* Removes flow i, telling the end callback first. */
static void flow_remove(struct flow_table *ft, uint32_t i)
{
	struct flow_entry *e = entry_at(ft, i);

	if (ft->end_fn) {
		struct flow f;
		materialize(ft, e, &f);
		ft->end_fn(&f, ft->end_ctx);
	}
	if (ft->last == i)
		ft->last = NO_ENTRY;
	slot_delete(ft, flow_hash(&e->key), i);
	lru_unlink(ft, &ft->lru[e->list], i);
	ifname_unref(ft, e->key.ifindex);
	ft->count--;
	pool_put(ft, i);
}

static bool flow_expired(const struct flow_table *ft,
			 const struct flow_entry *e, uint64_t now)
{
	return now > e->last_seen &&
	       now - e->last_seen > ft->timeout_ns[e->list % NCLASSES];
}

/* The least recently used flow of lists [from, to), or NO_ENTRY. */
static uint32_t oldest_in(struct flow_table *ft, int from, int to)
{
	uint32_t oldest = NO_ENTRY;
	const struct flow_entry *o = NULL;

	for (int c = from; c < to; c++) {
		uint32_t h = ft->lru[c].head;
		const struct flow_entry *e;
		if (h == NO_ENTRY)
			continue;
		e = entry_at(ft, h);
		if (!o || e->last_seen < o->last_seen ||
		    (e->last_seen == o->last_seen && e->id < o->id)) {
			oldest = h;
			o = e;
		}
	}
	return oldest;
}

/* The flow to evict from a full table: the least recently used blocked
 * flow, else the least recently used passed one. */
static uint32_t eviction_victim(struct flow_table *ft)
{
	uint32_t i = oldest_in(ft, LIST_BLOCKED, NLISTS);

	return i != NO_ENTRY ? i : oldest_in(ft, 0, NCLASSES);
}

/* Moves flow i to the list its class and verdict call for (at the tail). */
static void flow_relist(struct flow_table *ft, uint32_t i, int tclass)
{
	struct flow_entry *e = entry_at(ft, i);
	unsigned list = (unsigned)tclass + (e->verdict == VERDICT_PASS ? 0 : LIST_BLOCKED);

	if (list == e->list && ft->lru[list].tail == i)
		return;
	lru_unlink(ft, &ft->lru[e->list], i);
	e->list = list;
	lru_append(ft, &ft->lru[list], i);
}

static size_t expire_some(struct flow_table *ft, uint64_t now, size_t budget)
{
	size_t n = 0;

	for (int c = 0; c < NLISTS; c++) {
		uint32_t i;
		while (n < budget && (i = ft->lru[c].head) != NO_ENTRY &&
		       flow_expired(ft, entry_at(ft, i), now)) {
			flow_remove(ft, i);
			n++;
		}
	}
	return n;
}

static int cmp_id(const void *a, const void *b)
{
	const struct flow_entry *x = *(const struct flow_entry *const *)a;
	const struct flow_entry *y = *(const struct flow_entry *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* A live entry and its id, for sorting. */
struct id_entry {
	uint64_t id;
	struct flow_entry *e;
};

#define RADIX_BITS 11

/* Sorts n entries by id (all distinct): a radix sort of the ids less the
 * smallest, RADIX_BITS at a time (the live ids of a table span little
 * more than its limit: two or three passes, no comparisons). False when
 * out of memory. */
static bool sort_by_id(struct flow_entry **all, size_t n)
{
	struct id_entry *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
	uint64_t min = UINT64_MAX, max = 0;

	if (!a || !b) {
		free(a);
		free(b);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		a[i] = (struct id_entry){ all[i]->id, all[i] };
		if (a[i].id < min)
			min = a[i].id;
		if (a[i].id > max)
			max = a[i].id;
	}
	for (unsigned shift = 0; shift < 64 && (max - min) >> shift; shift += RADIX_BITS) {
		size_t start[(1u << RADIX_BITS) + 1] = { 0 };
		struct id_entry *t;
		for (size_t i = 0; i < n; i++)
			start[((a[i].id - min) >> shift & ((1u << RADIX_BITS) - 1)) + 1]++;
		for (size_t d = 1; d <= (1u << RADIX_BITS); d++)
			start[d] += start[d - 1];
		for (size_t i = 0; i < n; i++)
			b[start[(a[i].id - min) >> shift & ((1u << RADIX_BITS) - 1)]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n; i++)
		all[i] = a[i].e;
	free(a);
	free(b);
	return true;
}

/* Live flows in creation order, in a new array (*n of them); NULL when
 * out of memory or empty. */
static struct flow_entry **live_entries(const struct flow_table *ft, size_t *n)
{
	struct flow_entry **all;

	*n = 0;
	if (!ft->count)
		return NULL;
	all = malloc(ft->count * sizeof(*all));
	if (!all)
		return NULL;
	for (size_t i = 0; i < ft->allocated; i++) {
		struct flow_entry *e = entry_at(ft, (uint32_t)i);
		if (e->key.family)
			all[(*n)++] = e;
	}
	if (*n && !sort_by_id(all, *n))
		qsort(all, *n, sizeof(*all), cmp_id);
	return all;
}


/* --- fragments ----------------------------------------------------------- */

static void frag_remove(struct flow_table *ft, struct frag_entry *f)
{
	HASH_DELETE(hh, ft->frags, f);
	frag_unlink(&ft->frag_lru, &f->lru);
	ifname_unref(ft, f->key.ifindex);
	ft->nfrags--;
	free(f);
}

static void frag_expire(struct flow_table *ft, uint64_t now)
{
	struct frag_entry *f;

	while ((f = lru_oldest_frag(ft)) && now > f->last_seen &&
	       now - f->last_seen > FRAG_TIMEOUT_NS)
		frag_remove(ft, f);
}

/* Remembers the decision of a first fragment. Best effort: when memory is
 * short the following fragments are blocked, which is the safe side. */
static void frag_record(struct flow_table *ft, const struct packet *p,
			struct ifname_entry *name, const struct flow_key *flow,
			const struct decision *d, uint64_t now)
{
	struct frag_key k;
	struct frag_entry *f;

	frag_key_of(p, name->index, &k);
	HASH_FIND(hh, ft->frags, &k, sizeof(k), f);
	if (f) {
		frag_unlink(&ft->frag_lru, &f->lru);
	} else {
		if (ft->nfrags >= ft->max_frags)
			frag_remove(ft, lru_oldest_frag(ft));
		f = calloc(1, sizeof(*f));
		if (!f)
			return;
		f->key = k;
		ifw_hash_oom = false;
		HASH_ADD(hh, ft->frags, key, sizeof(f->key), f);
		if (ifw_hash_oom) {
			free(f);
			return;
		}
		size_buckets(ft->frags->hh.tbl, ft->max_frags);
		name->refs++;
		ft->nfrags++;
	}
	f->flow = *flow;
	f->verdict = (uint8_t)d->verdict;
	f->rule = d->rule;
	f->last_seen = now;
	frag_append(&ft->frag_lru, &f->lru);
}

/* --- the table ----------------------------------------------------------- */

struct flow_table *flow_table_new(const struct flow_limits *limits)
{
	struct flow_limits l = { 0 };
	struct flow_table *ft;

	if (limits)
		l = *limits;
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	ifw_hash_init();
	ft->max_flows = l.max_flows ? l.max_flows : 65536;
	/* Entry indexes are 32 bits, one value meaning none. */
	if (ft->max_flows > UINT32_MAX - 1)
		ft->max_flows = UINT32_MAX - 1;
	ft->max_slots = 64;
	while (ft->max_slots < 2 * ft->max_flows)
		ft->max_slots *= 2;
	ft->index_mask = 1;
	while (ft->index_mask < ft->max_flows && ft->index_mask < UINT32_MAX)
		ft->index_mask = ft->index_mask * 2 + 1;
	ft->free_entries = NO_ENTRY;
	ft->last = NO_ENTRY;
	lru_clear(ft);
	ft->timeout_ns[CLASS_TCP] = (l.tcp_timeout ? l.tcp_timeout : 3600) * NS_PER_SEC;
	ft->timeout_ns[CLASS_TCP_CLOSED] = (l.tcp_closed_timeout ? l.tcp_closed_timeout : 10) * NS_PER_SEC;
	ft->timeout_ns[CLASS_UDP] = (l.udp_timeout ? l.udp_timeout : 60) * NS_PER_SEC;
	ft->timeout_ns[CLASS_ICMP] = (l.icmp_timeout ? l.icmp_timeout : 30) * NS_PER_SEC;
	ft->timeout_ns[CLASS_OTHER] = (l.other_timeout ? l.other_timeout : 60) * NS_PER_SEC;
	ft->max_frags = ft->max_flows / 16;
	if (ft->max_frags < 64)
		ft->max_frags = 64;
	if (ft->max_frags > 4096)
		ft->max_frags = 4096;
	return ft;
}

void flow_table_free(struct flow_table *ft)
{
	struct frag_entry *f;
	struct flow_entry **all;
	size_t n;

	if (!ft)
		return;
	/* Creation order, so a reporter sees flows as they began. */
	all = live_entries(ft, &n);
	for (size_t k = 0; k < n; k++)
		flow_remove(ft, index_of(ft, all[k]));
	free(all);
	/* Out of memory for the order: the rest in pool order. */
	for (size_t i = 0; ft->count && i < ft->allocated; i++)
		if (entry_at(ft, (uint32_t)i)->key.family)
			flow_remove(ft, (uint32_t)i);
	/* Names go with their last flow or fragment. */
	while ((f = lru_oldest_frag(ft)))
		frag_remove(ft, f);
	free(ft->entries);
	free(ft->links);
	free(ft->firsts);
	free(ft->slots);
	free(ft->names);
	free(ft->free_indexes);
	free(ft);
}

void flow_table_set_end_callback(struct flow_table *ft, flow_visit_fn fn,
				 void *ctx)
{
	if (!ft)
		return;
	ft->end_fn = fn;
	ft->end_ctx = ctx;
}

size_t flow_table_count(const struct flow_table *ft)
{
	return ft ? ft->count : 0;
}

uint64_t flow_table_evictions(const struct flow_table *ft)
{
	return ft ? ft->evictions : 0;
}

void flow_table_foreach(const struct flow_table *ft, flow_visit_fn fn, void *ctx)
{
	struct flow_entry **all;
	struct flow f;
	size_t n;

	if (!ft || !fn)
		return;
	all = live_entries(ft, &n);
	if (!all) { /* out of memory for the order: pool order */
		for (size_t i = 0; i < ft->allocated; i++) {
			const struct flow_entry *e = entry_at(ft, (uint32_t)i);
			if (e->key.family) {
				materialize(ft, e, &f);
				fn(&f, ctx);
			}
		}
		return;
	}
	for (size_t k = 0; k < n; k++) {
		materialize(ft, all[k], &f);
		fn(&f, ctx);
	}
	free(all);
}

/* Creates a flow for p with decision d. NO_ENTRY when no entry can be had
 * (out of memory): the packet is then decided without state. */
static uint32_t flow_create(struct flow_table *ft, const struct packet *p,
			    struct ifname_entry *name, const struct flow_key *k,
			    uint32_t hash, bool swapped,
			    const struct decision *d, uint64_t now)
{
	struct flow_entry *e;
	uint32_t i;

	if (ft->count >= ft->max_flows) {
		uint32_t victim = eviction_victim(ft);
		if (victim == NO_ENTRY)
			return NO_ENTRY;
		flow_remove(ft, victim);
		ft->evictions++;
	}
	if (!slots_reserve(ft))
		return NO_ENTRY;
	i = pool_get(ft);
	if (i == NO_ENTRY)
		return NO_ENTRY;
	e = entry_at(ft, i);
	e->key = *k;
	e->dir = p->dir;
	e->verdict = d->verdict;
	e->flags = (uint8_t)((swapped ? FLOW_SWAPPED : 0) |
			     (p->has_uid ? FLOW_HAS_UID : 0) |
			     (p->has_mark ? FLOW_HAS_MARK : 0) |
			     (p->has_ports ? FLOW_HAS_PORTS : 0) |
			     (p->has_icmp ? FLOW_HAS_ICMP : 0));
	e->iftype = p->iftype;
	e->icmp_type = p->icmp_type;
	e->uid = p->has_uid ? p->uid : 0;
	e->mark = p->has_mark ? p->mark : 0;
	e->rule = d->rule;
	e->first_verdict = d->verdict;
	e->first_apart = 0;
	e->first_seen = now;
	e->last_seen = now;
	e->id = ft->next_id++;
	e->list = (unsigned)class_of(p) + (d->verdict == VERDICT_PASS ? 0 : LIST_BLOCKED);
	slot_put(ft->slots, ft->slot_mask, hash & ft->slot_mask, slot_of(ft, hash, i));
	lru_append(ft, &ft->lru[e->list], i);
	name->refs++;
	ft->count++;
	return i;
}

/* Notes a FIN or RST of p in e; true once the connection is closed: a
 * RST, or a FIN from each side (a half-closed connection may still carry
 * data for a long time). */
static bool tcp_closing(struct flow_entry *e, const struct packet *p)
{
	bool from_a;

	if (p->tcp_flags & TCP_RST)
		return true;
	if (!(p->tcp_flags & TCP_FIN))
		return false;
	from_a = p->sport == e->key.port_a &&
		 memcmp(p->src.a, e->key.addr_a, addr_bytes(e->key.family)) == 0;
	e->flags |= from_a ? FLOW_FIN_A : FLOW_FIN_B;
	return (e->flags & (FLOW_FIN_A | FLOW_FIN_B)) == (FLOW_FIN_A | FLOW_FIN_B);
}

/* Counts a packet in flow i and refreshes its place in the LRU. */
static void flow_touch(struct flow_table *ft, uint32_t i,
		       const struct packet *p, uint64_t now)
{
	struct flow_entry *e = entry_at(ft, i);
	int tclass = (int)(e->list % NCLASSES);

	e->packets++;
	e->bytes += p->len;
	if (now > e->last_seen)
		e->last_seen = now;
	if (tclass == CLASS_TCP && p->proto == 6 && tcp_closing(e, p))
		tclass = CLASS_TCP_CLOSED;
	flow_relist(ft, i, tclass);
}

/* True when p goes the way e's first packet went, with the same owner, so
 * the rules cannot tell them apart (keys already match). */
static bool same_as_first(const struct flow_table *ft, uint32_t i,
			  const struct packet *p, bool swapped)
{
	const struct flow_entry *e = entry_at(ft, i);

	/* Entries do not keep the cgroup path: a packet with one is decided
	 * anew (only live backends know it, and only for new flows). */
	return !p->has_cgroup && p->dir == e->dir && swapped == !!(e->flags & FLOW_SWAPPED) &&
	       p->has_uid == !!(e->flags & FLOW_HAS_UID) &&
	       (!p->has_uid || p->uid == e->uid) &&
	       p->has_mark == !!(e->flags & FLOW_HAS_MARK) &&
	       (!p->has_mark || p->mark == e->mark) &&
	       p->has_ports == !!(e->flags & FLOW_HAS_PORTS) &&
	       p->has_icmp == !!(e->flags & FLOW_HAS_ICMP) &&
	       (!p->has_icmp || p->icmp_type == e->icmp_type);
}

static struct decision stored_decision(const struct flow_entry *e)
{
	struct decision d = { .verdict = (enum verdict)e->verdict, .rule = e->rule };
	return d;
}

static const struct flow *result_flow(struct flow_table *ft, uint32_t i)
{
	if (i == NO_ENTRY)
		return NULL;
	materialize(ft, entry_at(ft, i), &ft->scratch);
	return &ft->scratch;
}

/* Flow i (NO_ENTRY: none) is the one the packet was counted in: the
 * latest for flow_table_flag_last(), and *flow when the caller asks. */
static void set_result(struct flow_table *ft, uint32_t i, const struct flow **flow)
{
	ft->last = i;
	if (flow)
		*flow = result_flow(ft, i);
}

static uint32_t flow_find(const struct flow_table *ft, const struct flow_key *k)
{
	return slot_find(ft, k, flow_hash(k));
}

/* A non-first fragment: the decision of its first fragment, else block. */
static struct decision fragment_decision(struct flow_table *ft,
					 const struct packet *p, uint64_t now,
					 const struct flow **flow)
{
	struct decision d = { .verdict = VERDICT_BLOCK };
	struct ifname_entry *name = ifname_find(ft, p->ifname);
	struct frag_key k;
	struct frag_entry *f = NULL;
	uint32_t i;

	if (name) {
		frag_key_of(p, name->index, &k);
		HASH_FIND(hh, ft->frags, &k, sizeof(k), f);
	}
	if (!f)
		return d;
	if (now > f->last_seen && now - f->last_seen > FRAG_TIMEOUT_NS) {
		frag_remove(ft, f);
		return d;
	}
	i = flow_find(ft, &f->flow);
	d.verdict = (enum verdict)f->verdict;
	d.rule = f->rule;
	if (i != NO_ENTRY && (entry_at(ft, i)->flags & FLOW_STICKY))
		d = stored_decision(entry_at(ft, i));
	f->last_seen = now;
	frag_unlink(&ft->frag_lru, &f->lru);
	frag_append(&ft->frag_lru, &f->lru);
	if (i != NO_ENTRY) {
		flow_touch(ft, i, p, now);
		set_result(ft, i, flow);
	}
	return d;
}

/* An ICMP error quoting a packet of a passed flow on this interface (a
 * port unreachable, a packet too big on the way of a tunnel's endpoint
 * flow) passes by that flow's state, like conntrack's RELATED. The error
 * must be addressed to the quoted packet's sender. NO_ENTRY when
 * unrelated. */
static uint32_t related_flow(struct flow_table *ft, const struct packet *p,
			     uint64_t now)
{
	struct ifname_entry *name;
	struct packet q;
	struct flow_key k;
	uint32_t i;

	if (!p->has_icmp || !p->has_inner ||
	    memcmp(p->inner.src.a, p->dst.a, sizeof(p->dst.a)) != 0)
		return NO_ENTRY;
	name = ifname_find(ft, p->ifname);
	if (!name)
		return NO_ENTRY;
	memset(&q, 0, sizeof(q));
	q.family = p->family;
	q.proto = p->inner.proto;
	q.src = p->inner.src;
	q.dst = p->inner.dst;
	q.has_ports = p->inner.has_ports;
	q.sport = p->inner.sport;
	q.dport = p->inner.dport;
	q.has_icmp = p->inner.has_icmp;
	q.icmp_type = p->inner.icmp_type;
	q.icmp_id = p->inner.icmp_id;
	if (q.has_icmp && !is_echo(&q))
		return NO_ENTRY; /* errors are not sent about errors */
	flow_key_of(&q, name->index, k.w);
	i = flow_find(ft, &k);
	if (i == NO_ENTRY || entry_at(ft, i)->verdict != VERDICT_PASS ||
	    flow_expired(ft, entry_at(ft, i), now))
		return NO_ENTRY;
	return i;
}

static void set_decision(struct decision *d, enum verdict verdict,
			 const struct rule *rule)
{
	d->verdict = verdict;
	d->rule = rule;
	d->skipped = false;
}

/* flow_table_packet() into *d (filled a field at a time: a copy of a
 * struct just written would wait for the writes to reach the cache), with
 * the key flow_table_prefetch() made for p when pf is not NULL. */
static void packet_decide(struct flow_table *ft, const struct ruleset *rs,
			  const struct packet *p, uint64_t now,
			  const struct flow **flow, const struct flow_prefetch *pf,
			  struct decision *d)
{
	struct ifname_entry *name;
	struct flow_key k;
	struct flow_entry *e = NULL;
	uint32_t i, hash;
	bool swapped;

	set_decision(d, VERDICT_BLOCK, NULL);
	if (flow)
		*flow = NULL;
	if (!ft || !p)
		return;
	ft->last = NO_ENTRY;
	if (!rs)
		return;
	if (p->ifaddrs)
		ft->ifaddrs = p->ifaddrs;
	if (rs->skip.count && ifmatch_matches(&rs->skip, p->ifname, p->iftype)) {
		d->verdict = VERDICT_PASS;
		d->skipped = true;
		return;
	}
	if (now >= ft->next_sweep) {
		expire_some(ft, now, EXPIRE_BUDGET);
		frag_expire(ft, now);
		ft->next_sweep = now + SWEEP_INTERVAL_NS;
	}
	if (p->fragment && !p->first_fragment) {
		*d = fragment_decision(ft, p, now, flow);
		return;
	}

	i = related_flow(ft, p, now);
	if (i != NO_ENTRY) {
		e = entry_at(ft, i);
		set_decision(d, (enum verdict)e->verdict, e->rule);
		flow_touch(ft, i, p, now);
		set_result(ft, i, flow);
		return;
	}

	name = ifname_intern(ft, p->ifname);
	if (!name) { /* out of memory: decide without state */
		*d = ruleset_decide(rs, p);
		return;
	}
	/* Held while flows come and go below, so the name stays interned. */
	name->refs++;
	if (pf && pf->valid && pf->ifindex == name->index) {
		/* Made for this packet and this interface index. */
		memcpy(k.w, pf->key, sizeof(k.w));
		hash = pf->hash;
		swapped = pf->swapped;
	} else {
		swapped = flow_key_of(p, name->index, k.w);
		hash = flow_hash(&k);
	}
	i = slot_find(ft, &k, hash);
	if (i != NO_ENTRY) {
		e = entry_at(ft, i);
		if (flow_expired(ft, e, now) ||
		    /* a new connection reusing the ports of a closed one */
		    (e->list % NCLASSES == CLASS_TCP_CLOSED &&
		     (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)) {
			flow_remove(ft, i);
			i = NO_ENTRY;
			e = NULL;
		}
	}
	if (e && e->verdict == VERDICT_PASS) {
		set_decision(d, (enum verdict)e->verdict, e->rule);
		flow_touch(ft, i, p, now);
	} else if (e && ((e->flags & FLOW_STICKY) || same_as_first(ft, i, p, swapped))) {
		/* Blocked by a recheck; or blocked at its first packet, and
		 * this one looks the same to the rules (same direction, same
		 * owner): the rules would say the same again. */
		set_decision(d, (enum verdict)e->verdict, e->rule);
		flow_touch(ft, i, p, now);
	} else {
		/* New, or remembered as blocked: the rules decide. */
		*d = ruleset_decide(rs, p);
		if (e && d->verdict == VERDICT_PASS) {
			/* Blocked before, passes now: a passed flow that
			 * begins with this packet replaces the blocked one. */
			flow_remove(ft, i);
			i = NO_ENTRY;
			e = NULL;
		}
		if (e) {
			e->verdict = d->verdict;
			set_rule(ft, i, d->rule);
			flow_touch(ft, i, p, now);
		} else {
			i = flow_create(ft, p, name, &k, hash, swapped, d, now);
			if (i != NO_ENTRY)
				flow_touch(ft, i, p, now);
		}
	}
	if (p->fragment && p->first_fragment)
		frag_record(ft, p, name, &k, d, now);
	set_result(ft, i, flow);
	ifname_unref(ft, name->index);
}

struct decision flow_table_packet(struct flow_table *ft,
				  const struct ruleset *rs,
				  const struct packet *p, uint64_t now,
				  const struct flow **flow)
{
	struct decision d;

	packet_decide(ft, rs, p, now, flow, NULL, &d);
	return d;
}

void flow_table_packet_ahead(struct flow_table *ft, const struct ruleset *rs,
			     const struct packet *p, uint64_t now,
			     const struct flow **flow,
			     const struct flow_prefetch *pf, struct decision *d)
{
	packet_decide(ft, rs, p, now, flow, pf, d);
}

/* The first packet of e, as far as the rules can see it. */
static void first_packet(const struct flow_table *ft, const struct flow_entry *e,
			 struct packet *p)
{
	struct flow f;

	materialize(ft, e, &f);
	memset(p, 0, sizeof(*p));
	p->family = f.family;
	p->proto = f.proto;
	p->src = f.src;
	p->dst = f.dst;
	p->dir = (unsigned)e->dir;
	memcpy(p->ifname, f.ifname, IFW_IFNAMSIZ);
	p->iftype = (enum iftype)e->iftype;
	if (e->flags & FLOW_HAS_PORTS) {
		p->has_ports = true;
		p->sport = f.sport;
		p->dport = f.dport;
	}
	if (e->flags & FLOW_HAS_ICMP) {
		p->has_icmp = true;
		p->icmp_type = (uint8_t)e->icmp_type;
		p->icmp_id = e->key.port_a;
	}
	p->has_uid = e->flags & FLOW_HAS_UID;
	p->has_mark = e->flags & FLOW_HAS_MARK;
	p->uid = p->has_uid ? e->uid : 0;
	p->mark = p->has_mark ? e->mark : 0;
	p->ifaddrs = ft->ifaddrs;
}

struct seen_order {
	uint64_t last_seen, id;
	uint32_t index;
};

static int cmp_last_seen(const void *a, const void *b)
{
	const struct seen_order *x = a, *y = b;

	if (x->last_seen != y->last_seen)
		return x->last_seen < y->last_seen ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* After verdicts changed: every flow onto the list its verdict calls for,
 * each list still in last-seen order (so expiry can stop at the first
 * live head). Without memory for the sort, moved flows just go last. */
static void relist_all(struct flow_table *ft)
{
	struct seen_order *all = malloc((ft->count ? ft->count : 1) * sizeof(*all));
	size_t n = 0;

	if (!all) {
		for (size_t i = 0; i < ft->allocated; i++) {
			struct flow_entry *e = entry_at(ft, (uint32_t)i);
			if (e->key.family &&
			    (e->list >= LIST_BLOCKED) != (e->verdict != VERDICT_PASS))
				flow_relist(ft, (uint32_t)i, (int)(e->list % NCLASSES));
		}
		return;
	}
	for (size_t i = 0; i < ft->allocated; i++) {
		struct flow_entry *e = entry_at(ft, (uint32_t)i);
		if (e->key.family)
			all[n++] = (struct seen_order){ e->last_seen, e->id, (uint32_t)i };
	}
	if (n)
		qsort(all, n, sizeof(*all), cmp_last_seen);
	lru_clear(ft);
	for (size_t k = 0; k < n; k++) {
		struct flow_entry *e = entry_at(ft, all[k].index);
		e->list = e->list % NCLASSES +
			  (e->verdict == VERDICT_PASS ? 0 : LIST_BLOCKED);
		lru_append(ft, &ft->lru[e->list], all[k].index);
	}
	free(all);
}

size_t flow_table_recheck(struct flow_table *ft, const struct ruleset *rs)
{
	struct frag_entry *f, *tmp;
	size_t changed = 0;

	if (!ft || !rs)
		return 0;
	for (size_t i = 0; i < ft->allocated; i++) {
		struct flow_entry *e = entry_at(ft, (uint32_t)i);
		struct packet p;
		struct decision d;
		bool was_passed;

		if (!e->key.family)
			continue;
		was_passed = e->verdict == VERDICT_PASS;
		first_packet(ft, e, &p);
		d = ruleset_decide(rs, &p);
		if (d.verdict != (enum verdict)e->verdict)
			changed++;
		/* A passed flow now blocked stays blocked, in both directions,
		 * until it ends. */
		if (d.verdict == VERDICT_PASS)
			e->flags &= (uint8_t)~FLOW_STICKY;
		else if (was_passed)
			e->flags |= FLOW_STICKY;
		e->verdict = d.verdict;
		e->rule = d.rule;
		/* That is its first packet's decision now, and the old rule
		 * set's rules must not be referenced any more. */
		e->first_verdict = d.verdict;
		e->first_apart = 0;
	}
	relist_all(ft);
	/* Fragments in flight follow their flow's new decision; the old rule
	 * set's rules must not be referenced any more. */
	HASH_ITER(hh, ft->frags, f, tmp) {
		uint32_t i = flow_find(ft, &f->flow);
		if (i == NO_ENTRY) {
			frag_remove(ft, f);
			continue;
		}
		f->verdict = (uint8_t)entry_at(ft, i)->verdict;
		f->rule = entry_at(ft, i)->rule;
	}
	return changed;
}

size_t flow_table_expire(struct flow_table *ft, uint64_t now)
{
	return flow_table_expire_some(ft, now, SIZE_MAX);
}

size_t flow_table_expire_some(struct flow_table *ft, uint64_t now, size_t max)
{
	if (!ft)
		return 0;
	frag_expire(ft, now);
	return expire_some(ft, now, max);
}

bool flow_table_last_began(const struct flow_table *ft)
{
	return ft && ft->last != NO_ENTRY && entry_at(ft, ft->last)->packets == 1;
}

bool flow_table_flag_last(struct flow_table *ft)
{
	if (!ft || ft->last == NO_ENTRY)
		return false;
	entry_at(ft, ft->last)->flagged = 1;
	return true;
}

void flow_table_prefetch(struct flow_table *ft, const struct packet *p,
			 struct flow_prefetch *pf)
{
	struct ifname_entry *name;

	pf->valid = false;
	if (!ft)
		return;
	name = ifname_find(ft, p->ifname);
	if (!name)
		return;
	pf->swapped = flow_key_of(p, name->index, pf->key);
	pf->hash = flow_hash_words(pf->key);
	pf->ifindex = name->index;
	pf->valid = true;
	if (ft->slots)
		__builtin_prefetch(&ft->slots[pf->hash & ft->slot_mask]);
}

void flow_table_prefetch_entry(const struct flow_table *ft,
			       const struct flow_prefetch *pf)
{
	size_t at;

	if (!ft || !pf->valid || !ft->slots)
		return;
	/* The first entry whose tag matches: usually the flow's. */
	at = pf->hash & ft->slot_mask;
	for (size_t n = 0; n < 4; n++, at = (at + 1) & ft->slot_mask) {
		uint32_t s = ft->slots[at];
		if (!s)
			return;
		if (((s ^ pf->hash) & ~ft->index_mask) == 0) {
			const char *e = (const char *)entry_at(ft, slot_entry(ft, s));
			__builtin_prefetch(e);
			__builtin_prefetch(e + 64);
			return;
		}
	}
}
