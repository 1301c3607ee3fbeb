/*
 * crashtest.c - the crash harness as a command (make crashtest, and the
 * replay line printed for a failing image):
 *
 *   crashtest [--exhaustive] [--only NAME] [--fence K] [--subset S]
 *             [--seed SPEC] [--no-fsck] [--list]
 *
 * Runs every workload (or NAME), prints one line per workload and a total,
 * exits 0 when no image failed and no workload broke, 1 otherwise.  The
 * tools are found through PMFS_BUILD (default "build").
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "exhaustive", no_argument, NULL, 'x' },
		{ "only", required_argument, NULL, 'o' },
		{ "fence", required_argument, NULL, 'k' },
		{ "subset", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "no-fsck", no_argument, NULL, 'n' },
		{ "list", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct ch_opts o;
	const char *only = NULL;
	uint64_t fences = 0, images = 0, failures = 0, broken = 0;
	int c;

	ch_opts_bounded(&o);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'x': {
			const char *seed = o.seed;

			ch_opts_exhaustive(&o);
			o.seed = seed;
			break;
		}
		case 'o':
			only = optarg;
			break;
		case 'k':
			o.only_fence = atoll(optarg);
			break;
		case 's':
			o.only_subset = optarg;
			break;
		case 'S':
			o.seed = optarg;
			break;
		case 'n':
			o.fsck = false;
			break;
		case 'l':
			for (size_t i = 0; i < ch_nworkloads; i++)
				printf("%s\n", ch_workloads[i].name);
			return 0;
		default:
			fprintf(stderr, "usage: crashtest [--exhaustive] [--only "
				"NAME] [--fence K] [--subset S] [--seed SPEC] "
				"[--no-fsck] [--list]\n");
			return 2;
		}
	}
	if (only && !ch_find(only)) {
		fprintf(stderr, "crashtest: no workload '%s' (see --list)\n",
			only);
		return 2;
	}
	for (size_t i = 0; i < ch_nworkloads; i++) {
		struct ch_result res;

		if (only && strcmp(only, ch_workloads[i].name))
			continue;
		if (ch_run_workload(&ch_workloads[i], &o, &res))
			broken++;
		fences += res.fences;
		images += res.images;
		failures += res.failures;
	}
	fprintf(stderr,
		"crash: total: fences %" PRIu64 ", images %" PRIu64
		", failures %" PRIu64 ", workloads broken %" PRIu64 "\n",
		fences, images, failures, broken);
	return failures || broken ? 1 : 0;
}
