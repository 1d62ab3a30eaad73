/* What the nft commands say about a divert backend in the same network
 * namespace (cli.md: they refuse with a message naming a running owner). */
#ifndef IFWALL_TOOLS_DIVERT_OWNER_H
#define IFWALL_TOOLS_DIVERT_OWNER_H

#include <stdio.h>

/* When 'ifwall run --backend divert' runs here: says so, naming its pid,
 * and returns EXIT_SYSTEM; otherwise EXIT_OK (also when nftables cannot be
 * read: the command itself then reports it). doing: what is refused. */
int cli_refuse_while_divert_runs(const char *cmd, const char *doing);

/* For show: one line about table inet ifwall_divert (nothing without it),
 * or with json a ',"divert":{...}' member. */
void cli_print_divert_state(FILE *out, int json);

#endif
