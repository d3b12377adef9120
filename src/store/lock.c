/* lock: see lock.h. Workload: one line per cell, written whole (temp file
 * and rename) by `lock`, read whole by `check --locked`; at 100,000 cells
 * that is a few megabytes and a hash table. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/lock.h"
#include "core/util.h"

#define MAXSTALE 20   /* stale cells listed without -v */

static const char header[] = "# evalmake lock 1: SUITE PART HASH, SUITE/TASK#K RUNKEY GRADEKEY SCORE; "
                             "sorted; written by `evalmake lock`";

/* LP_ENV: the values of the agent's env_inputs; a line only for suites
 * that declare some (a missing line is a zero hash) */
enum { LP_AGENT, LP_DEPS, LP_GRADER, LP_PROMPT, LP_ENV, NLPARTS };
static const char *const lpnames[NLPARTS] = {"agent", "deps", "grader", "prompt", "env"};
static const char *const lpwhat[NLPARTS] = {"agent config", "deps", "grader", "prompt template", "env_inputs"};

char *lockpath(const struct evalfile *ef)
{
	char *base = basename_of(ef->path, 0);
	char *p = xasprintf("%s.lock", base);

	free(base);
	return p;
}

static void suiteparts(const struct suiteplan *sp, hash v[NLPARTS])
{
	v[LP_AGENT] = sp->agenthash;
	v[LP_DEPS] = sp->depshash;
	v[LP_GRADER] = gradershash(sp); /* every grader's: a cell's grade key is theirs combined */
	v[LP_PROMPT] = sp->tmplhash;
	v[LP_ENV] = sp->envhash;
}

/* the shortest decimal that reads back as the same double */
static void fmtscore(char out[32], double v)
{
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *locktext(struct plan *p)
{
	struct strv lines = {0};
	struct buf b = {0};
	char h1[33], h2[33], sc[32];

	for (size_t i = 0; i < p->nsp; i++) {
		hash v[NLPARTS];
		suiteparts(&p->sp[i], v);
		for (int k = 0; k < NLPARTS; k++) {
			if (k == LP_ENV && hashzero(v[k]))
				continue;
			hashhex(v[k], h1);
			char *l = xasprintf("%s %s %s", p->sp[i].suite->name, lpnames[k], h1);
			strvadd(&lines, l);
			free(l);
		}
	}
	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		hashhex(c->runkey, h1);
		hashhex(c->gradekey, h2);
		fmtscore(sc, c->score);
		char *l = xasprintf("%s %s %s %s", c->id, h1, h2, sc);
		strvadd(&lines, l);
		free(l);
	}
	qsort(lines.v, lines.n, sizeof(*lines.v), cmpstr);
	bufaddf(&b, "%s\n", header);
	for (size_t i = 0; i < lines.n; i++)
		bufaddf(&b, "%s\n", lines.v[i]);
	strvfree(&lines);
	return bufdetach(&b);
}

int cmdlock(struct opts *o)
{
	struct project pr = {0};
	size_t stale = 0;
	int rc = 0;

	if (o->nargs)
		die("lock: takes no targets: the lock covers every cell of every suite");
	if (o->sample || o->iterations)
		die("lock: --sample and --iterations do not apply: the lock covers every cell of every suite");
	openproject(o, &pr);
	struct planopts po = {0};
	struct plan *p = planor2(&pr, &po);
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (c->need == NEED_NOTHING)
			continue;
		if (stale++ < MAXSTALE || o->verbose)
			fprintf(stderr, "not up to date: %s (%s)\n", c->id, c->why);
	}
	char *path = lockpath(pr.ef);
	if (stale) {
		if (stale > MAXSTALE && !o->verbose)
			fprintf(stderr, "... and %zu more (-v lists all)\n", stale - MAXSTALE);
		fprintf(stderr, "evalmake: lock: %zu of %zu cell%s not up to date: run evalmake first; %s not written\n",
		        stale, p->ncells, p->ncells == 1 ? "" : "s", path);
		rc = EXIT_GATE;
	} else {
		char *text = locktext(p);
		char *old = readfile(path, NULL);
		if (!old || strcmp(old, text)) {
			if (writefile(path, text, strlen(text)) < 0) {
				warn("cannot write %s:", path);
				rc = EXIT_GATE;
			}
		}
		if (!rc && !o->silent)
			printf("%s %s: %zu cell%s of %zu suite%s\n", old && !strcmp(old, text) ? "unchanged" : "wrote",
			       path, p->ncells, p->ncells == 1 ? "" : "s", p->nsp, p->nsp == 1 ? "" : "s");
		free(old);
		free(text);
	}
	savestate(pr.st);
	free(path);
	freeplan(p);
	closeproject(&pr);
	return rc;
}

