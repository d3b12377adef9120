/* watch: the reverse index, the batch handler and the per-update report.
 * Everything happens in the one loop: the scheduler's jobs, the model
 * calls and the file events. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/fswatch.h"
#include "load/glob.h"
#include "report/live.h"
#include "report/noop.h"
#include "report/report.h"
#include "core/util.h"
#include "cmd/watch.h"
#include "cmd/project.h"

enum { REF_SUITE, REF_TASK };

/* cells of a save's seeded sample, run after its failed cells */
#define WATCH_SAMPLE 10

struct ref {
	int kind;
	size_t sp, task;
	struct ref *next;
};

struct watcher {
	const struct watchopts *o;
	struct loop *l;
	struct remote *remote;    /* the remote cache, or NULL */
	struct fswatch *fw;
	struct sched *sched;
	struct evalfile *ef;
	struct state *st;
	struct store *store;
	struct plan *p;
	struct live *live;      /* --serve: the live view, or NULL */
	struct noopserver *ask; /* answers a plain run's no-op question (report/noop.h) */
	struct htab *index;     /* path -> struct ref list */
	struct strv globs;      /* task globs: a new match is a new task */
	struct strv depglobs;   /* deps globs: a new file they cover is a new input */
	struct ignore *ignore;  /* the project's .gitignore: files deps leave out */
	struct htab *trigger;   /* paths since the last report */
	struct htab *prevtask;  /* "suite/task" -> double * (score, or -1) */
	struct htab *prevsuite; /* suite -> double * */
	struct htab *seen;      /* cell id -> struct seen: as the last --jsonl line had it */
	int updating;           /* cells queued since the last report */
	int watchfail;          /* warned that a directory cannot be watched */
};

static void freerefs(void *p)
{
	for (struct ref *r = p, *n; r; r = n) {
		n = r->next;
		free(r);
	}
}

/* path without its leading "./" (an Evalfile may name "./grade.sh"; an
 * event in the folder "." names "grade.sh"): the index's names */
static const char *plainpath(const char *path)
{
	while (path[0] == '.' && path[1] == '/')
		for (path += 2; *path == '/'; path++)
			;
	return path;
}

static void addref(struct watcher *w, const char *path, int kind, size_t sp, size_t task)
{
	path = plainpath(path);
	void **slot = htabslot(w->index, path, strlen(path), 1);
	struct ref *r = xcalloc(1, sizeof(*r));

	*r = (struct ref){kind, sp, task, *slot};
	*slot = r;
}

static void watchdir(struct watcher *w, const char *dir)
{
	if (fswatchdir(w->fw, dir) < 0 && errno != ENOENT && !w->watchfail) {
		w->watchfail = 1;
		warn("cannot watch %s (raise fs.inotify.max_user_watches?):", dir);
	}
}

static void watchparent(struct watcher *w, const char *path)
{
	char *d = dirname_of(path);

	watchdir(w, d);
	free(d);
}

/* a directory task: the folder, every folder under it, and its parent */
static void watchtree(struct watcher *w, const char *dir, int depth)
{
	struct stat st;

	watchdir(w, dir);
	if (depth > 16)
		return;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = pathjoin(dir, e->d_name);
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			watchtree(w, sub, depth + 1);
		free(sub);
	}
	if (d)
		closedir(d);
}

