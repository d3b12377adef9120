/* proc: each command runs under a supervisor, timeouts are loop timers,
 * pipes are read from the loop. Exits are noticed on SIGCHLD with
 * waitid(WNOWAIT): the leader stays a zombie while the rest of its group is
 * killed, so its process group id cannot be reused before then.
 *
 * The supervisor is a fork of evalmake that does not exec. It leads the
 * command's new process group and forks `/bin/sh -c COMMAND` into it. Its
 * only job is to outlive nothing: it asks the kernel for a signal when
 * evalmake dies (PR_SET_PDEATHSIG), and then kills its whole group. Without
 * it an agent would outlive a kill -9 of evalmake (or of evalmake's own
 * process group, which the agent is not in) and go on spending tokens.
 * Otherwise it waits for the shell and exits with its status (128+signal
 * for a signal), so to the rest of this file it looks like the shell did.
 * A process that leaves the group (setsid, setpgid) escapes a kill of the
 * group, so the supervisor is also its descendants' subreaper
 * (PR_SET_CHILD_SUBREAPER: an orphan is reparented to it, not to init)
 * and kills them by their parent links (killtree): on evalmake's death, on
 * evalmake's request (STOPSIG from evalmake: killproc, a timeout) and when
 * the shell exits leaving some behind.
 * Alternatives: a child subreaper only adopts orphans while evalmake lives,
 * and a cgroup needs a delegated hierarchy that users do not have. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
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

/* evalmake's request to a supervisor to stop its agent: a real-time
 * signal, queued, where a SIGTERM would merge with one the agent sent its
 * own group (kill 0) at the same moment and be taken for the agent's */
#define STOPSIG (SIGRTMIN + 1)

/* the supervisor kills its group and every descendant that left it when
 * evalmake asks (STOPSIG from evalmake's pid); after it has exited, what
 * is left of its group is killed by reap */
static void stopproc(struct proc *p)
{
	if (!p->exited)
		kill(p->pid, STOPSIG);
}

