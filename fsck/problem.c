/*
 * problem.c - how fsck.pmfs reports what it finds and decides whether to
 * repair it: every inconsistency goes through fsck_problem(), which prints
 * one line (or records it for --json), applies the mode (-n, -y, -p or a
 * question on the terminal) and keeps the counts behind the exit code.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsck.h"
#include "util/util.h"

volatile sig_atomic_t fsck_cancel;

/* Keep a finding for --json and in-process callers. */
static void record(struct fsck *f, const char *code, uint64_t ino,
		   const char *msg, bool fixed)
{
	struct fsck_finding *x;

	if (util_grow(&f->f, &f->fcap, f->nf, sizeof(*f->f), 32))
		return; /* the counts stay right; the list is short */
	x = &f->f[f->nf++];
	x->pass = f->cur_pass;
	snprintf(x->code, sizeof(x->code), "%s", code);
	x->ino = ino;
	snprintf(x->msg, sizeof(x->msg), "%s", msg);
	x->fixed = fixed;
}

/*
 * Read one answer line from the terminal (canonical mode: a read returns a
 * line).  A Ctrl-C that comes before the read starts must not be lost:
 * the signals are blocked while fsck_cancel is tested and ppoll unblocks
 * them atomically while it waits.  Returns the length, 0 for EOF, -1 when
 * cancelled.
 */
static ssize_t read_answer(char *line, size_t len)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	sigset_t block, old;
	ssize_t n = -1;
	int r;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	do
		r = fsck_cancel ? -1 : ppoll(&pfd, 1, NULL, &old);
	while (r < 0 && errno == EINTR && !fsck_cancel);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r > 0)
		n = read(STDIN_FILENO, line, len - 1);
	if (n < 0)
		return -1;
	line[n] = 0;
	return n;
}

/*
 * Ask on the terminal: y (or Enter) yes, n no, a yes to this and every
 * later question.  EOF (Ctrl-D) or Ctrl-C (the handler in main.c sets
 * fsck_cancel) cancels the run: no, and no more questions; the exit code
 * gets 32.
 */
static bool ask(struct fsck *f, const char *question)
{
	char line[64];

	for (;;) {
		fprintf(stdout, "%s<y>? ", question);
		fflush(stdout);
		if (read_answer(line, sizeof(line)) <= 0) {
			fsck_cancel = 1;
			fputc('\n', stdout);
			return false;
		}
		switch (line[0]) {
		case 'y':
		case 'Y':
		case '\n':
			return true;
		case 'n':
		case 'N':
			return false;
		case 'a':
		case 'A':
			f->yes_all = true;
			return true;
		default:
			fprintf(stdout, "Answer y (yes), n (no) or a (yes to "
					"all).  ");
		}
	}
}

/* A problem line or a question is coming: take the progress line away
 * (it comes back at the next percentage). */
static void progress_clear(struct fsck *f)
{
	if (f->prog_pct < 0)
		return;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	f->prog_pct = -1;
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
	progress_clear(f);
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
			if (!f->o.json && !fsck_cancel && !f->yes_all) {
				fprintf(stdout, "%s.  ", msg);
				fix = ask(f, question);
				record(f, code, ino, msg, fix);
				if (fix)
					f->nfixed++;
				else
					f->nleft++;
				return fix;
			}
			fix = f->yes_all && !fsck_cancel;
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
	if (f->o.json || f->o.quiet)
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

	if (!f->o.verbose || f->o.json || f->o.quiet)
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
	if (f->o.quiet)
		return;
	fprintf(stderr, "fsck.pmfs: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Progress of the current pass, on a terminal only: never with -p (checks
 * of several filesystems run in parallel at boot), --json, or when stderr
 * is not a terminal.  One line, rewritten when the percentage changes and
 * cleared at the end of the pass (done >= total).
 */
void fsck_progress(struct fsck *f, uint64_t done, uint64_t total)
{
	unsigned pct;

	if (f->tty < 0)
		f->tty = isatty(STDERR_FILENO);
	if (!f->tty || f->o.json || f->o.mode == FSCK_MODE_PREEN || !total)
		return;
	if (done >= total) {
		if (f->prog_pct >= 0)
			fprintf(stderr, "\r\033[K");
		f->prog_pct = -1;
		return;
	}
	pct = (unsigned)(done * 100 / total);
	if ((int)pct == f->prog_pct)
		return;
	f->prog_pct = (int)pct;
	fprintf(stderr, "\rPass %d: %3u%%", f->cur_pass, pct);
}