static void buildindex(struct watcher *w)
{
	struct plan *p = w->p;

	htabfree(w->index, freerefs);
	w->index = mkhtab(1024);
	strvfree(&w->globs);
	strvfree(&w->depglobs);
	freeignore(w->ignore);
	w->ignore = loadignore(".gitignore");
	watchparent(w, w->o->evalfile);
	for (size_t i = 0; i < p->nsp; i++) {
		struct suiteplan *sp = &p->sp[i];
		struct suite *s = sp->suite;
		if (s->prompt)
			addref(w, s->prompt, REF_SUITE, i, 0), watchparent(w, s->prompt);
		for (size_t k = 0; k < s->agent.deps.n; k++)
			addref(w, s->agent.deps.v[k], REF_SUITE, i, 0), watchparent(w, s->agent.deps.v[k]);
		for (size_t g = 0; g < s->ngraders; g++) {
			const struct grader *gr = suitegrader(s, g);
			for (size_t k = 0; k < gr->files.n; k++)
				addref(w, gr->files.v[k], REF_SUITE, i, 0), watchparent(w, gr->files.v[k]);
			for (size_t k = 0; k < gr->depglobs.n; k++)
				strvadd(&w->depglobs, gr->depglobs.v[k]);
			for (size_t k = 0; k < gr->depdirs.n; k++)
				watchdir(w, gr->depdirs.v[k]);
		}
		/* the folders the globs looked into: where a new match may appear */
		for (size_t k = 0; k < s->taskglobs.n; k++)
			strvadd(&w->globs, s->taskglobs.v[k]);
		for (size_t k = 0; k < s->taskdirs.n; k++)
			watchdir(w, s->taskdirs.v[k]);
		for (size_t k = 0; k < s->agent.depglobs.n; k++)
			strvadd(&w->depglobs, s->agent.depglobs.v[k]);
		for (size_t k = 0; k < s->agent.depdirs.n; k++)
			watchdir(w, s->agent.depdirs.v[k]);
		for (size_t t = 0; t < sp->tasks.n; t++) {
			struct task *task = &sp->tasks.v[t];
			if (!sp->cellsof || !sp->cellsof[t].n)
				continue; /* not targeted */
			addref(w, task->path, REF_TASK, i, t);
			watchparent(w, task->path);
			if (task->kind == TASK_DIR)
				watchtree(w, task->path, 0);
		}
	}
}

/* what reads path: its own entry, or a folder task above it */
static struct ref *lookup(struct watcher *w, const char *path)
{
	char *p = xstrdup(plainpath(path));
	struct ref *r = NULL;

	for (;;) {
		r = htabget(w->index, p, strlen(p));
		if (r || !strchr(p, '/'))
			break;
		*strrchr(p, '/') = '\0';
	}
	free(p);
	return r;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int isdir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* is path a new task, or a new folder where a task glob's matches may lie
 * (a new folder tasks/a/b, for a task glob with a ** component)? */
static int matchesglob(struct watcher *w, const char *path)
{
	int dir = -1;

	for (size_t i = 0; i < w->globs.n; i++) {
		if (globmatch(w->globs.v[i], path))
			return 1;
		if (globleads(w->globs.v[i], path) && (dir < 0 ? (dir = isdir(path)) : dir)
		    && !globjunk(strrchr(path, '/') ? strrchr(path, '/') + 1 : path))
			return 1;
	}
	return 0;
}

/* would the deps globs take in path, a file or folder? It is
 * covered when it or a folder above it matches a glob (a folder's files
 * are inputs); a new folder also when a match may lie below it (`**`).
 * What the loader leaves out of deps (.git, __pycache__, editors' files,
 * what .gitignore ignores) is not. */
static int depcovers(struct watcher *w, const char *path, int isdir)
{
	char *p = xstrdup(path);
	int r = 0;

	for (char *s = p;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = '\0';
			const char *name = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
			if (globjunk(name) || (w->ignore && ignored(w->ignore, p, c || isdir)))
				goto out;
			*s = c;
		}
		if (!*s)
			break;
	}
	for (size_t i = 0; i < w->depglobs.n && !r; i++) {
		const char *g = w->depglobs.v[i];
		r = isdir && globleads(g, path);
		for (char *s = p; !r; s++) {
			if (*s == '/' || !*s) {
				char c = *s;
				*s = '\0';
				r = globmatch(g, p);
				*s = c;
			}
			if (!*s)
				break;
		}
	}
out:
	free(p);
	return r;
}

