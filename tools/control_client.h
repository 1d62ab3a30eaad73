/* Client side of the control socket for the CLI (control_client.c). */
#ifndef IFWALL_TOOLS_CONTROL_CLIENT_H
#define IFWALL_TOOLS_CONTROL_CLIENT_H

/* Sends argv to a running 'ifwall run --backend BACKEND' and prints its
 * answer (out lines on stdout, err lines on stderr). Returns -1 when no
 * such process runs (the caller goes on by itself), else the exit code. */
int cli_control_forward(const char *cmd, const char *backend, int argc, char **argv);

/* After the kernel refused with EPERM: names the owner of table inet
 * ifwall when another process owns it. */
void cli_explain_owned_table(const char *cmd);

/* Records a one-shot 'load' of file for 'ifwall status'. */
void cli_record_load(const char *file);

#endif
