/* trace: see trace.h. Two halves: the tracer (a separate process, an
 * evalmake run as `evalmake __trace ...`), and the reading of what it wrote
 * against what the cell declares.
 *
 * The tracer forks the command with PTRACE_TRACEME and follows its forks,
 * vforks, clones and execs. The child installs a seccomp filter that
 * returns SECCOMP_RET_TRACE for the file syscalls only, so the agent stops
 * at those and nowhere else: a read() or a network call costs nothing.
 * Where seccomp filters are not available it falls back to stopping at
 * every syscall (PTRACE_SYSCALL). A tracked syscall's path is resolved at
 * its entry (against /proc/PID/cwd or /proc/PID/fd/DIRFD), and recorded at
 * its exit when it succeeded. PTRACE_GET_SYSCALL_INFO (Linux 5.3) says
 * whether a stop is an entry or an exit and gives the arguments, the same
 * way on every architecture; only the syscall numbers differ.
 *
 * What a tracer cannot see: files read by another process the agent talks
 * to (a server, a daemon not started by it), network inputs, pages of a
 * descriptor it was handed already open, and 32-bit (i386, x32) syscalls
 * of a 64-bit tracee. Static binaries are seen like any other: ptrace
 * works at the syscall boundary, not in libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "core/hash.h"
#include "core/util.h"
#include "run/trace.h"

#if defined(__x86_64__)
#define TRACE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TRACE_ARCH AUDIT_ARCH_AARCH64
#endif

#define NOTRACE 126 /* the exit status when the command cannot be traced */

/* ------------------------------------------------------------------ */
/* paths */

char *normpath(const char *base, const char *path)
{
	struct buf b = {0};
	const char *parts[2] = {path[0] == '/' ? "" : base, path};

	bufadds(&b, "");
	for (int i = 0; i < 2; i++) {
		const char *s = parts[i];
		while (*s) {
			size_t n = strcspn(s, "/");
			if (n == 0 || (n == 1 && s[0] == '.')) {
				/* "//" or "." */
			} else if (n == 2 && s[0] == '.' && s[1] == '.') {
				char *slash = strrchr(b.s, '/');
				b.len = slash ? (size_t)(slash - b.s) : 0;
				b.s[b.len] = '\0';
			} else {
				bufaddc(&b, '/');
				bufadd(&b, s, n);
			}
			s += n;
			if (*s == '/')
				s++;
		}
	}
	if (!b.len)
		bufaddc(&b, '/');
	return bufdetach(&b);
}

const char *underdir(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return path[0] == '/' && path[1] ? path + 1 : NULL;
	if (strncmp(path, root, n) || path[n] != '/' || !path[n + 1])
		return NULL;
	return path + n + 1;
}

/* ------------------------------------------------------------------ */
/* the tracer */

#ifdef TRACE_ARCH

enum { K_OPEN, K_OPENAT2, K_CREAT, K_EXEC, K_STAT };

/* a tracked syscall: which arguments hold the directory descriptor (-1:
 * none), the path and the flags (-1: none) */
struct sysdesc {
	long nr;
	signed char dirfd, path, flags;
	char kind;
};

static const struct sysdesc sysdescs[] = {
#ifdef SYS_open
	{SYS_open, -1, 0, 1, K_OPEN},
#endif
#ifdef SYS_creat
	{SYS_creat, -1, 0, -1, K_CREAT},
#endif
	{SYS_openat, 0, 1, 2, K_OPEN},
#ifdef SYS_openat2
	{SYS_openat2, 0, 1, 2, K_OPENAT2},
#endif
	{SYS_execve, -1, 0, -1, K_EXEC},
#ifdef SYS_execveat
	{SYS_execveat, 0, 1, 4, K_EXEC},
#endif
#ifdef SYS_stat
	{SYS_stat, -1, 0, -1, K_STAT},
#endif
#ifdef SYS_lstat
	{SYS_lstat, -1, 0, -1, K_STAT},
#endif
#ifdef SYS_newfstatat
	{SYS_newfstatat, 0, 1, 3, K_STAT},
#endif
#ifdef SYS_statx
	{SYS_statx, 0, 1, 2, K_STAT},
#endif
#ifdef SYS_access
	{SYS_access, -1, 0, -1, K_STAT},
#endif
	{SYS_faccessat, 0, 1, -1, K_STAT},
#ifdef SYS_faccessat2
	{SYS_faccessat2, 0, 1, 3, K_STAT},
#endif
};

