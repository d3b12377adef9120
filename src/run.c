/* run: the scheduler. One loop; a cell moves
 *   queued -> agent running -> stored -> grading -> done
 * and each step's completion is a callback from the loop. Workload: from
 * one cell to hundreds of thousands, most of them cached; the queue is the
 * plan's cell array walked once, in order. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "grade.h"
#include "proc.h"
#include "run.h"
#include "util.h"

struct sched {
	struct plan *p;
	struct loop *l;
	const struct runopts *o;
	size_t next;        /* next cell of the plan to look at */
	int active;         /* cells with an agent or grader running */
	int stopping;       /* an error without -k: start nothing new */
	size_t done, total;
	int errors;
};

struct job {
	struct sched *s;
	struct cell *c;
	char *tmp;          /* the entry being written */
	char **env;
};

static void progress(struct sched *s)
{
	if (!s->o->progress || s->o->silent)
		return;
	fprintf(stderr, "\r\033[K[%zu/%zu]", s->done, s->total);
	fflush(stderr);
}

static void celldone(struct sched *s, struct cell *c)
{
	s->done++;
	if (c->status == CELL_ERROR) {
		s->errors++;
		if (!s->o->keepgoing)
			s->stopping = 1;
	}
	if (s->o->verbose && !s->o->silent) {
		if (s->o->progress)
			fputs("\r\033[K", stderr);
		if (c->status == CELL_ERROR)
			fprintf(stderr, "%s: error: %s\n", c->id, c->error);
		else
			fprintf(stderr, "%s: %s %.3g (%.2fs)\n", c->id, c->status == CELL_RAN ? "ran" : "graded", c->score,
			        c->seconds);
	} else if (c->status == CELL_ERROR && !s->o->silent) {
		if (s->o->progress)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "evalmake: %s: %s\n", c->id, c->error);
	}
	progress(s);
}

static void fail(struct sched *s, struct cell *c, char *msg)
{
	c->status = CELL_ERROR;
	c->scored = 0;
	free(c->error);
	c->error = msg;
	celldone(s, c);
}

static void graded(struct sched *s, struct cell *c, double score, char *reason, char *err)
{
	if (err) {
		free(reason);
		fail(s, c, err);
		return;
	}
	if (commitgrade(s->p->store, c->gradekey, score, reason) < 0) {
		free(reason);
		fail(s, c, xstrdup("cannot store the grade"));
		return;
	}
	free(reason);
	c->scored = 1;
	c->score = score;
	c->graded_now = 1;
	if (c->status != CELL_RAN)
		c->status = CELL_CACHED;
	celldone(s, c);
}

static void ongrade(void *arg, double score, char *reason, char *err)
{
	struct job *j = arg;

	j->s->active--;
	graded(j->s, j->c, score, reason, err);
	free(j);
}

