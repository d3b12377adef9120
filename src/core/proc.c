/* proc: posix_spawn with a new process group, pipes read from the loop,
 * timeouts as loop timers. Exits are noticed on SIGCHLD with
 * waitid(WNOWAIT): the leader stays a zombie while the rest of its group is
 * killed, so its process group id cannot be reused before then. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/proc.h"
#include "core/util.h"

extern char **environ;

struct proc {
	struct loop *l;
	pid_t pid;
	int outfd, errfd;
	struct buf out, err;
	int exited;
	long timer;
	double start;
	struct procresult r;
	procdone done;
	void *arg;
	struct proc *next;
};

static struct proc *procs;
static int nprocs;

static void finish(struct proc *p)
{
	if (!p->exited || p->outfd >= 0 || p->errfd >= 0)
		return;
	for (struct proc **pp = &procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	nprocs--;
	if (p->timer)
		loopcancel(p->l, p->timer);
	p->r.seconds = now() - p->start;
	p->r.outcut = p->out.truncated;
	p->r.errcut = p->err.truncated;
	for (struct buf *b = &p->out; b; b = b == &p->out ? &p->err : NULL) {
		if (!b->truncated)
			continue;
		size_t cap = b->max;
		b->max = 0;
		bufaddf(b, "\n[evalmake: cut off here: more than %zu bytes]\n", cap);
	}
	p->r.outlen = p->out.len;
	p->r.out = bufdetach(&p->out);
	p->r.errlen = p->err.len;
	p->r.err = bufdetach(&p->err);
	struct procresult r = p->r;
	procdone done = p->done;
	void *arg = p->arg;
	free(p);
	done(arg, &r);
}

static void onpipe(void *arg, int fd, int revents)
{
	struct proc *p = arg;
	struct buf *b = fd == p->outfd ? &p->out : &p->err;
	char tmp[65536];
	ssize_t n;

	(void)revents;
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n > 0) {
			bufadd(b, tmp, (size_t)n); /* past the cap: dropped, flagged */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break;
	}
	loopfd(p->l, fd, 0, NULL, NULL);
	close(fd);
	if (fd == p->outfd)
		p->outfd = -1;
	else
		p->errfd = -1;
	finish(p);
}

static void closepipes(void *arg)
{
	struct proc *p = arg;

	p->timer = 0;
	for (int *fd = &p->outfd; fd; fd = fd == &p->outfd ? &p->errfd : NULL) {
		if (*fd < 0)
			continue;
		struct buf *b = fd == &p->outfd ? &p->out : &p->err;
		char tmp[65536];
		ssize_t n;
		while ((n = read(*fd, tmp, sizeof(tmp))) > 0)
			bufadd(b, tmp, (size_t)n);
		loopfd(p->l, *fd, 0, NULL, NULL);
		close(*fd);
		*fd = -1;
	}
	finish(p);
}

static void reap(void *arg)
{
	static int busy, again;

	(void)arg;
	/* finish() calls back into the scheduler, which may spawn (and so
	 * reap) again: the list changes under us, so start over each time */
	if (busy) {
		again = 1;
		return;
	}
	busy = 1;
	do {
		again = 0;
		for (struct proc *p = procs; p; p = p->next) {
			siginfo_t si;
			if (p->exited)
				continue;
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != p->pid)
				continue;
			kill(-p->pid, SIGKILL); /* what is left of its group */
			int status = 0;
			waitpid(p->pid, &status, 0); /* a zombie already: returns at once */
			p->exited = 1;
			p->r.exitcode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			if (p->outfd < 0 && p->errfd < 0) {
				finish(p);
				again = 1;
				break;
			}
			/* a descendant that left the group may hold the pipes open:
			 * give it a moment, then stop reading */
			if (p->timer)
				loopcancel(p->l, p->timer);
			p->timer = looptimer(p->l, now() + 1.0, closepipes, p);
		}
	} while (again);
	busy = 0;
}

static void ontimeout(void *arg)
{
	struct proc *p = arg;

	p->timer = 0;
	p->r.timedout = 1;
	kill(-p->pid, SIGKILL);
}

static char **mkenv(char *const *extra)
{
	size_t n = 0, m = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	env = xcalloc(n + m + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		size_t nl = strcspn(environ[i], "=");
		int overridden = 0;
		for (size_t j = 0; j < m; j++)
			if (!strncmp(extra[j], environ[i], nl) && extra[j][nl] == '=')
				overridden = 1;
		if (!overridden)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = extra[j];
	env[k] = NULL;
	return env;
}

struct proc *spawnproc(struct loop *l, const struct procspec *spec, procdone done, void *arg, char **err)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char *argv[] = {"sh", "-c", (char *)spec->command, NULL};
	char **env;
	struct proc *p;
	pid_t pid;
	int r;

	*err = NULL;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		*err = xasprintf("pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, spec->stdinpath ? spec->stdinpath : "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	if (spec->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	env = mkenv(spec->env);
	/* traced: this very binary is the tracer, the command its child; its
	 * exit status is the command's, so nothing else here changes */
	char *targv[] = {"evalmake", PROC_TRACEARG, (char *)spec->trace, "--", "/bin/sh", "-c", (char *)spec->command, NULL};
	r = spec->trace ? posix_spawn(&pid, "/proc/self/exe", &fa, &at, targv, env)
	                : posix_spawn(&pid, "/bin/sh", &fa, &at, argv, env);
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0) {
		*err = xasprintf("cannot run '%s': %s", spec->command, strerror(r));
		goto fail;
	}
	close(out[1]);
	close(errp[1]);
	p = xcalloc(1, sizeof(*p));
	p->l = l;
	p->pid = pid;
	p->outfd = out[0];
	p->errfd = errp[0];
	p->out.max = spec->outcap;
	p->err.max = spec->errcap;
	bufadds(&p->out, "");
	bufadds(&p->err, "");
	p->start = now();
	p->done = done;
	p->arg = arg;
	p->next = procs;
	procs = p;
	nprocs++;
	fcntl(p->outfd, F_SETFL, O_NONBLOCK);
	fcntl(p->errfd, F_SETFL, O_NONBLOCK);
	loopfd(l, p->outfd, POLLIN, onpipe, p);
	loopfd(l, p->errfd, POLLIN, onpipe, p);
	loopchild(l, reap, NULL);
	if (spec->timeout > 0)
		p->timer = looptimer(l, p->start + spec->timeout, ontimeout, p);
	/* it may have exited before the handler was in place for it */
	reap(NULL);
	return p;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return NULL;
}

void killproc(struct proc *p)
{
	p->r.killed = 1;
	kill(-p->pid, SIGKILL);
}

void killallprocs(void)
{
	for (struct proc *p = procs; p; p = p->next) {
		p->r.killed = 1;
		kill(-p->pid, SIGKILL);
	}
}

int runningprocs(void)
{
	return nprocs;
}

void freeprocresult(struct procresult *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}