/* a traced process (or thread) */
struct tracee {
	pid_t pid;
	int started;         /* its first stop was seen */
	int insys;           /* in a tracked syscall: record at its exit */
	char kinds[3];       /* what to record then ... */
	char *path;          /* ... for this path */
};

static struct tracer {
	struct tracee *v;
	size_t n, cap;
	int seccomp;         /* the filter is in place: stop at tracked syscalls only */
	int outfd;
	struct htab *seen;   /* records written */
} T;

static struct tracee *tracee(pid_t pid, int create)
{
	for (size_t i = 0; i < T.n; i++)
		if (T.v[i].pid == pid)
			return &T.v[i];
	if (!create)
		return NULL;
	xgrow(&T.v, &T.cap, T.n + 1, sizeof(*T.v));
	T.v[T.n] = (struct tracee){.pid = pid};
	return &T.v[T.n++];
}

static void forget(pid_t pid)
{
	struct tracee *t = tracee(pid, 0);

	if (!t)
		return;
	free(t->path);
	*t = T.v[--T.n];
}

/* write a record once: the kind, the path, a NUL */
static void record(char kind, const char *path)
{
	size_t n = strlen(path);
	char *rec = xmalloc(n + 2);

	rec[0] = kind;
	memcpy(rec + 1, path, n + 1);
	void **slot = htabslot(T.seen, rec, n + 2, 1);
	if (!*slot) {
		*slot = T.seen; /* any non-NULL value */
		/* written at once: a timeout's kill loses nothing recorded */
		if (write(T.outfd, rec, n + 2) != (ssize_t)(n + 2))
			warn("trace: cannot write the trace file:");
	}
	free(rec);
}

/* a NUL-terminated string of the tracee's memory, or NULL */
static char *readstr(pid_t pid, uint64_t addr)
{
	char buf[PATH_MAX];
	size_t got = 0;

	while (got < sizeof(buf)) {
		/* page by page: a string may end just before an unmapped page */
		size_t chunk = 4096 - (size_t)((addr + got) % 4096);
		if (chunk > sizeof(buf) - got)
			chunk = sizeof(buf) - got;
		struct iovec local = {buf + got, chunk}, remote = {(void *)(uintptr_t)(addr + got), chunk};
		ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
		if (n <= 0) {
			/* no process_vm_readv (some sandboxes): a word at a time */
			errno = 0;
			long w = ptrace(PTRACE_PEEKDATA, pid, (void *)(uintptr_t)(addr + got), NULL);
			if (errno)
				return NULL;
			n = (ssize_t)(sizeof(w) < sizeof(buf) - got ? sizeof(w) : sizeof(buf) - got);
			memcpy(buf + got, &w, (size_t)n);
		}
		if (memchr(buf + got, '\0', (size_t)n))
			return xstrdup(buf);
		got += (size_t)n;
	}
	return NULL; /* longer than PATH_MAX: the syscall fails anyway */
}

/* the folder a relative path of the tracee is resolved against */
static char *basedir(pid_t pid, int dirfd)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
	else
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, dirfd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return NULL;
	target[n] = '\0';
	return xstrdup(target);
}