static void remember(struct watcher *w)
{
	struct suitesum *sum = summarize(w->p);

	htabfree(w->prevtask, free);
	htabfree(w->prevsuite, free);
	w->prevtask = mkhtab(1024);
	w->prevsuite = mkhtab(16);
	for (size_t i = 0; i < w->p->nsp; i++) {
		struct suiteplan *sp = &w->p->sp[i];
		double *v = xmalloc(sizeof(*v));
		*v = sum[i].scoredtasks ? sum[i].score : NAN;
		htabput(w->prevsuite, sp->suite->name, strlen(sp->suite->name), v);
		for (size_t t = 0; t < sp->tasks.n; t++) {
			if (!sum[i].taskcells[t])
				continue;
			char *k = xasprintf("%s/%s", sp->suite->name, sp->tasks.v[t].id);
			double *tv = xmalloc(sizeof(*tv));
			*tv = sum[i].taskscore[t];
			htabput(w->prevtask, k, strlen(k), tv);
			free(k);
		}
	}
	freesummary(w->p, sum);
}

static double prevtaskscore(struct watcher *w, const struct suiteplan *sp, const struct task *t)
{
	char *k = xasprintf("%s/%s", sp->suite->name, t->id);
	double *v = htabget(w->prevtask, k, strlen(k));

	free(k);
	return v ? *v : -1;
}

static char **triggerlist(struct watcher *w)
{
	size_t n = htabcount(w->trigger), i = 0, pos = 0, klen;
	char **v = xcalloc(n + 1, sizeof(*v));
	const void *key;

	while (htabnext(w->trigger, &pos, &key, &klen, NULL))
		v[i++] = xstrndup(key, klen);
	return v;
}

static void freelist(char **v)
{
	for (char **s = v; s && *s; s++)
		free(*s);
	free(v);
}

static int wasfailing(struct watcher *w, const struct cell *c);

/* --jsonl: a line per suite estimate that moved as a cell landed, so a
 * script sees the score sharpen before the update's report line */
static void onestimate(void *arg, const struct suiteplan *sp, const struct estimate *e)
{
	(void)arg;
	cJSON *j = cJSON_CreateObject(), *v = cJSON_AddObjectToObject(j, "estimate");
	cJSON_AddStringToObject(v, "suite", sp->suite->name);
	if (isnan(e->score))
		cJSON_AddNullToObject(v, "score");
	else
		cJSON_AddNumberToObject(v, "score", e->score);
	if (isnan(e->se))
		cJSON_AddNullToObject(v, "stderr");
	else
		cJSON_AddNumberToObject(v, "stderr", e->se);
	cJSON_AddNumberToObject(v, "tasks_scored", (double)e->tasks);
	cJSON_AddNumberToObject(v, "cells_scored", (double)e->scored);
	cJSON_AddNumberToObject(v, "cells", (double)e->cells);
	char *line = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	printf("%s\n", line);
	fflush(stdout);
	free(line);
}

/* a cell as a --jsonl line last showed it */
struct seen {
	hash run, grade;
	int status, scored;
	double score, seconds;
};

/* which cells differ from what the last --jsonl line showed (keys,
 * status, score: a cache hit after an edit changes a cell without running
 * it); remembered for the next line. One byte per cell, freed by the
 * caller. */
static unsigned char *changedcells(struct watcher *w)
{
	unsigned char *chg = xcalloc(w->p->ncells + 1, 1);

	for (size_t i = 0; i < w->p->ncells; i++) {
		const struct cell *c = &w->p->cells[i];
		/* ran and cached are one state here: a cell that ran is shown
		 * as cached from the next update on, unchanged */
		int st = c->status == CELL_RAN ? CELL_CACHED : (int)c->status;
		struct seen now = {c->runkey, c->gradekey, st, c->scored, c->scored ? c->score : 0, c->seconds};
		void **slot = htabslot(w->seen, c->id, strlen(c->id), 1);
		struct seen *was = *slot;
		chg[i] = !was || !hasheq(was->run, now.run) || !hasheq(was->grade, now.grade) || was->status != now.status
		         || was->scored != now.scored || was->score != now.score || was->seconds != now.seconds;
		if (!was)
			was = *slot = xmalloc(sizeof(*was));
		*was = now;
	}
	return chg;
}

