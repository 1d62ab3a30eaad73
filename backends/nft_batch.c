/* See nft_batch.h. */
#include "backends/nft_batch.h"
#include "backends/nft_nl.h"
#include "backends/nlmsg.h"
#include "filter/addr.h"
#include "filter/grow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* Room for one message at the tail: a full message of set elements. */
#define MESSAGE_ROOM (256 * 1024)

/* The batch buffer and the answers' buffer are pages of their own
 * (mmap, mremap to grow, munmap), not malloc's: a freed malloc block of a
 * megabyte makes glibc raise its mmap threshold to that size, and from
 * then on a long-running process keeps every array under a megabyte on
 * its heap, where the copies a growing array leaves behind stay resident
 * (divert's flow arrays: about 1 MB more with 50,000 flows). Pages are
 * zero-filled and only those written become resident. NULL: no memory. */
static void *pages_resize(void *old, size_t old_size, size_t size)
{
	void *p = old ? mremap(old, old_size, size, MREMAP_MAYMOVE)
		      : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void pages_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

/* Room for one more message of up to MESSAGE_ROOM bytes at the tail. */
static char *batch_tail(struct nft_batch *b)
{
	if (b->failed)
		return NULL;
	if (b->cap - b->len < MESSAGE_ROOM) {
		size_t cap = b->cap ? b->cap * 2 : 4 * MESSAGE_ROOM;
		char *n = pages_resize(b->buf, b->cap, cap);
		if (!n) {
			b->failed = -ENOMEM;
			return NULL;
		}
		b->buf = n;
		b->cap = cap;
	}
	return b->buf + b->len;
}

int nft_batch_begin(struct nft_batch *b, struct netlink *nl, uint32_t genid)
{
	struct nlmsghdr *nlh;
	char *tail;

	memset(b, 0, sizeof(*b));
	if (!(tail = batch_tail(b)))
		return -ENOMEM;
	nlh = nftnl_batch_begin(tail, ++nl->seq);
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	nft_batch_message_end(b, nlh);
	return 0;
}

struct nlmsghdr *nft_batch_message(struct nft_batch *b, struct netlink *nl,
				   uint16_t type, uint16_t family, uint16_t flags,
				   int kind, size_t index, const char *name)
{
	char *tail = batch_tail(b);
	uint32_t seq = ++nl->seq;

	if (!tail)
		return NULL;
	if (grow_array(&b->entries, &b->entries_cap, b->nentries,
		       sizeof(*b->entries)) < 0) {
		b->failed = -ENOMEM;
		return NULL;
	}
	if (b->nentries == 0)
		b->first_seq = seq;
	struct nft_batch_entry *e = &b->entries[b->nentries++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->index = index;
	if (name)
		snprintf(e->name, sizeof(e->name), "%s", name);
	return nftnl_nlmsg_build_hdr(tail, type, family, flags | NLM_F_ACK, seq);
}

void nft_batch_message_end(struct nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void nft_batch_add(struct nft_batch *b, struct netlink *nl, uint16_t type,
		   uint16_t family, uint16_t flags, int kind, size_t index,
		   const char *name, void *obj)
{
	struct nlmsghdr *nlh;

	if (!obj) {
		b->failed = -ENOMEM;
		return;
	}
	nlh = nft_batch_message(b, nl, type, family, flags, kind, index, name);
	switch (type) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
		if (nlh)
			nftnl_table_nlmsg_build_payload(nlh, obj);
		nftnl_table_free(obj);
		break;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		if (nlh)
			nftnl_chain_nlmsg_build_payload(nlh, obj);
		nftnl_chain_free(obj);
		break;
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
		if (nlh)
			nftnl_set_nlmsg_build_payload(nlh, obj);
		nftnl_set_free(obj);
		break;
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		if (nlh)
			nftnl_set_elems_nlmsg_build_payload(nlh, obj);
		nftnl_set_free(obj);
		break;
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		if (nlh)
			nftnl_rule_nlmsg_build_payload(nlh, obj);
		nftnl_rule_free(obj);
		break;
	default: /* no object of ours: a caller's mistake */
		b->failed = -EINVAL;
		return;
	}
	if (nlh)
		nft_batch_message_end(b, nlh);
}

int nft_batch_end(struct nft_batch *b, struct netlink *nl)
{
	char *tail = batch_tail(b);

	if (!tail)
		return b->failed;
	nft_batch_message_end(b, nftnl_batch_end(tail, ++nl->seq));
	return 0;
}

void nft_batch_free(struct nft_batch *b)
{
	pages_free(b->buf, b->cap);
	free(b->entries);
	memset(b, 0, sizeof(*b));
}

/* --- set elements ------------------------------------------------------- */

void nft_elems_flush(struct nft_elems *w)
{
	if (!w->cur)
		return;
	nft_batch_add(w->b, w->nl, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE,
		      w->kind, w->index, NULL, w->cur);
	w->cur = NULL;
	w->count = 0;
}

void nft_elems_add(struct nft_elems *w, const void *key, uint32_t len, bool interval_end)
{
	struct nftnl_set_elem *e;

	if (w->b->failed)
		return;
	if (!w->cur) {
		if (!(w->cur = nftnl_set_alloc())) {
			w->b->failed = -ENOMEM;
			return;
		}
		nftnl_set_set_str(w->cur, NFTNL_SET_TABLE, w->table);
		nftnl_set_set_str(w->cur, NFTNL_SET_NAME, w->set);
		nftnl_set_set_u32(w->cur, NFTNL_SET_FAMILY, NFPROTO_INET);
		if (w->set_id)
			nftnl_set_set_u32(w->cur, NFTNL_SET_ID, w->set_id);
	}
	if (!(e = nftnl_set_elem_alloc())) {
		w->b->failed = -ENOMEM;
		return;
	}
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (interval_end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(w->cur, e);
	if (++w->count == NFT_ELEMS_PER_MESSAGE)
		nft_elems_flush(w);
}

/* Big-endian increment; false on overflow (a was the maximum). */
static bool increment(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

void nft_elems_add_ranges(struct nft_elems *w, const struct addrset *set, int family)
{
	uint32_t len = family == 4 ? 4 : 16;
	size_t n = addrset_range_count(set);
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		const struct ifw_range *r = addrset_range(set, i);
		uint8_t zero[16] = { 0 }, end[16];
		if (r->family != family)
			continue;
		if (first && memcmp(r->lo, zero, len) != 0)
			nft_elems_add(w, zero, len, true);
		first = false;
		nft_elems_add(w, r->lo, len, false);
		memcpy(end, r->hi, len);
		if (increment(end, len))
			nft_elems_add(w, end, len, true);
	}
}

/* --- acknowledgements ---------------------------------------------------- */

struct ack_state {
	const struct nft_batch *b;
	struct nft_batch_acks *acks;
	uint8_t *acked;          /* per entry */
	int error;               /* of acks->first_error */
	bool unmatched_error;    /* an error about no message of ours */
	int unmatched_code;
};

static int extack_cb(const struct nlattr *attr, void *data)
{
	struct nft_batch_acks *acks = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0 && !acks->extack[0])
		snprintf(acks->extack, sizeof(acks->extack), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static void ack_one(struct ack_state *st, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	uint32_t seq;
	size_t idx;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
		return;
	seq = e->msg.nlmsg_seq;
	if (seq < st->b->first_seq || seq - st->b->first_seq >= st->b->nentries) {
		if (e->error) {
			st->unmatched_error = true;
			st->unmatched_code = e->error;
		}
		return;
	}
	idx = seq - st->b->first_seq;
	if (!st->acked[idx]) {
		st->acked[idx] = 1;
		st->acks->acked++;
	}
	if (e->error && idx < st->acks->first_error) {
		st->acks->first_error = idx;
		st->error = e->error;
		st->acks->extack[0] = 0;
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
			/* The attributes follow the request when it is echoed
			 * back (no NLM_F_CAPPED). */
			size_t off = sizeof(*e);
			if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
				off += e->msg.nlmsg_len >= sizeof(e->msg) ?
				       e->msg.nlmsg_len - sizeof(e->msg) : nlh->nlmsg_len;
			if (off <= nlh->nlmsg_len - NLMSG_HDRLEN)
				mnl_attr_parse(nlh, (unsigned)off, extack_cb, st->acks);
		}
	}
}

/* The kernel's codes are -errno; anything else is a malformed answer. */
static int kernel_code(int code)
{
	return code < 0 && code > -4096 ? code : -EPROTO;
}

int nft_batch_send(const struct nft_batch *b, struct netlink *nl,
		   struct nft_batch_acks *acks)
{
	struct ack_state st = { .b = b, .acks = acks };
	int fd = mnl_socket_get_fd(nl->sock);
	size_t rbuf_size = 1 << 20;
	/* room for the whole batch and every answer */
	size_t send = b->len + 65536, recv_size = b->nentries * 2048 + (1 << 20);
	int max = INT32_MAX / 2;
	char *rbuf;
	ssize_t n;
	int waited = 0, rc = 0;

	memset(acks, 0, sizeof(*acks));
	acks->first_error = SIZE_MAX;
	st.acked = calloc(b->nentries ? b->nentries : 1, 1);
	rbuf = pages_resize(NULL, 0, rbuf_size);
	if (!st.acked || !rbuf) {
		rc = -ENOMEM;
		goto out;
	}
	netlink_drain(nl->sock);
	netlink_socket_sndbuf(nl->sock, send > (size_t)max ? max : (int)send);
	netlink_socket_rcvbuf(nl->sock, recv_size > (size_t)max ? max : (int)recv_size);
	n = mnl_socket_sendto(nl->sock, b->buf, b->len);
	if (n < 0 || (size_t)n != b->len) {
		rc = n < 0 ? -errno : -EMSGSIZE;
		goto out;
	}
	while (acks->acked < b->nentries && !st.unmatched_error) {
		n = recv(fd, rbuf, rbuf_size, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd p = { .fd = fd, .events = POLLIN };
				if (waited >= 5000)
					break;
				if (poll(&p, 1, 100) == 0)
					waited += 100;
				continue;
			}
			rc = -errno;
			goto out;
		}
		int left = (int)nlmsg_valid_prefix(rbuf, (size_t)n);
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type == NLMSG_ERROR)
				ack_one(&st, nlh);
		}
	}
	if (acks->first_error != SIZE_MAX)
		rc = kernel_code(st.error);
	else if (st.unmatched_error)
		rc = kernel_code(st.unmatched_code);
	else if (acks->acked < b->nentries)
		rc = -ETIMEDOUT;
out:
	free(st.acked);
	pages_free(rbuf, rbuf_size);
	return rc;
}