/* grade a cell whose run is stored (c->out and c->gradekey are set) */
static void startgrade(struct sched *s, struct cell *c)
{
	const struct grader *g = &c->sp->suite->grader;
	const struct graderec *have = findgrade(s->p->store, c->gradekey);
	char *err = NULL;

	if (have) { /* e.g. a rerun produced an output graded before */
		c->scored = 1;
		c->score = have->score;
		if (c->status != CELL_RAN)
			c->status = CELL_CACHED;
		celldone(s, c);
		return;
	}
	if (loadtask(c->task, &err) < 0) {
		fail(s, c, err);
		return;
	}
	char *dir = runpath(s->p->store, c->runkey);
	char *outpath = pathjoin(dir, "output");
	free(dir);
	if (gradeinline(g)) {
		size_t len;
		char *out = readfile(outpath, &len);
		double score;
		char *reason;
		free(outpath);
		if (!out) {
			fail(s, c, xasprintf("cannot read the stored output: %s", strerror(errno)));
			return;
		}
		int r = gradenow(g, out, c->task, &score, &reason, &err);
		free(out);
		graded(s, c, score, reason, r < 0 ? err : NULL);
		return;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->c = c;
	if (gradestart(s->l, g, outpath, c->task, c->sp->suite->timeout, ongrade, j, &err) < 0) {
		free(j);
		free(outpath);
		fail(s, c, err);
		return;
	}
	free(outpath);
	s->active++;
}

static int putfile(const char *dir, const char *name, const char *data, size_t len)
{
	char *p = pathjoin(dir, name);
	int r = writefile(p, data, len);

	free(p);
	return r;
}

static void freejob(struct job *j)
{
	if (j->env)
		for (char **e = j->env; *e; e++)
			free(*e);
	free(j->env);
	free(j->tmp);
	free(j);
}

static char *meta(const struct cell *c, const struct procresult *r, const char *error)
{
	cJSON *m = cJSON_CreateObject();
	char hx[33];

	cJSON_AddStringToObject(m, "cell", c->id);
	hashhex(c->runkey, hx);
	cJSON_AddStringToObject(m, "run_key", hx);
	if (!error) {
		hashhex(hashbytes(r->out, r->outlen), hx);
		cJSON_AddStringToObject(m, "output_hash", hx);
	}
	cJSON_AddNumberToObject(m, "exit", r->exitcode);
	cJSON_AddNumberToObject(m, "seconds", r->seconds);
	cJSON_AddNumberToObject(m, "finished", (double)time(NULL));
	cJSON_AddBoolToObject(m, "output_cut", r->outcut);
	cJSON_AddBoolToObject(m, "transcript_cut", r->errcut);
	if (error)
		cJSON_AddStringToObject(m, "error", error);
	static const char *const names[NPARTS] = {"agent", "prompt", "task", "deps"};
	cJSON *parts = cJSON_AddObjectToObject(m, "inputs");
	for (int i = 0; i < NPARTS; i++) {
		hashhex(c->parts[i], hx);
		cJSON_AddStringToObject(parts, names[i], hx);
	}
	cJSON_AddNumberToObject(m, "iteration", c->iteration);
	char *s = cJSON_Print(m);
	cJSON_Delete(m);
	return s;
}

static char *lastline(const char *s)
{
	char *c = xstrdup(s), *t = trim(c), *nl = strrchr(t, '\n');
	char *r = xstrdup(nl ? nl + 1 : t);

	free(c);
	if (strlen(r) > 200)
		r[200] = '\0';
	return r;
}

static void onagent(void *arg, struct procresult *r)
{
	struct job *j = arg;
	struct sched *s = j->s;
	struct cell *c = j->c;
	char *error = NULL;

	s->active--;
	if (r->killed && !r->timedout) {
		/* interrupted: store nothing, the cell stays pending */
		rmtree(j->tmp);
		freeprocresult(r);
		freejob(j);
		return;
	}
	if (r->timedout)
		error = xasprintf("timed out after %gs", c->sp->suite->timeout);
	else if (r->exitcode != 0) {
		char *last = lastline(r->err);
		error = r->exitcode > 128 ? xasprintf("killed by signal %d%s%s", r->exitcode - 128, *last ? ": " : "", last)
		                          : xasprintf("exit status %d%s%s", r->exitcode, *last ? ": " : "", last);
		free(last);
	}
	char *m = meta(c, r, error);
	int ok = putfile(j->tmp, "output", r->out, r->outlen) == 0 && putfile(j->tmp, "transcript", r->err, r->errlen) == 0
	         && putfile(j->tmp, "meta.json", m, strlen(m)) == 0;
	free(m);
	if (!ok && !error)
		error = xasprintf("cannot write the cell's entry: %s", strerror(errno));
	c->seconds = r->seconds;
	if (error) {
		keeperror(s->p->store, c->id, j->tmp);
		freeprocresult(r);
		freejob(j);
		fail(s, c, error);
		return;
	}
	struct runrec rec = {.out = hashbytes(r->out, r->outlen), .exitcode = 0, .seconds = r->seconds};
	freeprocresult(r);
	if (commitrun(s->p->store, c->runkey, j->tmp, &rec) < 0) {
		freejob(j);
		fail(s, c, xstrdup("cannot store the run"));
		return;
	}
	freejob(j);
	c->status = CELL_RAN;
	setgradekey(s->p, c, rec.out);
	startgrade(s, c);
}

static void startagent(struct sched *s, struct cell *c)
{
	char *err = NULL;
	const char *prompt = cellprompt(s->p, c, &err);
	struct job *j;

	if (!prompt) {
		fail(s, c, err);
		return;
	}
	if (c->sp->suite->agent.kind != AGENT_COMMAND) {
		fail(s, c, xstrdup("HTTP model providers are not built yet: use a command agent"));
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->c = c;
	j->tmp = newentry(s->p->store);
	char *taskj = taskjson(c->task);
	if (putfile(j->tmp, "prompt", prompt, strlen(prompt)) < 0 || putfile(j->tmp, "task.json", taskj, strlen(taskj)) < 0) {
		free(taskj);
		rmtree(j->tmp);
		freejob(j);
		fail(s, c, xasprintf("cannot write the cell's entry: %s", strerror(errno)));
		return;
	}
	free(taskj);
	const char *abs = j->tmp; /* absolute: the store's folder is */
	const struct strv *env = &c->sp->suite->agent.env;
	j->env = xcalloc(env->n + 8, sizeof(*j->env));
	size_t k = 0;
	for (size_t i = 0; i < env->n; i++)
		j->env[k++] = xstrdup(env->v[i]);
	j->env[k++] = xasprintf("EVAL_SUITE=%s", c->sp->suite->name);
	j->env[k++] = xasprintf("EVAL_TASK=%s", c->task->id);
	j->env[k++] = xasprintf("EVAL_ITERATION=%d", c->iteration);
	j->env[k++] = xasprintf("EVAL_SEED=%d", c->iteration);
	j->env[k++] = xasprintf("EVAL_TASK_PATH=%s", c->task->path);
	j->env[k++] = xasprintf("EVAL_TASK_JSON=%s/task.json", abs);
	j->env[k++] = xasprintf("EVAL_OUT_DIR=%s/artifacts", abs);
	char *stdinpath = pathjoin(j->tmp, "prompt");
	struct procspec spec = {
		.command = c->sp->suite->agent.command,
		.env = j->env,
		.stdinpath = stdinpath,
		.timeout = c->sp->suite->timeout,
		.outcap = OUTPUT_CAP,
		.errcap = TRANSCRIPT_CAP,
	};
	if (!spawnproc(s->l, &spec, onagent, j, &err)) {
		free(stdinpath);
		rmtree(j->tmp);
		freejob(j);
		fail(s, c, err);
		return;
	}
	free(stdinpath);
	s->active++;
}

int preparerun(struct plan *p, char **err)
{
	*err = NULL;
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (c->need == NEED_RUN && !cellprompt(p, c, err))
			return -1;
		if (c->need != NEED_NOTHING && loadtask(c->task, err) < 0)
			return -1;
	}
	return 0;
}

static void startmore(struct sched *s)
{
	while (!s->stopping && s->active < s->o->jobs && s->next < s->p->ncells) {
		struct cell *c = &s->p->cells[s->next++];
		if (c->need == NEED_RUN)
			startagent(s, c);
		else if (c->need == NEED_GRADE)
			startgrade(s, c);
	}
}

int runplan(struct plan *p, struct loop *l, const struct runopts *o)
{
	struct sched s = {.p = p, .l = l, .o = o};

	for (size_t i = 0; i < p->ncells; i++)
		s.total += p->cells[i].need != NEED_NOTHING;
	if (!s.total)
		return 0;
	progress(&s);
	startmore(&s);
	while (s.active > 0 || (!s.stopping && s.next < p->ncells)) {
		if (loopinterrupted(l)) {
			killallprocs();
			while (runningprocs() > 0)
				loopstep(l, 0.1);
			break;
		}
		loopstep(l, -1);
		startmore(&s);
	}
	if (o->progress && !o->silent)
		fputs("\r\033[K", stderr);
	if (loopinterrupted(l))
		return EXIT_INTR;
	return s.errors ? EXIT_GATE : 0;
}

void recordcells(struct plan *p)
{
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (!c->scored)
			continue;
		struct cellrec r = {.run = c->runkey, .grade = c->gradekey, .iteration = c->iteration};
		memcpy(r.parts, c->parts, sizeof(r.parts));
		setcell(p->store, c->id, &r);
	}
}