/* a stop at the entry of a syscall: remember what its exit will record */
static void onentry(struct tracee *t, uint32_t arch, uint64_t nr, const uint64_t *args)
{
	const struct sysdesc *d = NULL;

	if (arch != TRACE_ARCH)
		return;
	for (size_t i = 0; i < LEN(sysdescs); i++)
		if ((uint64_t)sysdescs[i].nr == nr)
			d = &sysdescs[i];
	if (!d)
		return;
	char *arg = readstr(t->pid, args[(int)d->path]);
	if (!arg)
		return;
	int dirfd = d->dirfd >= 0 ? (int)args[(int)d->dirfd] : AT_FDCWD;
	char *path = NULL;
	if (arg[0] == '/') {
		path = normpath("/", arg);
	} else if (arg[0] || (d->kind == K_EXEC && dirfd != AT_FDCWD)) {
		/* "" with AT_EMPTY_PATH is the descriptor itself: a record
		 * only for fexecve; a stat of it is an fstat */
		char *base = basedir(t->pid, dirfd);
		if (base && base[0] == '/')
			path = normpath(base, arg);
		free(base);
	}
	free(arg);
	if (!path)
		return;
	uint64_t flags = 0;
	if (d->kind == K_OPEN)
		flags = args[(int)d->flags];
	else if (d->kind == K_OPENAT2) {
		/* struct open_how begins with its u64 flags */
		struct iovec local = {&flags, sizeof(flags)}, remote = {(void *)(uintptr_t)args[2], sizeof(flags)};
		if (process_vm_readv(t->pid, &local, 1, &remote, 1, 0) != sizeof(flags))
			flags = O_RDONLY;
	}
	int k = 0;
	switch (d->kind) {
	case K_OPEN:
	case K_OPENAT2:
		if (flags & O_PATH) {
			t->kinds[k++] = TRACE_STAT;
			break;
		}
		if ((flags & O_ACCMODE) != O_WRONLY)
			t->kinds[k++] = TRACE_READ;
		if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
			t->kinds[k++] = TRACE_WRITE;
		break;
	case K_CREAT: t->kinds[k++] = TRACE_WRITE; break;
	case K_EXEC: t->kinds[k++] = TRACE_EXEC; break;
	default: t->kinds[k++] = TRACE_STAT; break;
	}
	t->kinds[k] = '\0';
	free(t->path);
	t->path = path;
	t->insys = 1;
}

/* the tracked syscall ended: record it if it succeeded */
static void onexit(struct tracee *t, int failed)
{
	if (!t->insys)
		return;
	if (!failed)
		for (const char *k = t->kinds; *k; k++)
			record(*k, t->path);
	t->insys = 0;
	free(t->path);
	t->path = NULL;
}

/* go on to the next stop that matters, delivering sig */
static void resume(struct tracee *t, int sig)
{
	int req = !T.seccomp || t->insys ? PTRACE_SYSCALL : PTRACE_CONT;

	if (ptrace(req, t->pid, NULL, (void *)(uintptr_t)sig) < 0 && errno != ESRCH)
		warn("trace: cannot resume process %d:", (int)t->pid);
}

/* the filter: trace the syscalls of sysdescs, allow every other */
static int installfilter(void)
{
	struct sock_filter f[LEN(sysdescs) + 6];
	size_t n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TRACE_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < LEN(sysdescs); i++)
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)sysdescs[i].nr,
		                                      (unsigned char)(LEN(sysdescs) - i), 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0)
		return 0;
	if (errno != EACCES)
		return -1;
	/* without CAP_SYS_ADMIN a filter needs no_new_privs; a traced
	 * process gains no privileges on exec anyway */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static const char hint[] = "ptrace is not permitted here (a container's seccomp profile, or "
                           "kernel.yama.ptrace_scope=3, forbids it)";

/* the forked command: be traced, filter, stop until the tracer is ready,
 * exec */
