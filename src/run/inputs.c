/* inputs: see inputs.h. A check is one stat per file and per folder the
 * deps looked into; it runs only for cells that run or are graded by a
 * script, next to which a stat is free. A walk of the deps is not: an
 * agent's is taken once per suite and run while its folders keep their
 * stat data (the suite plan's depdirseen), a grader's at each grading
 * (grader deps are few). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run/inputs.h"
#include "core/util.h"

/* add the files of list with their stat data now; each must still hold
 * the content its hash was taken from */
static int addfiles(struct state *st, const struct strv *files, const char *notdone, struct inputset *out, char **err)
{
	for (size_t i = 0; i < files->n; i++) {
		const char *path = files->v[i];
		struct stamp now;
		/* a touch since is harmless: only a change of content stops it */
		if (samecontent(st, path, &now) < 0) {
			*err = xasprintf("%s changed since the cell was planned; %s (run again)", path, notdone);
			return -1;
		}
		xgrow(&out->v, &out->cap, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = (struct inputfile){xstrdup(path), now};
	}
	return 0;
}

/* the stat data of each folder now (a folder gone: all -1) */
static struct stamp *stampdirs(const struct strv *dirs)
{
	struct stamp *v = xcalloc(dirs->n ? dirs->n : 1, sizeof(*v));

	for (size_t i = 0; i < dirs->n; i++)
		if (stampnow(dirs->v[i], &v[i]) < 0)
			memset(&v[i], 0xff, sizeof(v[i]));
	return v;
}

/* a hash of the entries in each folder now, sorted, each a name and its
 * inode (a folder gone: zero): with the stat data, it tells a file that
 * came and went while a cell ran from one replaced by rename (an ignored
 * file an agent saves atomically), whose inode changes */
static hash *listdirs(const struct strv *dirs)
{
	hash *v = xcalloc(dirs->n ? dirs->n : 1, sizeof(*v));

	for (size_t i = 0; i < dirs->n; i++) {
		DIR *d = opendir(dirs->v[i]);
		if (!d)
			continue;
		struct strv names = {0};
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				char *ent = xasprintf("%s/%llu", e->d_name, (unsigned long long)e->d_ino);
				strvadd(&names, ent);
				free(ent);
			}
		closedir(d);
		strvsortuniq(&names);
		struct hasher h;
		hashstart(&h, "dirnames");
		for (size_t j = 0; j < names.n; j++)
			hashaddstr(&h, names.v[j]);
		v[i] = hashend(&h);
		strvfree(&names);
	}
	return v;
}

/* is dir at or under the part of one of globs before its first wildcard
 * (kb for the deps kb, and for kb followed by a wildcard component), that
 * part not the project's top folder? There a file that came and went may
 * have been an input; the top folder, where editors and tools make and
 * delete files all the time, is left out (only a top-level glob such as
 * *.txt could have matched such a file there) */
static int underliteral(const struct strv *globs, const char *dir)
{
	for (size_t i = 0; i < globs->n; i++) {
		const char *p = globs->v[i];
		while (p[0] == '.' && p[1] == '/')
			p += 2;
		size_t lit = 0;
		for (const char *q = p; *q;) {
			size_t n = strcspn(q, "/");
			if (strcspn(q, "*?[{\\") < n)
				break;
			lit = (size_t)(q - p) + n;
			q += n;
			while (*q == '/')
				q++;
		}
		if (lit && !(lit == 1 && p[0] == '.') && !strncmp(dir, p, lit) && (!dir[lit] || dir[lit] == '/'))
			return 1;
	}
	return 0;
}

static int samestamps(const struct stamp *a, const struct stamp *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!stampeq(&a[i], &b[i]))
			return 0;
	return 1;
}

static int cmppath(const void *key, const void *elem)
{
	return strcmp(key, ((const struct inputfile *)elem)->path);
}

/* is path one of in's files (by name, else by inode: a grader's files
 * name a file once whatever the spelling)? They are sorted for an agent
 * (a quick answer), not for a grader */
