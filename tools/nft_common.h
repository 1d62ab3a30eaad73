/* Shared by the nft subcommands (load, compile): read a rule file, report
 * its diagnostics, compile it for the nft backend. */
#ifndef IFWALL_TOOLS_NFT_COMMON_H
#define IFWALL_TOOLS_NFT_COMMON_H

#include "backends/nft.h"
#include "rules/ruleset.h"

/* Parses RULES and compiles it into *plan (diagnostics and compile errors
 * printed on stderr), its '(IFSPEC)' sets filled from the host's
 * interfaces (nft_plan_read_ifaddrs). Returns EXIT_OK, EXIT_USAGE when the file has errors
 * or cannot be expressed in nft, or EXIT_SYSTEM when it cannot be read for
 * lack of permission (or the interfaces cannot be read); then *rs and
 * *plan are NULL. */
int nft_cli_prepare(const char *cmd, const char *file, struct ruleset **rs,
		    struct nft_plan **plan);

/* Appends a diagnostic of severity sev, at the rule's location, for every
 * rule of rs the nft backend cannot express (check warns, load and compile
 * refuse). Returns how many. */
size_t nft_backend_limits(const struct ruleset *rs, enum diag_severity sev,
			  struct diag_list *diags);

/* Prints an nft_error as "ifwall CMD: [FILE:LINE: ]message" plus the rule. */
void nft_cli_error(const char *cmd, const struct nft_error *err);

/* Serialises the commands that change table inet ifwall (load, flush):
 * takes an exclusive lock on NFT_LOCK_PATH, waiting for another ifwall
 * holding it (and saying so once). Returns the lock's descriptor, to
 * close when done, or -1 when no lock could be had (no /run, no
 * privileges): the command then goes on unserialised, as the kernel's
 * generation check still keeps each load whole. */
#define NFT_LOCK_DIR "/run/ifwall"
#define NFT_LOCK_PATH NFT_LOCK_DIR "/nft.lock"
int nft_cli_lock(const char *cmd);

#endif
