/*
 * main.c - fsck.pmfs: check and repair a pmfs filesystem.
 *
 *   fsck.pmfs [-n | -y | -p] [-f] [-v] [--json] DEVICE|FILE
 *
 * A thin main over the shared library (fsck.h lists the passes): option
 * parsing and signals; check.c does the run.  Exit code as fsck(8): 0
 * clean, 1 errors corrected, 4 errors left, 8 operational error, 16 usage,
 * 32 cancelled; summed when several apply.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "format/format.h"
#include "fsck.h"

#ifndef PMFS_VERSION
#define PMFS_VERSION "0.1"
#endif

/* Print the usage to fp. */
static void usage(FILE *out)
{
	fprintf(out,
		"Usage: fsck.pmfs [-n | -y | -p] [-f] [-v] [--json] "
		"DEVICE|FILE\n"
		"Check a pmfs filesystem and repair what a crash or a media "
		"error left.\n\n"
		"  -n, --no        open read-only, change nothing, answer no\n"
		"  -y, --yes       repair everything\n"
		"  -p, -a, --preen repair what is safe without a human; exit 4 "
		"if more is needed\n"
		"  -f, --force     check even a clean filesystem\n"
		"  -v, --verbose   list each pass and its figures\n"
		"      --json      print findings and counts as JSON\n"
		"  -h, --help      show this help\n"
		"  -V, --version   show the version\n\n"
		"Exit status (summed): 0 clean, 1 errors corrected, 4 errors "
		"left uncorrected,\n8 operational error, 16 usage error, 32 "
		"cancelled.\n");
}

/* SIGINT/SIGTERM: cancel the run (the next question or pass stops). */
static void on_signal(int sig)
{
	(void)sig;
	fsck_cancel = 1;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "no", no_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "preen", no_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck_opts o;
	struct sigaction sa;
	int c, nmodes = 0;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "nypafvhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.mode = FSCK_MODE_NO;
			nmodes++;
			break;
		case 'y':
			o.mode = FSCK_MODE_YES;
			nmodes++;
			break;
		case 'p':
		case 'a':
			o.mode = FSCK_MODE_PREEN;
			nmodes++;
			break;
		case 'f':
			o.force = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'J':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return FSCK_EXIT_OK;
		case 'V':
			printf("fsck.pmfs %s (format %u)\n", PMFS_VERSION,
			       PMFS_FORMAT_VERSION);
			return FSCK_EXIT_OK;
		default:
			usage(stderr);
			return FSCK_EXIT_USAGE;
		}
	}
	if (nmodes > 1) {
		fprintf(stderr, "fsck.pmfs: only one of -n, -y, -p may be "
				"given\n");
		return FSCK_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return FSCK_EXIT_USAGE;
	}
	o.dev = argv[optind];
	if (o.mode == FSCK_MODE_ASK && (!isatty(STDIN_FILENO) || o.json)) {
		/* no one to ask: check only, as -n (scripts, --json) */
		if (!o.json)
			fprintf(stderr, "fsck.pmfs: no terminal for questions; "
					"checking read-only (use -y or -p to "
					"repair)\n");
		o.mode = FSCK_MODE_NO;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return fsck_check(&o);
}