static int planned(const struct inputset *in, const char *path)
{
	struct stat st, o;

	if (bsearch(path, in->v, in->n, sizeof(*in->v), cmppath))
		return 1;
	for (size_t i = 0; i < in->n; i++)
		if (!strcmp(in->v[i].path, path))
			return 1;
	if (stat(path, &st) < 0)
		return 1; /* gone again: not an input now */
	for (size_t i = 0; i < in->n; i++)
		if (stat(in->v[i].path, &o) == 0 && o.st_dev == st.st_dev && o.st_ino == st.st_ino)
			return 1;
	return 0;
}

/* walk in's deps globs again (with the .gitignore as it is now): the
 * first file they yield that is not one of in's files (a new string), or
 * NULL; *samedirs: they looked into in's folders, no more */
static char *newinput(const struct inputset *in, int *samedirs)
{
	struct strv found = {0}, dirs = {0};
	struct ignore *ig = loadignore(".gitignore");
	struct globskip skip = {.cache = in->cache, .ignore = ig, .junk = 1};
	char *r = NULL;

	for (size_t i = 0; i < in->globs.n; i++)
		globdeps(in->globs.v[i], &skip, &found, &dirs, NULL);
	freeignore(ig);
	strvsortuniq(&found);
	strvsortuniq(&dirs);
	for (size_t i = 0; i < found.n && !r; i++)
		if (!planned(in, found.v[i]))
			r = xstrdup(found.v[i]);
	*samedirs = dirs.n == in->dirs.n;
	for (size_t i = 0; i < dirs.n && *samedirs; i++)
		*samedirs = !strcmp(dirs.v[i], in->dirs.v[i]);
	strvfree(&found);
	strvfree(&dirs);
	return r;
}

/* take the stat data of the folders the deps globs looked into (copied
 * into out: a watch may free the plan before the cell ends); when they
 * are not those of seen (the last walk that found nothing new; NULL:
 * none), walk again: a file that is not one of out's files is an error.
 * *seen is updated when a walk finds nothing new (seen NULL: not kept). */
static int adddirs(const struct evalfile *ef, const struct strv *globs, const struct strv *dirs, struct stamp **seen,
                   const char *notdone, struct inputset *out, char **err)
{
	if (!globs->n)
		return 0;
	for (size_t i = 0; i < globs->n; i++)
		strvadd(&out->globs, globs->v[i]);
	for (size_t i = 0; i < dirs->n; i++)
		strvadd(&out->dirs, dirs->v[i]);
	out->cache = xstrdup(ef->cache);
	/* the names before the stat data: a file added in between and gone by
	 * the end leaves the names as they were and the stat data changed */
	out->dirls = listdirs(dirs);
	/* before the walk: a file added during it changes a folder's data */
	out->dirst = stampdirs(dirs);
	if (seen && *seen && samestamps(*seen, out->dirst, dirs->n))
		return 0;
	int samedirs;
	char *f = newinput(out, &samedirs);
	if (f) {
		*err = xasprintf("%s was added since the cell was planned; %s (run again)", f, notdone);
		free(f);
		return -1;
	}
	if (seen && samedirs) {
		size_t sz = (dirs->n ? dirs->n : 1) * sizeof(**seen);
		free(*seen);
		*seen = memcpy(xmalloc(sz), out->dirst, sz);
	}
	return 0;
}

