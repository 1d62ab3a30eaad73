/* ifwall run --backend nft (tools/run_nft.c). */
#ifndef IFWALL_TOOLS_RUN_NFT_H
#define IFWALL_TOOLS_RUN_NFT_H

#include <stdbool.h>

/* Loads RULES, holds table inet ifwall until SIGTERM/SIGINT (or a flush
 * through the control socket). watch: do not take ownership. Returns an
 * exit code. */
int run_nft(const char *rules, bool watch);

#endif
