/* Named tables of the rule set loaded in the kernel ('ifwall table'), read
 * and changed in place: the elements of table inet ifwall's sets that hold
 * the table, one per family, changed in one nfnetlink transaction with no
 * rule reload (pfctl -T).
 *
 * nft_plan.c gives every table a rule names an IPv4 and an IPv6 interval
 * set (NAME_v4 / NAME_v6, or tableN_vF for names nft could not print), and
 * nft_linearize.c records the table's name in each set's user data
 * (NFT_TABLE_SET_UDATA), which is how a table is found here. A change
 * writes the whole new content: in one batch, each set is flushed and
 * filled again (overlaps merged, so interval sets never refuse an
 * element), and an empty marker set SET.edited is created. The marker
 * tells the next 'load' that the set no longer holds what its digest says,
 * so the load writes the table from the rule file again (as pf does) and
 * deletes the marker. The batch carries the rule-set generation that was
 * read: a concurrent change makes the kernel refuse it, and it is read and
 * built again. */
#ifndef IFWALL_BACKENDS_NFT_TABLE_H
#define IFWALL_BACKENDS_NFT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "backends/nft.h"
#include "filter/addr.h"

/* Set user data type carrying the table's name (NUL-terminated). */
#define NFT_TABLE_SET_UDATA 0xf1
/* Room for a set name of ifwall's table, marker included. */
#define NFT_TABLE_SET_NAME_MAX 64

/* "SET.edited": the marker of a set changed since its load. Returns buf. */
const char *nft_table_edited_name(const char *set, char *buf, size_t size);

/* Reads table 'name' (without <>) of the loaded rule set: *out gets its
 * content (both families, finished). Returns 0; -ENOENT when table inet
 * ifwall is not loaded (err says whether another ifwall table, a running
 * 'ifwall run', is); -ESRCH when the loaded rule set has no such table (err
 * lists the tables it has); -EPERM; another -errno. */
int nft_table_read(const char *name, struct addrset **out, struct nft_error *err);

/* Changes table 'name' in one transaction (see above). *changed (may be
 * NULL) as addrset_change(). Returns 0; the errors of nft_table_read;
 * -EAFNOSUPPORT when the loaded rule set has no set for a family of the
 * new content (loaded by an older ifwall); -EINVAL for a bad op; another
 * -errno the kernel gave. On error nothing was changed. */
int nft_table_change(const char *name, enum addrset_op op,
		     const struct ifw_prefix *p, size_t n, size_t *changed,
		     struct nft_error *err);

/* The same on a socket the caller keeps open (the owner of an owned table:
 * only its socket may change it); *seq is its sequence number. */
struct mnl_socket;
int nft_table_change_socket(struct mnl_socket *sock, uint32_t *seq, const char *name,
			    enum addrset_op op, const struct ifw_prefix *p, size_t n,
			    size_t *changed, struct nft_error *err);

#endif