/* a cell line of the lock */
struct lockcell {
	hash run, grade;
	double score;
	int seen;        /* a planned cell matched it */
};

struct lockfile {
	struct htab *cells;   /* id -> struct lockcell */
	struct htab *parts;   /* "SUITE PART" -> hash */
};

static void freelock(struct lockfile *lf)
{
	htabfree(lf->cells, free);
	htabfree(lf->parts, free);
}

/* split off the last space-separated field of line (cut in place); NULL
 * when there is none. Fields are taken from the right, because a task id
 * (from a .jsonl "id") may itself hold spaces. */
static char *lastfield(char *line)
{
	char *sp = strrchr(line, ' ');

	if (!sp || sp == line)
		return NULL;
	*sp = '\0';
	return sp + 1;
}

static void putpart(struct lockfile *lf, const char *suite, const char *part, hash h)
{
	char *key = xasprintf("%s %s", suite, part);
	void **slot = htabslot(lf->parts, key, strlen(key), 1);

	free(*slot);
	*slot = xmalloc(sizeof(hash));
	*(hash *)*slot = h;
	free(key);
}

static void putcell(struct lockfile *lf, const char *id, hash run, hash grade, double score)
{
	void **slot = htabslot(lf->cells, id, strlen(id), 1);

	free(*slot);
	*slot = xcalloc(1, sizeof(struct lockcell));
	*(struct lockcell *)*slot = (struct lockcell){run, grade, score, 0};
}

/* one line after the header: 0, or -1 when it is not a lock line */
static int readline(struct lockfile *lf, char *line)
{
	char *f3 = lastfield(line), *f2 = f3 ? lastfield(line) : NULL;
	hash h1, h2;

	if (!f2)
		return -1;
	/* SUITE PART HASH (a cell line's second field from the right is a
	 * hash, never a part's name) */
	for (int k = 0; k < NLPARTS; k++) {
		if (!strcmp(f2, lpnames[k]) && hashparse(f3, &h1) == 0) {
			putpart(lf, line, f2, h1);
			return 0;
		}
	}
	/* SUITE/TASK#K RUNKEY GRADEKEY SCORE */
	char *f1 = lastfield(line), *end;
	if (!f1 || hashparse(f1, &h1) < 0 || hashparse(f2, &h2) < 0)
		return -1;
	double sc = strtod(f3, &end);
	if (end == f3 || *end || !(sc >= 0 && sc <= 1) || !strchr(line, '#'))
		return -1;
	putcell(lf, line, h1, h2, sc);
	return 0;
}

static int readlock(const char *path, struct lockfile *lf, char **err)
{
	char *text = readfile(path, NULL);
	char head[32];
	int lineno = 0;

	lf->cells = mkhtab(1024);
	lf->parts = mkhtab(64);
	if (!text) {
		int e = errno;
		*err = e == ENOENT ? xasprintf("no %s: write it with `evalmake lock` (after `evalmake`)", path)
		                   : xasprintf("cannot read %s: %s", path, strerror(e));
		return e == ENOENT ? EXIT_GATE : EXIT_USAGE;
	}
	snprintf(head, sizeof(head), "# evalmake lock %d:", LOCK_VERSION);
	for (char *line = text, *next; *line; line = next) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		lineno++;
		if (lineno == 1 ? !strncmp(line, head, strlen(head)) : !line[0] || readline(lf, line) == 0)
			continue;
		*err = lineno == 1 ? xasprintf("%s:1: not an evalmake lock of version %d (rewrite it with `evalmake lock`)",
		                               path, LOCK_VERSION)
		                   : xasprintf("%s:%d: not a lock line (a merge conflict? rewrite it with `evalmake lock`)",
		                               path, lineno);
		free(text);
		return EXIT_USAGE;
	}
	free(text);
	return 0;
}