static void report(struct watcher *w, int first)
{
	struct suitesum *sum = summarize(w->p);
	char **trig = triggerlist(w);
	const struct runopts *ro = &w->o->run;

	if (ro->progress && !ro->silent)
		fputs("\r\033[K", stderr); /* the estimate line gives way to the report */

	if (w->o->jsonl) {
		unsigned char *chg = changedcells(w);
		char *j = jsonupdate(w->p, sum, trig, first || w->o->full ? NULL : chg);
		free(chg);
		printf("%s\n", j);
		free(j);
	} else if (first) {
		struct reportopts rp = {.color = ro->color, .verbose = ro->verbose};
		printtable(stdout, w->p, sum, &rp);
		printf("watching %zu folder%s; Ctrl-C to stop\n", fswatchcount(w->fw), fswatchcount(w->fw) == 1 ? "" : "s");
	} else {
		char when[16];
		time_t t = time(NULL);
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
		printf("%s%s%s ", ro->color ? "\033[1m" : "", when, ro->color ? "\033[0m" : "");
		for (char **s = trig; *s && s - trig < 3; s++)
			printf("%s%s", s == trig ? "" : ", ", *s);
		if (htabcount(w->trigger) > 3)
			printf(" (+%zu more)", htabcount(w->trigger) - 3);
		putchar('\n');
		for (size_t i = 0; i < w->p->nsp; i++) {
			struct suitesum *s = &sum[i];
			const char *name = s->sp->suite->name;
			double *prev = htabget(w->prevsuite, name, strlen(name));
			printf("  %-12s ", name);
			if (!s->scoredtasks)
				printf("    -");
			else
				printf(isnan(s->se) ? "%.3f n/a" : "%.3f ±%.3f", s->score, s->se);
			if (prev && !isnan(*prev) && s->scoredtasks && fabs(s->score - *prev) > 1e-9) {
				int up = s->score > *prev;
				printf("  %s%s%+.3f%s", ro->color ? (up ? "\033[32m" : "\033[31m") : "", up ? "up " : "down ",
				       s->score - *prev, ro->color ? "\033[0m" : "");
			}
			printf("  (%zu ran, %zu error%s)\n", s->ran, s->errors, s->errors == 1 ? "" : "s");
			/* tasks that flipped between pass (score 1) and fail */
			for (size_t t = 0; t < s->sp->tasks.n; t++) {
				if (!s->taskcells[t] || s->taskscore[t] < 0)
					continue;
				struct task *task = &s->sp->tasks.v[t];
				double before = prevtaskscore(w, s->sp, task);
				if (before < 0 || (before >= 1) == (s->taskscore[t] >= 1))
					continue;
				if (s->taskscore[t] >= 1) {
					printf("    %sfixed%s %s/%s\n", ro->color ? "\033[32m" : "", ro->color ? "\033[0m" : "", name,
					       task->id);
					continue;
				}
				const struct cell *fc = NULL;
				for (size_t k = 0; k < s->sp->cellsof[t].n && !fc; k++) {
					const struct cell *c = &w->p->cells[s->sp->cellsof[t].v[k]];
					if (c->scored && c->score < 1)
						fc = c;
				}
				char *got = fc ? gotline(w->p, fc) : xstrdup("?"), *err = NULL;
				if (loadtask(task, &err) < 0)
					free(err);
				/* one line each: the first line of the expected answer */
				char *want = xstrdup(firstexpected(task)), *wt = trim(want);
				wt[strcspn(wt, "\n")] = '\0';
				printf("    %sbroke%s %s/%s  expected \"%.60s\", got \"%s\"\n", ro->color ? "\033[31m" : "",
				       ro->color ? "\033[0m" : "", name, task->id, wt, got);
				free(want);
				free(got);
			}
		}
	}
	fflush(stdout);
	freelist(trig);
	freesummary(w->p, sum);
	htabfree(w->trigger, NULL);
	w->trigger = mkhtab(16);
	remember(w);
	/* the next update counts only what it does */
	for (size_t i = 0; i < w->p->ncells; i++) {
		struct cell *c = &w->p->cells[i];
		c->failed = wasfailing(w, c);
		if (c->status == CELL_RAN)
			c->status = CELL_CACHED;
		c->graded_now = 0;
	}
	recordcells(w->p);
	storeflush(w->store);
	savestate(w->st);
	if (w->live)
		livepush(w->live, 1);
}

