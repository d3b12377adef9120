/* seen: see seen.h. The record is two growing arrays; sorting and merging
 * happen once, when it is asked for. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/seen.h"
#include "core/util.h"

static struct {
	int on;
	long long t0; /* realtime ns at seenstart */
	long long margin;
	char why[512];  /* seenrecord: why the record cannot be trusted */
	struct seenpath *p;
	size_t np, capp;
	struct seenvar *v;
	size_t nv, capv;
	size_t nracy;
} rec;

static long long ns(struct timespec ts)
{
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void seenfree(void)
{
	for (size_t i = 0; i < rec.np; i++)
		free(rec.p[i].path);
	for (size_t i = 0; i < rec.nv; i++)
		free(rec.v[i].name);
	free(rec.p);
	free(rec.v);
	rec.p = NULL;
	rec.v = NULL;
	rec.np = rec.capp = rec.nv = rec.capv = rec.nracy = 0;
	rec.on = 0;
}

void seenstart(void)
{
	struct timespec now;

	seenfree();
	clock_gettime(CLOCK_REALTIME, &now);
	rec.t0 = ns(now);
	rec.on = 1;
}

void seenmargin(long long ns)
{
	rec.margin = ns;
}

void seenstop(void)
{
	rec.on = 0;
}

void seenresume(void)
{
	rec.on = 1;
}

int seenrecording(void)
{
	return rec.on;
}

void seenfill(struct seenpath *p, const struct stat *st)
{
	p->err = 0;
	p->mode = st->st_mode;
	p->size = st->st_size;
	p->mtime = ns(st->st_mtim);
	p->ctime = ns(st->st_ctim);
	p->ino = (long long)st->st_ino;
	p->dev = (long long)st->st_dev;
}

void seenstat(const char *path, int follow, int rc, const struct stat *st)
{
	if (!rec.on)
		return;
	int err = errno;
	if (rec.np == rec.capp) {
		rec.capp = rec.capp ? rec.capp * 2 : 256;
		rec.p = xrealloc(rec.p, rec.capp * sizeof(*rec.p));
	}
	struct seenpath *p = &rec.p[rec.np++];
	*p = (struct seenpath){.path = xstrdup(path), .follow = !!follow};
	if (rc == 0)
		seenfill(p, st);
	else
		p->err = err ? err : EIO;
	errno = err;
}

void seenpath(const char *path, int follow)
{
	struct stat st;

	if (!rec.on)
		return;
	int err = errno;
	int rc = follow ? stat(path, &st) : lstat(path, &st);
	seenstat(path, follow, rc, &st);
	errno = err;
}

DIR *opendirseen(const char *path)
{
	DIR *d = opendir(path);

	if (!rec.on)
		return d;
	int err = errno;
	struct stat st;
	int rc = d ? fstat(dirfd(d), &st) : -1;
	if (!d)
		errno = err;
	seenstat(path, 1, rc, &st);
	errno = err;
	return d;
}

hash seenvarhash(const char *name, const char *value)
{
	struct hasher h;

	hashstart(&h, "seenvar");
	hashaddstr(&h, name);
	hashaddu64(&h, value != NULL);
	if (value)
		hashaddstr(&h, value);
	return hashend(&h);
}

void seenputvar(const char *name, hash value)
{
	if (!rec.on)
		return;
	if (rec.nv == rec.capv) {
		rec.capv = rec.capv ? rec.capv * 2 : 16;
		rec.v = xrealloc(rec.v, rec.capv * sizeof(*rec.v));
	}
	rec.v[rec.nv++] = (struct seenvar){xstrdup(name), value};
}

void seenenv(const char *name, const char *value)
{
	seenputvar(name, seenvarhash(name, value));
}

static int cmppath(const void *a, const void *b)
{
	const struct seenpath *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : x->follow - y->follow;
}

static int cmpvar(const void *a, const void *b)
{
	return strcmp(((const struct seenvar *)a)->name, ((const struct seenvar *)b)->name);
}

int seeneq(const struct seenpath *a, const struct seenpath *b)
{
	return a->err == b->err && (a->err || (a->mode == b->mode && a->size == b->size && a->mtime == b->mtime
	                                       && a->ctime == b->ctime && a->ino == b->ino && a->dev == b->dev));
}

const char *seenwhy(void)
{
	return rec.why;
}

size_t seenracy(void)
{
	return rec.nracy;
}

int seenrecord(struct seenpath **paths, size_t *npaths, struct seenvar **vars, size_t *nvars)
{
	size_t n = 0;
	int ok = 1;

	rec.nracy = 0;
	rec.why[0] = '\0';
	if (rec.np)
		qsort(rec.p, rec.np, sizeof(*rec.p), cmppath);
	for (size_t i = 0; i < rec.np; i++) {
		struct seenpath *p = &rec.p[i];
		if (n && !cmppath(&rec.p[n - 1], p)) {
			if (ok && !seeneq(&rec.p[n - 1], p)) {
				snprintf(rec.why, sizeof(rec.why), "%s changed while it was planned", p->path);
				ok = 0;
			}
			free(p->path);
			continue;
		}
		/* a second's margin, as the stat cache takes (state.h) */
		long long margin = rec.margin ? rec.margin : 1000000000LL;
		p->racy = !p->err && (p->mtime > rec.t0 - margin || p->ctime > rec.t0 - margin);
		if (p->racy && !rec.nracy++ && ok)
			snprintf(rec.why, sizeof(rec.why), "%s was written within %.2f s before", p->path, margin / 1e9);
		rec.p[n++] = *p;
	}
	rec.np = n;
	n = 0;
	if (rec.nv)
		qsort(rec.v, rec.nv, sizeof(*rec.v), cmpvar);
	for (size_t i = 0; i < rec.nv; i++) {
		if (n && !strcmp(rec.v[n - 1].name, rec.v[i].name)) {
			if (ok && !hasheq(rec.v[n - 1].value, rec.v[i].value)) {
				snprintf(rec.why, sizeof(rec.why), "$%s changed while it was planned", rec.v[i].name);
				ok = 0;
			}
			free(rec.v[i].name);
			continue;
		}
		rec.v[n++] = rec.v[i];
	}
	rec.nv = n;
	*paths = rec.p;
	*npaths = rec.np;
	*vars = rec.v;
	*nvars = rec.nv;
	return ok ? 0 : -1;
}

int seensame(int dirfd, const char *path, const struct seenpath *p)
{
	struct stat st;
	struct seenpath now = {0};

	if (fstatat(dirfd, path, &st, p->follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
		now.err = errno ? errno : EIO;
	else
		seenfill(&now, &st);
	return seeneq(&now, p);
}