static _Noreturn void runtraced(int syncfd, char **argv)
{
	char mode = 'S';

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
		int e = errno;
		mode = 'E';
		if (write(syncfd, &mode, 1) != 1 || write(syncfd, &e, sizeof(e)) != (ssize_t)sizeof(e))
			_exit(NOTRACE);
		_exit(NOTRACE);
	}
	/* EVALMAKE_TRACE_ALL=1: stop at every syscall, as where seccomp
	 * filters are missing (to test that way) */
	const char *all = getenv("EVALMAKE_TRACE_ALL");
	if ((all && !strcmp(all, "1")) || installfilter() < 0)
		mode = 'P';
	if (write(syncfd, &mode, 1) != 1)
		_exit(NOTRACE);
	close(syncfd);
	raise(SIGSTOP);
	execv(argv[0], argv);
	fprintf(stderr, "evalmake: trace: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int tracemain(int argc, char **argv)
{
	int sync[2], status, rc = NOTRACE;
	pid_t child;
	char mode = 0;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: evalmake __trace OUTFILE -- PROGRAM [ARG...]\n");
		return NOTRACE;
	}
	T.outfd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (T.outfd < 0) {
		fprintf(stderr, "evalmake: trace: cannot create %s: %s\n", argv[1], strerror(errno));
		return NOTRACE;
	}
	if (pipe2(sync, O_CLOEXEC) < 0) {
		fprintf(stderr, "evalmake: trace: pipe: %s\n", strerror(errno));
		return NOTRACE;
	}
	child = fork();
	if (child < 0) {
		fprintf(stderr, "evalmake: trace: fork: %s\n", strerror(errno));
		return NOTRACE;
	}
	if (child == 0) {
		close(sync[0]);
		runtraced(sync[1], argv + 3);
	}
	close(sync[1]);
	if (read(sync[0], &mode, 1) != 1 || mode == 'E') {
		int e = 0;
		if (mode == 'E' && read(sync[0], &e, sizeof(e)) == (ssize_t)sizeof(e))
			fprintf(stderr, "evalmake: trace: ptrace: %s: %s\n", strerror(e), hint);
		else
			fprintf(stderr, "evalmake: trace: the command could not start\n");
		waitpid(child, &status, 0);
		return NOTRACE;
	}
	close(sync[0]);
	T.seccomp = mode == 'S';
	T.seen = mkhtab(256);
	/* the child's stop before its exec */
	if (waitpid(child, &status, __WALL) != child || !WIFSTOPPED(status)) {
		fprintf(stderr, "evalmake: trace: the command did not stop for its tracer\n");
		return NOTRACE;
	}
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
	            PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | (T.seccomp ? PTRACE_O_TRACESECCOMP : 0);
	if (ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)opts) < 0) {
		fprintf(stderr, "evalmake: trace: ptrace(SETOPTIONS): %s\n", strerror(errno));
		kill(child, SIGKILL);
		return NOTRACE;
	}
	struct tracee *t = tracee(child, 1);
	t->started = 1;
	resume(t, 0);
	for (;;) {
		pid_t pid = waitpid(-1, &status, __WALL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: cannot happen before the command's exit */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			forget(pid);
			if (pid == child) {
				rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
				break; /* what is left is killed with us (EXITKILL) */
			}
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		t = tracee(pid, 1);
		int sig = WSTOPSIG(status), event = (unsigned)status >> 16, deliver = 0;
		struct __ptrace_syscall_info si;
		unsigned long msg = 0;
		if (sig == (SIGTRAP | 0x80) || (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP)) {
			memset(&si, 0, sizeof(si));
			if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(si), &si) > 0) {
				if (si.op == PTRACE_SYSCALL_INFO_ENTRY)
					onentry(t, si.arch, si.entry.nr, si.entry.args);
				else if (si.op == PTRACE_SYSCALL_INFO_SECCOMP)
					onentry(t, si.arch, si.seccomp.nr, si.seccomp.args);
				else if (si.op == PTRACE_SYSCALL_INFO_EXIT)
					onexit(t, si.exit.is_error);
			}
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
			/* the exec succeeded; a thread that exec'd took the leader's pid */
			ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg);
			struct tracee *old = (pid_t)msg != pid ? tracee((pid_t)msg, 0) : t;
			if (old)
				onexit(old, 0);
			if (old && old != t)
				forget(old->pid);
			t = tracee(pid, 1);
		} else if (sig == SIGTRAP && event) {
			/* fork, vfork, clone: the new process stops with SIGSTOP */
			if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0) {
				tracee((pid_t)msg, 1);
				t = tracee(pid, 1); /* the array may have moved */
			}
		} else if (!t->started && sig == SIGSTOP) {
			t->started = 1; /* a new process's first stop */
		} else {
			siginfo_t info;
			t->started = 1;
			/* a group-stop (no siginfo) is resumed at once: the agent
			 * runs unattended, no one would continue it */
			if (ptrace(PTRACE_GETSIGINFO, pid, NULL, &info) == 0)
				deliver = sig;
		}
		resume(t, deliver);
	}
	close(T.outfd);
	for (size_t i = 0; i < T.n; i++)
		free(T.v[i].path);
	free(T.v);
	htabfree(T.seen, NULL);
	return rc;
}

int tracecheck(char **err)
{
	int status;
	pid_t pid;

	*err = NULL;
	pid = fork();
	if (pid < 0) {
		*err = xasprintf("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	pid_t r;
	while ((r = waitpid(pid, &status, __WALL)) < 0 && errno == EINTR) /* the loop's SIGCHLD handler */
		;
	if (r != pid) {
		*err = xasprintf("waitpid: %s", strerror(errno));
		return -1;
	}
	if (!WIFSTOPPED(status)) {
		*err = xasprintf("%s", hint);
		return -1;
	}
	struct __ptrace_syscall_info si;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(si), &si) < 0)
		*err = xasprintf("ptrace(PTRACE_GET_SYSCALL_INFO): %s (Linux 5.3 or later is needed)", strerror(errno));
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
	return *err ? -1 : 0;
}