/* was the cell failing at the last report? (they run first) */
static int wasfailing(struct watcher *w, const struct cell *c)
{
	(void)w;
	return c->status == CELL_ERROR || (c->scored && c->score < 1);
}

/* the place of a cell in the seeded sample: a hash of its id, so every
 * save samples the same cells and their estimates compare */
static uint64_t sampleorder(const struct cell *c)
{
	char *k = xasprintf("evalmake-sample:%s", c->id);
	hash h = hashbytes(k, strlen(k));

	free(k);
	return h.high64;
}

struct ranked {
	int iteration;
	uint64_t rank;
	struct cell *c;
};

/* first iterations first: a sample spread over tasks, not one task's
 * iterations */
static int byrank(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->iteration != y->iteration)
		return x->iteration < y->iteration ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static void queueone(struct watcher *w, struct cell *c)
{
	char *err;

	if (c->need == NEED_NOTHING || c->queued)
		return;
	if (preparecell(w->p, c, &err) < 0) {
		fprintf(stderr, "evalmake: %s\n", err);
		free(err);
		return;
	}
	schedqueue(w->sched, c, 0);
	w->updating = 1;
}

/* Queue what the save made stale, in the order that gives feedback
 * soonest: the cells that failed last time, then a seeded sample of the
 * others (WATCH_SAMPLE cells, or -j if more; first iterations first), then
 * the rest in plan order
 * (iteration-major), widening while no save arrives; then later, the
 * cells an earlier widening had not started (rest, nrest) */
static void queueneeded(struct watcher *w, struct cell **cells, size_t n, struct cell **rest, size_t nrest)
{
	struct ranked *v = xcalloc(n + 1, sizeof(*v));
	size_t nv = 0, want = (size_t)(w->o->run.jobs > WATCH_SAMPLE ? w->o->run.jobs : WATCH_SAMPLE);

	for (size_t i = 0; i < n; i++)
		if (cells[i]->failed)
			queueone(w, cells[i]);
	for (size_t i = 0; i < n; i++)
		if (cells[i]->need != NEED_NOTHING && !cells[i]->queued)
			v[nv++] = (struct ranked){cells[i]->iteration, sampleorder(cells[i]), cells[i]};
	if (nv > want) {
		qsort(v, nv, sizeof(*v), byrank);
		for (size_t i = 0; i < want; i++)
			queueone(w, v[i].c);
	}
	free(v);
	for (size_t i = 0; i < n; i++)
		queueone(w, cells[i]);
	for (size_t i = 0; i < nrest; i++)
		queueone(w, rest[i]);
}