/* why a cell's run key differs from the locked one */
static char *whystale(struct plan *p, const struct cell *c, const struct lockcell *lc, const int changed[NLPARTS])
{
	static const char *const names[NPARTS] = {"agent config", "rendered prompt", "task input", "deps", "env"};
	struct buf b = {0};

	for (int k = 0; k < NLPARTS; k++) {
		if (k == LP_GRADER || !changed[k])
			continue;
		bufaddf(&b, "%s%s", b.len ? ", " : "", lpwhat[k]);
		if (k == LP_PROMPT && c->sp->suite->prompt)
			bufaddf(&b, " %s", c->sp->suite->prompt);
	}
	if (!b.len) {
		/* the suite-wide inputs are as locked: the task's own inputs
		 * changed; the cache's record of the cell may say which */
		const struct cellrec *r = findcell(p->store, c->id);
		if (r && hasheq(r->run, lc->run))
			for (int k = 0; k < NPARTS; k++)
				if (!hasheq(r->parts[k], c->parts[k]))
					bufaddf(&b, "%s%s", b.len ? ", " : "", names[k]);
	}
	if (!b.len)
		bufadds(&b, "task input");
	bufadds(&b, " changed");
	return bufdetach(&b);
}

int applylock(struct plan *p, const char *path, int full, int verbose, FILE *f, size_t *nstale, char **err)
{
	struct lockfile lf;
	int rc = readlock(path, &lf, err);
	int (*changed)[NLPARTS] = xcalloc(p->nsp + 1, sizeof(*changed));
	int *known = xcalloc(p->nsp + 1, sizeof(int));

	*nstale = 0;
	if (rc) {
		freelock(&lf);
		free(changed);
		free(known);
		return rc;
	}
	for (size_t i = 0; i < p->nsp; i++) {
		hash v[NLPARTS];
		suiteparts(&p->sp[i], v);
		for (int k = 0; k < NLPARTS; k++) {
			char *key = xasprintf("%s %s", p->sp[i].suite->name, lpnames[k]);
			hash *h = htabget(lf.parts, key, strlen(key));
			free(key);
			known[i] |= h != NULL;
			changed[i][k] = k == LP_ENV && !h ? !hashzero(v[k]) : !h || !hasheq(*h, v[k]);
		}
	}
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		size_t si = (size_t)(c->sp - p->sp);
		struct lockcell *lc = htabget(lf.cells, c->id, strlen(c->id));
		char *why = NULL;

		c->scored = 0;
		c->status = CELL_PENDING;
		if (!lc) {
			why = xstrdup(known[si] ? "not in the lock (a new cell)" : "not in the lock (a new suite)");
		} else {
			lc->seen = 1;
			c->scored = 1;
			c->score = lc->score;
			c->status = CELL_CACHED;
			if (!hasheq(lc->run, c->runkey))
				why = whystale(p, c, lc, changed[si]);
			else if (c->need != NEED_RUN && !hasheq(lc->grade, c->gradekey))
				why = xstrdup(changed[si][LP_GRADER] ? "grader changed"
				                                    : "grade key changed (grader files or expected answer)");
			else if (c->need == NEED_RUN && changed[si][LP_GRADER])
				why = xstrdup("grader changed");
		}
		if (why) {
			if ((*nstale)++ < MAXSTALE || verbose)
				fprintf(f, "stale %s: %s\n", c->id, why);
			free(why);
		}
	}
	if (full) {
		size_t pos = 0, keylen;
		const void *key;
		void *val;
		while (htabnext(lf.cells, &pos, &key, &keylen, &val)) {
			struct lockcell *lc = val;
			if (lc->seen)
				continue;
			if ((*nstale)++ < MAXSTALE || verbose)
				fprintf(f, "stale %.*s: in the lock, but no longer a cell (its task or iteration is gone)\n",
				        (int)keylen, (const char *)key);
		}
	}
	if (*nstale > MAXSTALE && !verbose)
		fprintf(f, "... and %zu more stale cells (-v lists all)\n", *nstale - MAXSTALE);
	freelock(&lf);
	free(changed);
	free(known);
	return 0;
}

int lockkeys(const char *path, struct htab *runs, struct htab *grades)
{
	char *text = readfile(path, NULL), *save = NULL;
	int n = 0;

	if (!text)
		return -1;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char id[1024], r[64], g[64];
		hash rk, gk;
		/* cell lines only: SUITE/TASK#K RUNKEY GRADEKEY SCORE */
		if (line[0] == '#' || sscanf(line, "%1023s %63s %63s", id, r, g) != 3 || hashparse(r, &rk) < 0
		    || hashparse(g, &gk) < 0)
			continue;
		htabput(runs, &rk, sizeof(rk), runs);
		htabput(grades, &gk, sizeof(gk), grades);
		n++;
	}
	free(text);
	return n;
}
