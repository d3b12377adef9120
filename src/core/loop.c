/* loop: poll() over registered descriptors plus the signal self-pipe, and a
 * small list of timers (few at a time: one per running cell at most, so a
 * linear scan is enough). Handlers may add and remove watches while being
 * dispatched: dispatch works on a snapshot of the poll set. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/util.h"

struct watch {
	int fd, events;
	fdfn fn;
	void *arg;
};

struct timer {
	long id;
	double at;
	timerfn fn;
	void *arg;
};

struct loop {
	struct watch *w;
	size_t nw, wcap;
	struct timer *t;
	size_t nt, tcap;
	long nextid;
	void (*childfn)(void *);
	void *childarg;
	int interrupted;
	struct pollfd *pfd;
	size_t pfdcap;
};

static int sigpipe[2] = {-1, -1};
static volatile sig_atomic_t gotint;

static void onsignal(int sig)
{
	int err = errno;
	char c = (char)sig;

	if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
		gotint = sig;
	if (write(sigpipe[1], &c, 1) < 0) {
		/* the pipe is full: a wake-up is already pending */
	}
	errno = err;
}

struct loop *mkloop(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));
	struct sigaction sa;

	if (sigpipe[0] < 0) {
		if (pipe2(sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
			fatal(EXIT_GATE, "pipe:");
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = onsignal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGCHLD, &sa, NULL);
		/* a hangup (the terminal or ssh session gone) stops the run like
		 * SIGTERM, but under nohup (SIGHUP ignored) evalmake goes on */
		struct sigaction old;
		if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(SIGHUP, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	return l;
}

void loopfd(struct loop *l, int fd, int events, fdfn fn, void *arg)
{
	for (size_t i = 0; i < l->nw; i++) {
		if (l->w[i].fd != fd)
			continue;
		if (!events) {
			l->w[i] = l->w[--l->nw];
			return;
		}
		l->w[i] = (struct watch){fd, events, fn, arg};
		return;
	}
	if (!events)
		return;
	xgrow(&l->w, &l->wcap, l->nw + 1, sizeof(*l->w));
	l->w[l->nw++] = (struct watch){fd, events, fn, arg};
}

long looptimer(struct loop *l, double at, timerfn fn, void *arg)
{
	xgrow(&l->t, &l->tcap, l->nt + 1, sizeof(*l->t));
	l->t[l->nt] = (struct timer){++l->nextid, at, fn, arg};
	l->nt++;
	return l->nextid;
}

void loopcancel(struct loop *l, long id)
{
	for (size_t i = 0; i < l->nt; i++) {
		if (l->t[i].id == id) {
			l->t[i] = l->t[--l->nt];
			return;
		}
	}
}

void loopchild(struct loop *l, void (*fn)(void *), void *arg)
{
	l->childfn = fn;
	l->childarg = arg;
}

static void drainsignals(struct loop *l)
{
	char buf[64];
	int child = 0;
	ssize_t n;

	while ((n = read(sigpipe[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == SIGCHLD)
				child = 1;
	if (gotint)
		l->interrupted = gotint;
	if (child && l->childfn)
		l->childfn(l->childarg);
}

void loopstep(struct loop *l, double maxwait)
{
	double t = now(), wait = maxwait;
	size_t n = l->nw + 1;

	for (size_t i = 0; i < l->nt; i++) {
		double d = l->t[i].at - t;
		if (d < 0)
			d = 0;
		if (wait < 0 || d < wait)
			wait = d;
	}
	xgrow(&l->pfd, &l->pfdcap, n, sizeof(*l->pfd));
	l->pfd[0] = (struct pollfd){sigpipe[0], POLLIN, 0};
	for (size_t i = 0; i < l->nw; i++)
		l->pfd[i + 1] = (struct pollfd){l->w[i].fd, (short)l->w[i].events, 0};
	int ms = wait < 0 ? -1 : (int)(wait * 1000 + 0.999);
	int r = poll(l->pfd, n, ms);
	if (r < 0 && errno != EINTR)
		fatal(EXIT_GATE, "poll:");
	if (l->pfd[0].revents || gotint)
		drainsignals(l);
	for (size_t i = 1; r > 0 && i < n; i++) {
		if (!l->pfd[i].revents)
			continue;
		/* the watch may have gone or changed while dispatching */
		for (size_t j = 0; j < l->nw; j++) {
			if (l->w[j].fd == l->pfd[i].fd) {
				struct watch w = l->w[j];
				w.fn(w.arg, w.fd, l->pfd[i].revents);
				break;
			}
		}
	}
	t = now();
	for (size_t i = 0; i < l->nt;) {
		if (l->t[i].at <= t) {
			struct timer tm = l->t[i];
			l->t[i] = l->t[--l->nt];
			tm.fn(tm.arg);
			i = 0;
			continue;
		}
		i++;
	}
}

int loopbusy(struct loop *l)
{
	double t = now();
	size_t n = l->nw + 1;

	for (size_t i = 0; i < l->nt; i++)
		if (l->t[i].at <= t)
			return 1;
	xgrow(&l->pfd, &l->pfdcap, n, sizeof(*l->pfd));
	l->pfd[0] = (struct pollfd){sigpipe[0], POLLIN, 0};
	for (size_t i = 0; i < l->nw; i++)
		l->pfd[i + 1] = (struct pollfd){l->w[i].fd, (short)l->w[i].events, 0};
	return poll(l->pfd, n, 0) > 0;
}

int loopinterrupted(struct loop *l)
{
	if (gotint)
		l->interrupted = gotint;
	return l->interrupted;
}

int interruptstatus(void)
{
	return gotint ? 128 + gotint : EXIT_INTR;
}

void freeloop(struct loop *l)
{
	if (!l)
		return;
	free(l->w);
	free(l->t);
	free(l->pfd);
	free(l);
}