static void ontimeout(void *arg)
{
	struct proc *p = arg;

	p->timer = 0;
	p->r.timedout = 1;
	stopproc(p);
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

/* what the shell's child reports through the status pipe when it cannot
 * exec: the step that failed and errno */
struct spawnfail {
	int step, err;
};

enum { STEP_STDIN, STEP_CHDIR, STEP_EXEC };

/* in the shell's child (a fork of a fork: only async-signal-safe calls) */
static _Noreturn void runshell(const struct procspec *spec, char **argv, char **env, int out, int err, int status)
{
	struct spawnfail f = {STEP_STDIN, 0};
	sigset_t none;
	int fd;

	/* what evalmake catches is reset by exec; what it ignores is not */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if ((fd = open(spec->stdinpath ? spec->stdinpath : "/dev/null", O_RDONLY)) < 0)
		goto fail;
	if (fd != 0 && (dup2(fd, 0) < 0 || close(fd) < 0))
		goto fail;
	/* dup2 onto the same number would keep close-on-exec */
	if ((out == 1 ? fcntl(1, F_SETFD, 0) : dup2(out, 1)) < 0 || (err == 2 ? fcntl(2, F_SETFD, 0) : dup2(err, 2)) < 0)
		goto fail;
	f.step = STEP_CHDIR;
	if (spec->cwd && chdir(spec->cwd) < 0)
		goto fail;
	f.step = STEP_EXEC;
	if (spec->trace) {
		/* traced: this very binary is the tracer, the command its child;
		 * its exit status is the command's, so nothing else here changes */
		char *targv[] = {"evalmake", PROC_TRACEARG, (char *)spec->trace, "--", "/bin/sh", "-c", (char *)spec->command, NULL};
		execve("/proc/self/exe", targv, env);
	} else {
		/* argv is `sh -c COMMAND`, or wrap's entries in front of it */
		execve(spec->wrap ? argv[0] : "/bin/sh", argv, env);
	}
fail:
	f.err = errno;
	if (write(status, &f, sizeof(f)) < 0) {
		/* the parent sees the exit status 127 and no message */
	}
	_exit(127);
}

/* in the supervisor: the pids of its children (by /proc/PID/stat's parent
 * field) in v, at most n of them: how many. A child shown as a zombie is
 * kept: it may be a process whose main thread ended while others run,
 * which only a kill ends (a true zombie is reaped in the same round).
 * Async-signal-safe calls only (the supervisor is a fork that does not
 * exec): getdents64 and read, no opendir, no stdio. */
static int livechildren(pid_t self, pid_t *v, int n)
{
	char dents[4096] __attribute__((aligned(8)));
	int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), k = 0;
	ssize_t len;

	if (dir < 0)
		return 0;
	while (k < n && (len = getdents64(dir, dents, sizeof(dents))) > 0) {
		for (ssize_t off = 0; off < len && k < n;) {
			struct dirent64 *d = (struct dirent64 *)(dents + off);
			char path[64] = "/proc/", stat[256];
			pid_t pid = 0, ppid = 0;
			size_t i, j;
			ssize_t m;
			int fd;

			off += d->d_reclen;
			for (i = 0; d->d_name[i] >= '0' && d->d_name[i] <= '9' && i < 20; i++)
				pid = pid * 10 + (d->d_name[i] - '0');
			if (i == 0 || d->d_name[i])
				continue;
			memcpy(path + 6, d->d_name, i);
			memcpy(path + 6 + i, "/stat", 6);
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			m = read(fd, stat, sizeof(stat) - 1);
			close(fd);
			if (m <= 0)
				continue;
			/* "PID (COMM) STATE PPID ...": COMM may hold ')' */
			for (j = (size_t)m; j > 0 && stat[j - 1] != ')'; j--)
				;
			if (j == 0 || j + 3 >= (size_t)m)
				continue;
			for (j += 3; j < (size_t)m && stat[j] >= '0' && stat[j] <= '9'; j++)
				ppid = ppid * 10 + (stat[j] - '0');
			if (ppid == self)
				v[k++] = pid;
		}
	}
	close(dir);
	return k;
}

/* in the supervisor: kill every descendant, those that left the group
 * included. Killing a child reparents its children to the supervisor (the
 * subreaper), so rounds of "kill the children, reap" reach every depth;
 * when no child is left (ECHILD) nothing of the agent runs. Bounded (a
 * fork bomb outpacing it still dies with the group kill that follows). */
static void killtree(void)
{
	pid_t self = getpid(), kids[256];
	struct timespec t0, t;

	/* at most 3 s: what SIGKILL has not ended by then (a process stuck
	 * in the kernel) will not end sooner for more rounds, and watch waits
	 * for its cancelled cells' supervisors only so long before it frees
	 * their plan */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int round = 0; round < 5000; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > 3.0)
			return;
		int n = livechildren(self, kids, 256), reaped = 0, st;
		pid_t w;

		for (int i = 0; i < n; i++)
			kill(kids[i], SIGKILL);
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			reaped++;
		if (w < 0 && errno == ECHILD)
			return;
		if (!reaped) {
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
		}
	}
}

/* in the supervisor: see the top of the file. Every signal is blocked on
 * entry (the parent blocked them around fork), so none is missed and
 * evalmake's handlers, inherited with the fork, never run here. The death
 * signal comes when the forking thread ends: spawnproc runs on the loop's
 * (main) thread, which lives as long as evalmake. */