#else /* no TRACE_ARCH */

int tracemain(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "evalmake: tracing agents is not supported on this architecture\n");
	return NOTRACE;
}

int tracecheck(char **err)
{
	*err = xstrdup("tracing agents is not supported on this architecture (x86_64 and aarch64 Linux only)");
	return -1;
}

#endif

int traceverbose(const struct plan *p)
{
	char *err;

	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		if (c->need != NEED_RUN || c->sp->suite->agent.kind != AGENT_COMMAND)
			continue;
		if (tracecheck(&err) == 0)
			return 1;
		warn("-v: agents run untraced, undeclared inputs go unnoticed: %s", err);
		free(err);
		return 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* what the trace shows against what the cell declares */

static void addabs(struct strv *sv, const char *root, const char *path)
{
	char *p = normpath(root, path);

	strvadd(sv, p);
	free(p);
}

void celldeclared(const struct cell *c, const char *cache, struct declared *d)
{
	const struct suite *s = c->sp->suite;
	char here[PATH_MAX];

	memset(d, 0, sizeof(*d));
	d->root = xstrdup(getcwd(here, sizeof(here)) ? here : "/");
	for (size_t i = 0; i < s->agent.deps.n; i++) {
		/* a deps folder covers what is below it */
		struct stat st;
		int dir = stat(s->agent.deps.v[i], &st) == 0 && S_ISDIR(st.st_mode);
		addabs(dir ? &d->dirs : &d->files, d->root, s->agent.deps.v[i]);
	}
	if (s->prompt)
		addabs(&d->files, d->root, s->prompt);
	/* the task's own files: its folder, or its .json or .jsonl file */
	addabs(&d->dirs, d->root, c->task->path);
	/* the cell's entry, EVAL_TASK_JSON and EVAL_OUT_DIR are in the cache */
	addabs(&d->dirs, d->root, cache);
}

void freedeclared(struct declared *d)
{
	free(d->root);
	strvfree(&d->files);
	strvfree(&d->dirs);
}

static int covered(const struct declared *d, const char *path)
{
	for (size_t i = 0; i < d->files.n; i++)
		if (!strcmp(d->files.v[i], path))
			return 1;
	for (size_t i = 0; i < d->dirs.n; i++)
		if (!strcmp(d->dirs.v[i], path) || underdir(d->dirs.v[i], path))
			return 1;
	return 0;
}

/* does the relative path have a component named name? */
static int hascomponent(const char *rel, const char *name)
{
	size_t n = strlen(name);

	for (const char *s = rel; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
		if (!strncmp(s, name, n) && (s[n] == '/' || !s[n]))
			return 1;
	return 0;
}

static int isregular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* the source file a Python cache file is made from, when it exists:
 * D/__pycache__/M.TAG.pyc and D/M.pyc are D/M.py; NULL otherwise */
static char *pysource(const char *path)
{
	size_t n = strlen(path);
	const char *base = strrchr(path, '/');

	if (n < 4 || strcmp(path + n - 4, ".pyc") || !base)
		return NULL;
	base++;
	char *dir = xstrndup(path, (size_t)(base - 1 - path));
	char *py;
	size_t dn = strlen(dir);
	if (dn >= 12 && !strcmp(dir + dn - 12, "/__pycache__")) {
		dir[dn - 12] = '\0';
		py = xasprintf("%s/%.*s.py", dir, (int)strcspn(base, "."), base);
	} else {
		py = xasprintf("%s/%.*s.py", dir, (int)(strlen(base) - 4), base);
	}
	free(dir);
	if (!isregular(py)) {
		free(py);
		return NULL;
	}
	return py;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int undeclared(const char *tracefile, const struct declared *d, struct strv *out, char **err)
{
	size_t len;
	char *data = readfile(tracefile, &len);

	*err = NULL;
	if (!data) {
		*err = xasprintf("cannot read the trace %s: %s", tracefile, strerror(errno));
		return -1;
	}
	struct htab *written = mkhtab(64), *found = mkhtab(64);
	/* the written files first: an agent's own outputs are not inputs */
	for (size_t i = 0; i < len; i += strlen(data + i) + 1)
		if (data[i] == TRACE_WRITE)
			htabput(written, data + i + 1, strlen(data + i + 1), data);
	for (size_t i = 0; i < len; i += strlen(data + i) + 1) {
		if (data[i] != TRACE_READ && data[i] != TRACE_EXEC)
			continue;
		const char *path = data + i + 1;
		if (!underdir(d->root, path) || hascomponent(underdir(d->root, path), ".git"))
			continue;
		char *py = pysource(path);
		const char *p = py ? py : path;
		const char *rel = underdir(d->root, p);
		if (rel && !htabget(written, path, strlen(path)) && !htabget(written, p, strlen(p)) && isregular(p) &&
		    !covered(d, p) && !htabget(found, rel, strlen(rel))) {
			htabput(found, rel, strlen(rel), data);
			strvadd(out, rel);
		}
		free(py);
	}
	htabfree(written, NULL);
	htabfree(found, NULL);
	free(data);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmpstr);
	return 0;
}

/* s as a YAML scalar inside a flow sequence: plain when that reads back
 * the same, else double-quoted */
static void addyaml(struct buf *b, const char *s)
{
	int plain = s[0] && !strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) && !strpbrk(s, ",[]{}\"\\") &&
	            !strstr(s, ": ") && !strstr(s, " #") && s[strlen(s) - 1] != ' ' && s[strlen(s) - 1] != ':';

	for (const char *c = s; plain && *c; c++)
		if ((unsigned char)*c < 0x20)
			plain = 0;
	if (plain) {
		bufadds(b, s);
		return;
	}
	bufaddc(b, '"');
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			bufaddc(b, '\\');
		if ((unsigned char)*c < 0x20)
			bufaddf(b, "\\x%02x", (unsigned char)*c);
		else
			bufaddc(b, *c);
	}
	bufaddc(b, '"');
}