static int replan(struct watcher *w, struct evalfile *ef)
{
	char *err;
	struct plan *p = makeplan(ef, w->st, w->store, &w->o->plan, &err);

	/* the remote cache is asked at start only: cells an edit made dirty
	 * later hold inputs nobody else has run yet (and a fetch then would
	 * run the loop, and its file events, from inside this one) */
	if (p && !w->p && w->remote)
		fetchcells(p, w->remote, 0);
	if (p && preparerun(p, &err) < 0) {
		freeplan(p);
		p = NULL;
	}
	if (!p) {
		fprintf(stderr, "evalmake: %s\n", err);
		if (w->p) /* at start there is none to keep: watch exits 2 */
			fprintf(stderr, "evalmake: keeping the last good configuration until this is fixed\n");
		free(err);
		return -1;
	}
	/* a reload that changed no cell (the Evalfile saved as it was) is no
	 * update; one that did is, even if nothing needs to run */
	int changed = !w->p || p->ncells != w->p->ncells;
	for (size_t i = 0; !changed && i < p->ncells; i++) {
		struct cell *a = &p->cells[i], *b = &w->p->cells[i];
		changed = strcmp(a->id, b->id) || !hasheq(a->runkey, b->runkey) || !hasheq(a->gradekey, b->gradekey)
		          || a->need != b->need;
	}
	/* carry over which cells were failing, so they run first */
	if (w->p) {
		for (size_t i = 0; i < p->ncells; i++) {
			struct cell *old = findcellid(w->p, p->cells[i].id);
			if (old)
				p->cells[i].failed = wasfailing(w, old);
		}
		schedabort(w->sched);
		freeplan(w->p);
	}
	w->p = p;
	schedplan(w->sched, p);
	buildindex(w);
	struct cell **all = xcalloc(p->ncells + 1, sizeof(*all));
	for (size_t i = 0; i < p->ncells; i++)
		all[i] = &p->cells[i];
	queueneeded(w, all, p->ncells, NULL, 0);
	free(all);
	if (changed)
		w->updating = 1;
	return 0;
}

static void reload(struct watcher *w)
{
	char *err;
	struct evalfile *ef;

	/* a reload re-reads everything: forget what is known of files */
	ef = loadevalfile(w->o->evalfile, &err);
	if (!ef) {
		fprintf(stderr, "evalmake: %s\nevalmake: keeping the last good configuration until this is fixed\n", err);
		free(err);
		return;
	}
	declaresecrets(ef); /* a suite may name a new key */
	if (strcmp(w->o->evalfile, w->o->display)) {
		free(ef->path);
		ef->path = xstrdup(w->o->display);
	}
	if (replan(w, ef) < 0) {
		freeevalfile(ef);
		return;
	}
	freeevalfile(w->ef);
	w->ef = ef;
}