int runinputs(struct state *st, const struct evalfile *ef, const struct cell *c, struct inputset *out, char **err)
{
	const struct suite *s = c->sp->suite;

	*err = NULL;
	if (addfiles(st, &s->agent.deps, "not run", out, err) < 0)
		return -1;
	if (adddirs(ef, &s->agent.depglobs, &s->agent.depdirs, &c->sp->depdirseen, "not run", out, err) < 0)
		return -1;
	/* each file holds what the stat cache last hashed, but that may be
	 * newer than this cell's key: another suite re-keyed since (watch), or
	 * planned after an edit, hashed the file again */
	if (!hasheq(recordedlisthash(st, "deps", &s->agent.deps), c->parts[PART_DEPS])) {
		*err = xasprintf("%s changed since the cell was planned; not run (run again)",
		                 s->agent.deps.n == 1 ? s->agent.deps.v[0] : "a deps file");
		return -1;
	}
	/* a system prompt file is read when the suite is set up and hashed as
	 * a deps file: the text sent must be the text hashed */
	if (s->agent.kind == AGENT_HTTP && s->agent.system && c->sp->system) {
		hash h;
		if (hashedstamp(st, s->agent.system, NULL, &h) == 0
		    && !hasheq(h, hashbytes(c->sp->system, strlen(c->sp->system)))) {
			*err = xasprintf("%s changed since the cell was planned; not run (run again)", s->agent.system);
			return -1;
		}
	}
	return 0;
}

int gradeinputs(struct state *st, const struct evalfile *ef, const struct cell *c, struct inputset *out, char **err)
{
	return graderinputs(st, ef, &c->sp->suite->grader, out, err);
}

int graderinputs(struct state *st, const struct evalfile *ef, const struct grader *g, struct inputset *out,
                 char **err)
{
	*err = NULL;
	if (addfiles(st, &g->files, "not graded", out, err) < 0)
		return -1;
	return adddirs(ef, &g->depglobs, &g->depdirs, NULL, "not graded", out, err);
}

int graderunchanged(struct plan *p, const struct cell *c, size_t gi, char **err)
{
	const struct grader *g = suitegrader(c->sp->suite, gi);
	hash planned = gi ? c->sp->graderhashes[gi] : c->sp->graderhash;

	*err = NULL;
	if (hasheq(recordedgraderhash(p, g), planned))
		return 0;
	*err = xasprintf("%s changed since the cell was planned; not graded (run again)",
	                 g->files.n == 1 ? g->files.v[0] : "a grader's file");
	return -1;
}

int inputsunchanged(const struct inputset *in, const char *what, char **err)
{
	*err = NULL;
	for (size_t i = 0; i < in->n; i++) {
		struct stamp now;
		if (stampnow(in->v[i].path, &now) < 0 || !stampeq(&now, &in->v[i].st)) {
			*err = xasprintf("%s changed while %s ran; result not stored (run again)", in->v[i].path, what);
			return -1;
		}
	}
	if (in->globs.n) {
		struct stamp *now = stampdirs(&in->dirs);
		int same = samestamps(now, in->dirst, in->dirs.n), samedirs;
		if (!same) {
			/* changed, yet the same names: a file came and went, and the
			 * agent may have read it (what the walk skips counts too: its
			 * name is gone, whatever it was) */
			hash *ls = listdirs(&in->dirs);
			size_t i;
			for (i = 0; i < in->dirs.n; i++)
				if (!stampeq(&now[i], &in->dirst[i]) && hasheq(ls[i], in->dirls[i])
				    && underliteral(&in->globs, in->dirs.v[i]))
					break;
			free(ls);
			if (i < in->dirs.n) {
				*err = xasprintf("%s/ changed while %s ran (a file came and went, or it was touched); "
				                 "result not stored (run again)", in->dirs.v[i], what);
				free(now);
				return -1;
			}
		}
		char *f = same ? NULL : newinput(in, &samedirs);
		free(now);
		if (f) {
			*err = xasprintf("%s was added while %s ran; result not stored (run again)", f, what);
			free(f);
			return -1;
		}
	}
	return 0;
}

void freeinputs(struct inputset *in)
{
	for (size_t i = 0; i < in->n; i++)
		free(in->v[i].path);
	free(in->v);
	strvfree(&in->globs);
	strvfree(&in->dirs);
	free(in->cache);
	free(in->dirst);
	free(in->dirls);
	memset(in, 0, sizeof(*in));
}