/* a file name as a glob matching only itself */
static char *globquote(const char *s)
{
	struct buf b = {0};

	bufadds(&b, "");
	for (; *s; s++) {
		if (strchr("*?[\\{}", *s))
			bufaddc(&b, '\\');
		bufaddc(&b, *s);
	}
	return bufdetach(&b);
}

/* the folder part of a relative path ("" when none) and its extension
 * (after the last '.' of the base name, not a leading one; "" when none) */
static void splitpath(const char *rel, char **dir, const char **ext)
{
	const char *slash = strrchr(rel, '/');
	const char *base = slash ? slash + 1 : rel;
	const char *dot = strrchr(base, '.');

	*dir = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	*ext = dot && dot != base ? dot + 1 : "";
}

char *depsline(const struct strv *globs, const struct strv *files)
{
	struct strv entries = {0};
	struct buf b = {0};

	for (size_t i = 0; i < files->n; i++) {
		char *dir, *odir;
		const char *ext, *oext;
		size_t same = 0;
		splitpath(files->v[i], &dir, &ext);
		for (size_t j = 0; j < files->n && *ext; j++) {
			splitpath(files->v[j], &odir, &oext);
			if (!strcmp(dir, odir) && !strcmp(ext, oext))
				same++;
			free(odir);
		}
		char *e;
		if (same >= 2) {
			char *qd = globquote(dir), *qe = globquote(ext);
			e = *dir ? xasprintf("%s/*.%s", qd, qe) : xasprintf("*.%s", qe);
			free(qd);
			free(qe);
		} else {
			e = globquote(files->v[i]);
		}
		free(dir);
		int dup = 0;
		for (size_t j = 0; j < entries.n; j++)
			dup |= !strcmp(entries.v[j], e);
		if (!dup)
			strvadd(&entries, e);
		free(e);
	}
	bufadds(&b, "deps: [");
	for (size_t i = 0; globs && i < globs->n; i++) {
		if (i)
			bufadds(&b, ", ");
		addyaml(&b, globs->v[i]);
	}
	for (size_t i = 0; i < entries.n; i++) {
		if (i || (globs && globs->n))
			bufadds(&b, ", ");
		addyaml(&b, entries.v[i]);
	}
	bufaddc(&b, ']');
	strvfree(&entries);
	return bufdetach(&b);
}