/* add the cells of one task to a list */
static void addcells(struct watcher *w, struct suiteplan *sp, size_t t, struct cell ***v, size_t *n, size_t *cap)
{
	for (size_t k = 0; sp->cellsof && k < sp->cellsof[t].n; k++) {
		xgrow(v, cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = &w->p->cells[sp->cellsof[t].v[k]];
	}
}

struct before {
	hash run, grade;
	enum need need;
};

static void onbatch(void *arg, char **paths, size_t n, int overflow)
{
	struct watcher *w = arg;
	int full = overflow, relevant = overflow;
	char *err;
	char *suites = xcalloc(w->p->nsp + 1, 1);
	struct htab *tasks = mkhtab(16);
	struct strv inside = {0}; /* gone paths inside folder tasks: named only if the task changed */

	for (size_t i = 0; i < n; i++) {
		const char *path = paths[i];
		struct ref *r = lookup(w, path);
		int here = exists(path);
		if (!strcmp(path, w->o->evalfile)) {
			full = relevant = 1;
		} else if (r) {
			relevant = 1;
			forgetfile(w->st, path);
			int exact = htabget(w->index, path, strlen(path)) != NULL;
			for (; r; r = r->next) {
				if (r->kind == REF_SUITE) {
					suites[r->sp] = 1;
					if (!here && exact && depcovers(w, path, 0))
						full = 1; /* a deps file gone: its globs match less now */
					continue;
				}
				struct task *t = &w->p->sp[r->sp].tasks.v[r->task];
				if (t->kind == TASK_JSONL || !exists(t->path))
					full = 1; /* lines may come and go; a task is gone */
				else
					htabput(tasks, (size_t[2]){r->sp, r->task}, sizeof(size_t[2]), t);
			}
			if (!here && !exact) {
				/* e.g. an editor's temporary file, renamed away */
				strvadd(&inside, path);
				continue;
			}
		} else if (here && (matchesglob(w, path) || depcovers(w, path, isdir(path)))) {
			full = relevant = 1; /* a new task or deps file */
		} else if (here) {
			struct stat st;
			/* a new folder inside a folder task: watch it too */
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && lookup(w, path))
				watchtree(w, path, 0);
			continue;
		} else {
			continue;
		}
		htabput(w->trigger, path, strlen(path), (void *)1);
	}
	if (overflow)
		htabput(w->trigger, "(events lost: rescanned)", 24, (void *)1);
	if (!relevant)
		goto done;
	if (full) {
		reload(w);
		goto done;
	}
	/* the cells the batch may affect, and what they were before */
	struct cell **touched = NULL;
	size_t nt = 0, cap = 0;
	for (size_t i = 0; i < w->p->nsp; i++)
		for (size_t t = 0; suites[i] && t < w->p->sp[i].tasks.n; t++)
			addcells(w, &w->p->sp[i], t, &touched, &nt, &cap);
	size_t pos = 0, klen;
	const void *key;
	void *val;
	while (htabnext(tasks, &pos, &key, &klen, &val)) {
		size_t idx[2];
		memcpy(idx, key, sizeof(idx));
		if (!suites[idx[0]])
			addcells(w, &w->p->sp[idx[0]], idx[1], &touched, &nt, &cap);
	}
	/* a new save cancels the widening of the last one: what it had not
	 * started waits behind this save's failed cells and sample (what
	 * runs goes on, and what lands is stored) */
	size_t nrest;
	struct cell **rest = schedtakeback(w->sched, &nrest);
	struct before *was = xcalloc(nt + 1, sizeof(*was));
	for (size_t i = 0; i < nt; i++)
		was[i] = (struct before){touched[i]->runkey, touched[i]->gradekey, touched[i]->need};
	/* re-key them: suites first, then the tasks named (of those suites too) */
	for (size_t i = 0; i < w->p->nsp; i++) {
		struct suiteplan *sp = &w->p->sp[i];
		if (!suites[i])
			continue;
		if (rekeysuite(w->p, sp, &err) < 0) {
			fprintf(stderr, "evalmake: %s\n", err);
			free(err);
			sp->broken = 1;
			continue;
		}
		sp->broken = 0;
	}
	pos = 0;
	while (htabnext(tasks, &pos, &key, &klen, &val)) {
		size_t idx[2];
		memcpy(idx, key, sizeof(idx));
		struct suiteplan *sp = &w->p->sp[idx[0]];
		/* a suite re-keyed above still has this task to read again:
		 * rekeysuite keeps each task's content hash */
		if (sp->broken)
			continue;
		if (rekeytask(w->p, sp, idx[1], &err) < 0) {
			fprintf(stderr, "evalmake: %s\n", err);
			free(err);
		}
	}
	/* what really changed: a running cell with new inputs is cancelled;
	 * any change (even back to cached results) is an update to report */
	int changed = 0;
	for (size_t i = 0; i < nt; i++) {
		struct cell *c = touched[i];
		int moved = !hasheq(was[i].run, c->runkey) || !hasheq(was[i].grade, c->gradekey) || was[i].need != c->need;
		if (!moved)
			continue;
		changed = 1;
		if (c->job)
			schedcancel(w->sched, c);
		/* a folder task's vanished file is worth naming if the task moved
		 * and no file of it is named yet (an editor's temporary file,
		 * renamed onto the saved one, is not) */
		size_t tl = strlen(c->task->path);
		int named = 0;
		size_t tp = 0, tkl;
		const void *tk;
		while (!named && htabnext(w->trigger, &tp, &tk, &tkl, NULL))
			named = tkl > tl && !strncmp(tk, c->task->path, tl) && ((const char *)tk)[tl] == '/';
		for (size_t k = 0; k < inside.n && !named; k++)
			if (!strncmp(inside.v[k], c->task->path, tl) && inside.v[k][tl] == '/')
				htabput(w->trigger, inside.v[k], strlen(inside.v[k]), (void *)1);
	}
	free(was);
	if (changed)
		w->updating = 1;
	/* errors are never cached: every update tries them again */
	for (size_t i = 0; changed && i < w->p->ncells; i++) {
		if (w->p->cells[i].status == CELL_ERROR && !w->p->cells[i].queued) {
			xgrow(&touched, &cap, nt + 1, sizeof(*touched));
			touched[nt++] = &w->p->cells[i];
		}
	}
	queueneeded(w, touched, nt, rest, nrest);
	free(touched);
	free(rest);
	if (!w->updating && !w->o->jsonl)
		printf("no change to any score (%s)\n", n ? paths[0] : "");
	fflush(stdout);
done:
	if (!w->updating) {
		htabfree(w->trigger, NULL);
		w->trigger = mkhtab(16);
	}
	free(suites);
	htabfree(tasks, NULL);
	strvfree(&inside);
}

