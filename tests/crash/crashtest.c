/*
 * crashtest.c - the crash harness as a command (make crashtest, and the
 * replay line printed for a failing image):
 *
 *   crashtest [--exhaustive] [--only NAME] [--fence K] [--subset S]
 *             [--mode mount,fsck-y,fsck-p] [--seed SPEC] [--no-fsck]
 *             [--ops] [--list]
 *
 * Runs every workload (or NAME) in every mode (or the modes listed: see
 * harness.h), prints one line per workload and a total, exits 0 when no
 * image failed and no workload broke, 1 otherwise.  Without --exhaustive
 * the fsck-first modes check the bounded sample.  --ops prints each
 * recorded operation with its fence range.  The tools are found
 * through PMFS_BUILD (default "build").
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
		{ "mode", required_argument, NULL, 'm' },
		{ "no-fsck", no_argument, NULL, 'n' },
		{ "ops", no_argument, NULL, 'O' },
		{ "list", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct ch_opts o;
	const char *only = NULL;
	unsigned modes = CH_M_ALL;
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
		case 'm':
			modes = 0;
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save);
			     t; t = strtok_r(NULL, ",", &save)) {
				int m = ch_mode_parse(t);

				if (m < 0) {
					fprintf(stderr, "crashtest: no mode '%s' "
						"(mount, fsck-y, fsck-p)\n", t);
					return 2;
				}
				modes |= CH_M(m);
			}
			break;
		case 'n':
			o.fsck = false;
			break;
		case 'O':
			o.list_ops = true;
			break;
		case 'l':
			for (size_t i = 0; i < ch_nworkloads; i++)
				printf("%s\n", ch_workloads[i].name);
			return 0;
		default:
			fprintf(stderr, "usage: crashtest [--exhaustive] [--only "
				"NAME] [--fence K] [--subset S] [--mode "
				"mount,fsck-y,fsck-p] [--seed SPEC] [--no-fsck] "
				"[--ops] [--list]\n");
			return 2;
		}
	}
	o.modes = modes;
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
