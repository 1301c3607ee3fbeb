/*
 * problem.c - how fsck.pmfs reports what it finds and decides whether to
 * repair it: every inconsistency goes through fsck_problem(), which prints
 * one line (or records it for --json), applies the mode (-n, -y, -p or a
 * question on the terminal) and keeps the counts behind the exit code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsck.h"

volatile sig_atomic_t fsck_cancel;

static void record(struct fsck *f, const char *code, uint64_t ino,
		   const char *msg, bool fixed)
{
	struct fsck_finding *x;

	if (f->nf == f->fcap) {
		size_t nc = f->fcap ? f->fcap * 2 : 32;
		struct fsck_finding *n = realloc(f->f, nc * sizeof(*n));

		if (!n)
			return; /* the counts stay right; the list is short */
		f->f = n;
		f->fcap = nc;
	}
	x = &f->f[f->nf++];
	x->pass = f->cur_pass;
	snprintf(x->code, sizeof(x->code), "%s", code);
	x->ino = ino;
	snprintf(x->msg, sizeof(x->msg), "%s", msg);
	x->fixed = fixed;
}

/* Ask on the terminal; EOF or anything but y means no. */
static bool ask(const char *question)
{
	char line[32];

	fprintf(stdout, "%s<y>? ", question);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y' || line[0] == '\n';
}

bool fsck_problem(struct fsck *f, unsigned flags, const char *code,
		  uint64_t ino, const char *question, const char *fmt, ...)
{
	char msg[200];
	const char *answer;
	bool fix;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->nfound++;
	if (flags & PR_NOFIX) {
		fix = false;
		answer = "cannot be repaired";
	} else {
		switch (f->o.mode) {
		case FSCK_MODE_YES:
			fix = true;
			break;
		case FSCK_MODE_PREEN:
			fix = flags & PR_PREEN_OK;
			break;
		case FSCK_MODE_ASK:
			if (!f->o.json) {
				fprintf(stdout, "%s.  ", msg);
				fix = ask(question);
				record(f, code, ino, msg, fix);
				if (fix)
					f->nfixed++;
				else
					f->nleft++;
				return fix;
			}
			fix = false;
			break;
		default:
			fix = false;
			break;
		}
		answer = fix ? "yes"
			     : f->o.mode == FSCK_MODE_PREEN ? "no (run fsck.pmfs "
							       "manually)"
							     : "no";
	}
	if (fix)
		f->nfixed++;
	else
		f->nleft++;
	record(f, code, ino, msg, fix);
	if (f->o.json)
		return fix;
	if (f->o.mode == FSCK_MODE_PREEN) /* checks run in parallel at boot */
		fprintf(stdout, "%s: ", f->o.dev);
	if (flags & PR_NOFIX)
		fprintf(stdout, "%s (%s).\n", msg, answer);
	else
		fprintf(stdout, "%s.  %s? %s\n", msg, question, answer);
	return fix;
}

void fsck_info(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->o.verbose || f->o.json)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

void fsck_pass(struct fsck *f, int n, const char *what)
{
	f->cur_pass = n;
	fsck_info(f, "Pass %d: %s", n, what);
}

void fsck_operr(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	f->operr = true;
	fprintf(stderr, "fsck.pmfs: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void fsck_progress(struct fsck *f, uint64_t done, uint64_t total)
{
	static int tty = -1;

	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	if (!tty || f->o.json || !total)
		return;
	if (done < total && done % 4096)
		return;
	fprintf(stderr, "\rPass %d: %3u%%%s", f->cur_pass,
		(unsigned)(done * 100 / total), done >= total ? "\r\033[K" : "");
}
