/*
 * souk_cli: what every souk server program does before its own work.
 *
 *   souk_cli_config  parses -c/--config FILE, -X/--set key=value, -h/--help and
 *                    -V/--version (and no operands), and loads the configuration:
 *                    defaults < the program's own defaults < environment < file < -X;
 *                    sets the log level from log.level.
 *   souk_cli_signals blocks SIGTERM and SIGINT (the threads started afterwards inherit
 *                    the mask) so that souk_cli_wait takes them, ignores SIGPIPE, and
 *                    raises the open-file limit to the hard limit (servers keep a socket
 *                    per waiting request).
 *
 * Only main() calls these; they print to stdout/stderr as a command-line tool does.
 */
#ifndef SOUK_CLI_H
#define SOUK_CLI_H

#include <signal.h>
#include <stdio.h>

#include "souk_config.h"

/* What a server program is called and how it prints its usage (help and every key). */
struct souk_cli {
	const char *name; /* "souk-gateway" */
	const struct souk_config_def *const *tables;
	/* "key=value" overrides of table defaults for this program (its listen
	 * address), NULL-terminated, or NULL. */
	const char *const *defaults;
	void (*usage)(FILE *out);
};

/*
 * Returns -1 with *cfg loaded (the caller destroys it), or the exit status to return
 * at once: 0 after --help or --version, 2 on a usage or configuration error.
 */
int souk_cli_config(const struct souk_cli *cli, int argc, char **argv,
		    struct souk_config **cfg);

/* Prepares the process's signals (see above) into *sigs for souk_cli_wait. */
void souk_cli_signals(sigset_t *sigs);

/* Waits for SIGTERM or SIGINT and returns it. */
int souk_cli_wait(const sigset_t *sigs);

#endif
