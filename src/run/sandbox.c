/* sandbox: bubblewrap's command line for a sandboxed agent or grader.
 *
 * bwrap builds the view from nothing (a tmpfs root) and binds in what is
 * listed, in order, later binds on top of earlier ones: the system folders,
 * the project read-only, the `writable` paths, then an empty tmpfs over the
 * cache (which is usually inside the project, and may be inside a writable
 * path), then the cell's own folders on top of that tmpfs. The root and
 * that tmpfs are made read-only last, so nothing unlisted is writable.
 * Paths keep their names inside: the EVAL_* variables need no rewriting.
 *
 * The probe runs bwrap once with the same namespaces a cell gets: a machine
 * (or container) where user namespaces are off fails there, with bwrap's
 * own words, before any cell runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "run/sandbox.h"

extern char **environ;

static char *bwrap;        /* its absolute path, once found */
static int probed;         /* 1 works, -1 does not */
static char *probeerr;
static char *cachedir;     /* the cache folder to hide */

struct argv {
	char **v;
	size_t n, cap;
};

static void add(struct argv *a, const char *s)
{
	xgrow(&a->v, &a->cap, a->n + 2, sizeof(*a->v));
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void add3(struct argv *a, const char *opt, const char *x, const char *y)
{
	add(a, opt);
	add(a, x);
	if (y)
		add(a, y);
}

/* the namespaces and process settings every sandbox has */
static void isolate(struct argv *a, int network)
{
	add(a, "--unshare-pid");
	add(a, "--unshare-ipc");
	add(a, "--unshare-uts");
	add(a, "--unshare-cgroup-try");
	if (!network)
		add(a, "--unshare-net");
	add(a, "--die-with-parent");
	add(a, "--new-session");
	add3(a, "--cap-drop", "ALL", NULL);
}

/* bwrap on PATH, as an absolute path (the shell's child execs it without a
 * search), or NULL */
static char *findbwrap(void)
{
	const char *path = getenv("PATH");
	char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin"), *save = NULL, *found = NULL;

	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/bwrap", *d ? d : ".");
		char *abs = access(p, X_OK) == 0 ? realpath(p, NULL) : NULL;
		free(p);
		found = abs;
	}
	free(copy);
	return found;
}

int sandboxcheck(char **err)
{
	struct argv a = {0};
	int out[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;

	if (probed) {
		if (probed < 0)
			*err = xstrdup(probeerr);
		return probed > 0 ? 0 : -1;
	}
	probed = -1;
	if (!(bwrap = findbwrap())) {
		probeerr = xstrdup("sandbox: bubblewrap (bwrap) is not installed or not on PATH "
		                   "(Debian: apt-get install bubblewrap)");
		*err = xstrdup(probeerr);
		return -1;
	}
	add(&a, bwrap);
	add3(&a, "--ro-bind", "/", "/");
	add3(&a, "--proc", "/proc", NULL);
	add3(&a, "--dev", "/dev", NULL);
	isolate(&a, 0);
	add(&a, "--");
	add(&a, "/bin/true");
	if (pipe2(out, O_CLOEXEC) < 0)
		fatal(EXIT_GATE, "pipe:");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	int e = posix_spawn(&pid, bwrap, &fa, NULL, a.v, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	freeargv(a.v);
	struct buf b = {.max = 4096};
	bufadds(&b, "");
	char tmp[1024];
	ssize_t n;
	while ((n = read(out[0], tmp, sizeof(tmp))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			bufadd(&b, tmp, (size_t)n);
	close(out[0]);
	int status = 0;
	if (!e)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	char *said = bufdetach(&b);
	char *t = said + strspn(said, " \n");
	t[strcspn(t, "\n")] = '\0';
	if (e)
		probeerr = xasprintf("sandbox: cannot run %s: %s", bwrap, strerror(e));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		probeerr = xasprintf("sandbox: bubblewrap cannot create namespaces here: %s "
		                     "(user namespaces off? in a container, allow them or drop 'sandbox')",
		                     *t ? t : "it failed without a message");
	else
		probed = 1;
	free(said);
	if (probed < 0) {
		*err = xstrdup(probeerr);
		return -1;
	}
	return 0;
}

/* is path at or under dir? */
static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n] || (n == 1 && dir[0] == '/'));
}

void sandboxhide(const char *cache)
{
	free(cachedir);
	cachedir = xstrdup(cache);
}

char **sandboxargv(const struct sandbox *sb, const char *const *ro, const char *const *rw)
{
	static const char *const tops[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	struct argv a = {0};
	char *proj = realpath(".", NULL);
	/* resolved now: the cache folder is created by the first entry */
	char *hide = cachedir ? realpath(cachedir, NULL) : NULL;

	add(&a, bwrap ? bwrap : "bwrap");
	add3(&a, "--ro-bind", "/usr", "/usr");
	/* merged /usr: /bin is a link to usr/bin; else a folder of its own */
	for (size_t i = 0; i < LEN(tops); i++) {
		char path[32], link[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "/%s", tops[i]);
		if (lstat(path, &st) < 0)
			continue;
		ssize_t n = S_ISLNK(st.st_mode) ? readlink(path, link, sizeof(link) - 1) : -1;
		if (n > 0) {
			link[n] = '\0';
			add3(&a, "--symlink", link, path);
		} else if (S_ISDIR(st.st_mode)) {
			add3(&a, "--ro-bind", path, path);
		}
	}
	add3(&a, "--ro-bind", "/etc", "/etc");
	add3(&a, "--ro-bind-try", "/opt", "/opt");
	if (sb->network) /* where resolv.conf may point */
		add3(&a, "--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve");
	add3(&a, "--proc", "/proc", NULL);
	add3(&a, "--dev", "/dev", NULL);
	add3(&a, "--tmpfs", "/tmp", NULL);
	add3(&a, "--setenv", "TMPDIR", "/tmp");
	if (proj)
		add3(&a, "--ro-bind", proj, proj);
	for (size_t i = 0; i < sb->writable.n; i++)
		add3(&a, "--bind", sb->writable.v[i], sb->writable.v[i]);
	/* hidden wherever a bind above made it visible */
	int hidden = hide && ((proj && under(hide, proj)) || under(hide, "/usr") || under(hide, "/etc") ||
	                      under(hide, "/opt"));
	for (size_t i = 0; hide && i < sb->writable.n; i++)
		hidden |= under(hide, sb->writable.v[i]);
	if (hidden)
		add3(&a, "--tmpfs", hide, NULL);
	for (size_t i = 0; ro && ro[i]; i++)
		add3(&a, "--ro-bind", ro[i], ro[i]);
	for (size_t i = 0; rw && rw[i]; i++)
		add3(&a, "--bind", rw[i], rw[i]);
	if (hidden)
		add3(&a, "--remount-ro", hide, NULL);
	add3(&a, "--remount-ro", "/", NULL);
	if (proj)
		add3(&a, "--chdir", proj, NULL);
	isolate(&a, sb->network);
	add(&a, "--");
	free(proj);
	free(hide);
	return a.v;
}

void freeargv(char **argv)
{
	for (char **p = argv; p && *p; p++)
		free(*p);
	free(argv);
}