static _Noreturn void supervise(const struct procspec *spec, char **argv, char **env, int out, int err, int status,
                                pid_t parent)
{
	sigset_t wait;
	pid_t sh;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (getppid() != parent) /* evalmake died before prctl */
		_exit(128 + SIGKILL);
	sh = fork();
	if (sh == 0)
		runshell(spec, argv, env, out, err, status);
	/* hold nothing of evalmake's: not the pipes (EOF is seen when the
	 * shell's side closes), not its sockets, locks or inotify descriptor */
	close_range(0, ~0U, 0);
	if (sh < 0)
		_exit(127);
	/* other signals stay blocked and pending: the supervisor is not to be
	 * stopped by what is sent to its group, only by SIGKILL */
	sigemptyset(&wait);
	sigaddset(&wait, SIGCHLD);
	sigaddset(&wait, SIGTERM);
	sigaddset(&wait, STOPSIG);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&wait, &si), st;
		pid_t w;
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* the agent may signal its own group (kill 0): that is
			 * not for us. The death signal (SIGTERM) comes after
			 * reparenting; a stop request (STOPSIG) from evalmake
			 * itself. */
			if (getppid() == parent && si.si_pid != parent)
				continue;
			killtree();
			kill(0, SIGKILL); /* the group, this process included */
			_exit(128 + SIGKILL);
		}
		/* orphans reparented here are reaped too */
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != sh)
				continue;
			/* what the shell left running outside its group is
			 * killed here; what is left inside, by evalmake (reap).
			 * Orphans that ended with it are reaped first: one of
			 * them is no sign that no child is left */
			while ((w = waitpid(-1, NULL, WNOHANG)) > 0)
				;
			if (w == 0)
				killtree();
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
	}
}

/* fork the supervisor and wait until its shell has exec'd: its pid, or -1
 * and *errmsg */
static pid_t startsupervisor(const struct procspec *spec, char **env, int out, int err, char **errmsg)
{
	static const char *const steps[] = {"cannot open stdin", "cannot change to the folder", "cannot run "};
	char *shargv[] = {"sh", "-c", (char *)spec->command, NULL}, **argv = shargv;
	int status[2];

	/* built here: the shell's child may not allocate */
	if (spec->wrap) {
		size_t n = 0;
		while (spec->wrap[n])
			n++;
		argv = xcalloc(n + 4, sizeof(*argv));
		memcpy(argv, spec->wrap, n * sizeof(*argv));
		argv[n] = "/bin/sh";
		argv[n + 1] = "-c";
		argv[n + 2] = (char *)spec->command;
	}
	sigset_t all, old;
	pid_t parent = getpid(), pid;
	struct spawnfail f;
	ssize_t n;

	if (pipe2(status, O_CLOEXEC) < 0) {
		*errmsg = xasprintf("pipe: %s", strerror(errno));
		if (argv != shargv)
			free(argv);
		return -1;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(status[0]);
		supervise(spec, argv, env, out, err, status[1], parent);
	}
	int e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(status[1]);
	const char *prog = spec->wrap ? spec->wrap[0] : "/bin/sh";
	if (argv != shargv)
		free(argv);
	if (pid < 0) {
		close(status[0]);
		*errmsg = xasprintf("cannot run '%s': fork: %s", spec->command, strerror(e));
		return -1;
	}
	/* EOF once the shell has exec'd (close-on-exec) or exited */
	while ((n = read(status[0], &f, sizeof(f))) < 0 && errno == EINTR)
		;
	close(status[0]);
	if (n == (ssize_t)sizeof(f)) {
		waitpid(pid, NULL, 0); /* the supervisor ends with its shell */
		*errmsg = xasprintf("cannot run '%s': %s%s%s: %s", spec->command, steps[f.step],
		                    f.step == STEP_CHDIR ? " " : "",
		                    f.step == STEP_CHDIR ? spec->cwd : f.step == STEP_EXEC ? prog : "", strerror(f.err));
		return -1;
	}
	return pid;
}

struct proc *spawnproc(struct loop *l, const struct procspec *spec, procdone done, void *arg, char **err)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1};
	char **env;
	struct proc *p;
	pid_t pid;

	*err = NULL;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		*err = xasprintf("pipe: %s", strerror(errno));
		goto fail;
	}
	env = mkenv(spec->env);
	pid = startsupervisor(spec, env, out[1], errp[1], err);
	free(env);
	if (pid < 0)
		goto fail;
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
	stopproc(p);
}

void killallprocs(void)
{
	for (struct proc *p = procs; p; p = p->next) {
		p->r.killed = 1;
		stopproc(p);
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
