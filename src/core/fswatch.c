/* fswatch: inotify. One descriptor in the loop; a table from watch
 * descriptor to directory; the pending batch is a hash set of paths. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/fswatch.h"
#include "core/hash.h"
#include "core/util.h"

/* what makes a batch; IN_MODIFY and IN_ATTRIB only count in the epoch */
#define BATCHMASK (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)
#define MASK (BATCHMASK | IN_MODIFY | IN_ATTRIB)

struct fswatch {
	struct loop *l;
	int fd;
	struct htab *wds;     /* watch descriptor -> directory */
	struct htab *dirs;    /* directory -> (void *)1 */
	struct htab *norm;    /* directory as fswatchwatched names it -> (void *)1 */
	unsigned long long epoch; /* events read so far */
	struct htab *batch;   /* path -> (void *)1 */
	int overflow;
	long timer;
	batchfn fn;
	void *arg;
};

static void deliver(void *arg)
{
	struct fswatch *w = arg;
	size_t n = htabcount(w->batch), i = 0, pos = 0, klen;
	char **paths = xcalloc(n + 1, sizeof(*paths));
	const void *key;
	int overflow = w->overflow;

	w->timer = 0;
	while (htabnext(w->batch, &pos, &key, &klen, NULL))
		paths[i++] = xstrndup(key, klen);
	htabfree(w->batch, NULL);
	w->batch = mkhtab(64);
	w->overflow = 0;
	w->fn(w->arg, paths, i, overflow);
	for (size_t k = 0; k < i; k++)
		free(paths[k]);
	free(paths);
}

/* "", "." and "./x/" as "." and "x" */
static char *normdir(const char *d)
{
	while (d[0] == '.' && d[1] == '/')
		for (d += 2; *d == '/'; d++)
			;
	size_t n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		n--;
	if (!n || (n == 1 && d[0] == '.'))
		return xstrdup(".");
	return xstrndup(d, n);
}

/* dir was moved: its watch, and those of the folders under it, followed
 * it to its new name, so the old names are watched no more (another
 * folder may take them, whose changes would go unseen): they are dropped,
 * and fswatchdir watches the names again */
static void forget(struct fswatch *w, const char *moved)
{
	size_t ml = strlen(moved), pos = 0, klen, n = 0, cap = 0;
	const void *key;
	void *val;
	int *gone = NULL;

	while (htabnext(w->wds, &pos, &key, &klen, &val)) {
		const char *d = val;
		if (d && !strncmp(d, moved, ml) && (!d[ml] || d[ml] == '/')) {
			xgrow(&gone, &cap, n + 1, sizeof(*gone));
			memcpy(&gone[n++], key, sizeof(int));
		}
	}
	for (size_t i = 0; i < n; i++) {
		void **slot = htabslot(w->wds, &gone[i], sizeof(int), 0);
		char *d = slot ? *slot : NULL, *nd;
		if (!d)
			continue;
		nd = normdir(d);
		htabput(w->dirs, d, strlen(d), NULL);
		htabput(w->norm, nd, strlen(nd), NULL);
		free(nd);
		inotify_rm_watch(w->fd, gone[i]); /* its IN_IGNORED then finds no folder */
		free(d);
		*slot = NULL;
	}
	free(gone);
}

static void onevents(void *arg, int fd, int revents)
{
	struct fswatch *w = arg;
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;
	ssize_t n;

	(void)revents;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			p += sizeof(*e) + e->len;
			w->epoch++;
			if (e->mask & IN_Q_OVERFLOW) {
				w->overflow = 1;
				any = 1;
				continue;
			}
			const char *dir = htabget(w->wds, &e->wd, sizeof(e->wd));
			if (!dir)
				continue;
			if (e->mask & IN_IGNORED) {
				char *nd = normdir(dir);
				htabput(w->dirs, dir, strlen(dir), NULL);
				htabput(w->norm, nd, strlen(nd), NULL);
				free(nd);
				continue;
			}
			if (!(e->mask & BATCHMASK))
				continue;
			if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
				htabput(w->batch, dir, strlen(dir), (void *)1);
				any = 1;
				if (e->mask & IN_MOVE_SELF)
					forget(w, dir);
				continue;
			}
			if (!e->len || editorjunk(e->name))
				continue;
			char *path = pathjoin(dir, e->name);
			htabput(w->batch, path, strlen(path), (void *)1);
			free(path);
			any = 1;
		}
	}
	if (!any)
		return;
	/* wait for a quiet period: one batch per burst of saves */
	if (w->timer)
		loopcancel(w->l, w->timer);
	w->timer = looptimer(w->l, now() + QUIET_PERIOD, deliver, w);
}

struct fswatch *mkfswatch(struct loop *l, batchfn fn, void *arg, char **err)
{
	struct fswatch *w;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	*err = NULL;
	if (fd < 0) {
		*err = xasprintf("cannot watch files: inotify: %s", strerror(errno));
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->l = l;
	w->fd = fd;
	w->wds = mkhtab(64);
	w->dirs = mkhtab(64);
	w->norm = mkhtab(64);
	w->batch = mkhtab(64);
	w->fn = fn;
	w->arg = arg;
	loopfd(l, fd, POLLIN, onevents, w);
	return w;
}

int fswatchdir(struct fswatch *w, const char *dir)
{
	if (htabget(w->dirs, dir, strlen(dir)))
		return 0;
	int wd = inotify_add_watch(w->fd, dir, MASK | IN_ONLYDIR);
	if (wd < 0)
		return -1;
	void **slot = htabslot(w->wds, &wd, sizeof(wd), 1);
	free(*slot);
	*slot = xstrdup(dir);
	htabput(w->dirs, dir, strlen(dir), (void *)1);
	char *nd = normdir(dir);
	htabput(w->norm, nd, strlen(nd), (void *)1);
	free(nd);
	return 0;
}

unsigned long long fswatchepoch(struct fswatch *w)
{
	return w->epoch;
}

void fswatchdrain(struct fswatch *w)
{
	onevents(w, w->fd, POLLIN);
}

int fswatchwatched(struct fswatch *w, const char *dir)
{
	char *nd = normdir(dir);
	int r = htabget(w->norm, nd, strlen(nd)) != NULL;

	free(nd);
	return r;
}

size_t fswatchcount(struct fswatch *w)
{
	size_t n = 0, pos = 0;
	void *v;

	while (htabnext(w->dirs, &pos, NULL, NULL, &v))
		n += v != NULL;
	return n;
}

void freefswatch(struct fswatch *w)
{
	if (!w)
		return;
	if (w->timer)
		loopcancel(w->l, w->timer);
	loopfd(w->l, w->fd, 0, NULL, NULL);
	close(w->fd);
	htabfree(w->wds, free);
	htabfree(w->dirs, NULL);
	htabfree(w->norm, NULL);
	htabfree(w->batch, NULL);
	free(w);
}