int watchrun(struct evalfile **efp, struct state *st, struct store *store, const struct watchopts *o)
{
	struct watcher w = {.o = o, .ef = *efp, .st = st, .store = store};
	char *err;
	int rc = 0;

	w.l = mkloop();
	w.fw = mkfswatch(w.l, onbatch, &w, &err);
	if (!w.fw) {
		fprintf(stderr, "evalmake: %s\n", err);
		free(err);
		freeloop(w.l);
		return EXIT_USAGE;
	}
	struct runopts ro = o->run; /* with the remote, which needs the loop */
	if (o->remote)
		w.remote = ro.remote = mkremote(o->remote, store, w.l);
	if (o->jsonl && o->estimates) {
		ro.estimated = onestimate;
		ro.estimatedarg = &w;
	}
	w.sched = mksched(NULL, w.l, &ro);
	w.trigger = mkhtab(16);
	w.prevtask = mkhtab(16);
	w.prevsuite = mkhtab(16);
	w.seen = mkhtab(1024);
	if (o->serve) {
		/* listening before the first plan: a port in use stops us before
		 * anything runs */
		w.live = mklive(w.l, o->serve, &w.p, o->display, o->cache, &err);
		if (!w.live) {
			fprintf(stderr, "evalmake: %s\n", err);
			free(err);
			rc = EXIT_USAGE;
			goto out;
		}
		fprintf(stderr, "evalmake: live view at %s\n", liveurl(w.live));
		if (livepublic(w.live))
			fprintf(stderr, "evalmake: warning: the live view is open to other machines; it shows every prompt, "
			                "output and transcript\n");
	}
	if (replan(&w, w.ef) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	/* a plain run on this cache may ask us instead of stat-ing its files */
	w.ask = noopserve(w.l, store, w.fw, o->cache);
	storebatch(store, 1); /* committed after each step of the loop */
	int first = 1;
	if (!w.updating) {
		report(&w, 1);
		first = 0;
	}
	for (;;) {
		schedpump(w.sched);
		if (w.updating && !schedbusy(w.sched)) {
			w.updating = 0;
			storesync(w.store); /* the update's results, on the disk */
			report(&w, first);
			first = 0;
		}
		if (loopinterrupted(w.l)) {
			schedabort(w.sched);
			rc = EXIT_INTR;
			break;
		}
		loopstep(w.l, -1);
		storecommitbatch(w.store); /* the cells that finished in that step */
		if (w.live && w.updating)
			livepush(w.live, 0); /* the grid recolours as cells land */
	}
out:
	if (w.p)
		recordcells(w.p);
	savestate(st);
	freenoopserver(w.ask);
	freelive(w.live);
	freesched(w.sched);
	remoteflush(w.remote);
	freeremote(w.remote);
	freefswatch(w.fw);
	freeplan(w.p);
	htabfree(w.index, freerefs);
	htabfree(w.trigger, NULL);
	htabfree(w.prevtask, free);
	htabfree(w.prevsuite, free);
	htabfree(w.seen, free);
	strvfree(&w.globs);
	strvfree(&w.depglobs);
	freeignore(w.ignore);
	freeloop(w.l);
	*efp = w.ef;
	return rc;
}
