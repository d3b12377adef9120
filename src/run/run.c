/* run: the scheduler. One loop; a cell moves
 *   queued -> agent running -> stored -> grading -> done
 * and each step's completion is a callback from the loop. Two lanes share
 * the loop: processes (agents and grader scripts, at most jobs at once)
 * and model calls (within each provider's limit). Workload: from one cell
 * to hundreds of thousands, most of them cached.
 *
 * The scheduler outlives one run in watch mode: cells are queued as their
 * inputs change, and a cell can be cancelled while it runs. Every job
 * carries the key it was started for; a job finishing for a key its cell
 * no longer has is stale: its result is stored under that key (it is a
 * valid result for those inputs) but the cell is not touched. Either way a
 * result is stored only if the files the process read still are the ones
 * its key was computed from (run/inputs.h). */
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

#include <cjson/cJSON.h>

#include "run/grade.h"
#include "run/inputs.h"
#include "core/proc.h"
#include "core/secret.h"
#include "run/provider.h"
#include "run/run.h"
#include "run/sandbox.h"
#include "run/trace.h"
#include "run/usage.h"
#include "core/util.h"

/* bytes: an artifact larger than this is kept as the agent wrote it */
#define ARTIFACT_REDACT_MAX ((size_t)64 << 20)
/* results held before they are committed together (runplan): at most so
 * long after the first of them finished, so many bytes */
#define BATCH_WAIT 0.1
#define BATCH_BYTES ((size_t)16 << 20)

struct queue {
	struct cell **v;
	size_t head, n, cap;
};

struct sched {
	struct plan *p;
	struct loop *l;
	struct providers *prov;
	const struct runopts *o;
	struct queue cmd;   /* cells for the process lane (and in-process grades) */
	struct queue http;  /* cells for the model-call lane */
	int active;         /* jobs running */
	int activecmd;      /* ... of which processes (bounded by jobs) */
	int stopping;       /* an error without -k: start nothing new */
	size_t done, total;
	int errors;
	int aborting;       /* schedabort: waiting cells give up */
	struct estimator *est; /* each suite's estimate as its cells land */
	size_t started;     /* cells started since schedplan (--max-cells) */
	double spent;       /* USD the priced agents that finished cost (--max-cost) */
	size_t priced;      /* ... how many */
	int unpricedsaid;   /* --max-cost: an unpriced model was reported */
};

struct job {
	struct sched *s;
	struct cell *c;
	hash key;           /* the run or grade key the job was started for */
	size_t gi;          /* a grade's grader (of the suite's graders) */
	struct proc *proc;  /* a running agent process */
	char *tmp;          /* the entry being written (command agents) */
	char *prompt;       /* the rendered prompt (model calls) */
	char **env;
	char *trace;        /* the tracer's file, when tracing */
	char *snap;         /* a private folder holding the agent's copy of its task */
	struct inputset inputs; /* files read while it runs, as they were at its start */
	int checkend;       /* are they checked again when it ends? */
	int locked;         /* holds the store's run lock of key */
	double wait;        /* waiting for another's run lock: the next delay */
	/* command agents: what spawns the agent again for a retry */
	struct procspec spec;
	char *stdinpath;
	char **wrap;        /* a sandboxed agent's bwrap command line */
	int attempt;        /* 1 for the first */
	int cmd;            /* a command grader's job: counted in activecmd */
};

static void push(struct queue *q, struct cell *c, int front)
{
	if (front && q->head > 0) {
		q->v[--q->head] = c;
		return;
	}
	if (front) {
		xgrow(&q->v, &q->cap, q->n + 1, sizeof(*q->v));
		memmove(q->v + 1, q->v, q->n * sizeof(*q->v));
		q->v[0] = c;
		q->n++;
		return;
	}
	xgrow(&q->v, &q->cap, q->n + 1, sizeof(*q->v));
	q->v[q->n++] = c;
}

static struct cell *peek(struct queue *q)
{
	return q->head < q->n ? q->v[q->head] : NULL;
}

static void pop(struct queue *q)
{
	if (++q->head == q->n)
		q->head = q->n = 0;
}

/* [done/total], then the estimate of the suite of the cell c that just
 * landed (none yet at the start): the line sharpens as cells land */
static void progress(struct sched *s, const struct cell *c)
{
	if (s->o->estimatelines && c && c->status != CELL_ERROR && !s->o->silent) {
		char *line = estimateline(estimateof(s->est, (size_t)(c->sp - s->p->sp)));
		fprintf(stderr, "[%zu/%zu] %s %s\n", s->done, s->total, c->sp->suite->name, line);
		free(line);
	}
	/* nothing to run (all cached): no [0/0] left on the line */
	if (!s->o->progress || s->o->silent || !s->total)
		return;
	fprintf(stderr, "\r\033[K[%zu/%zu]", s->done, s->total);
	if (c) {
		char *line = estimateline(estimateof(s->est, (size_t)(c->sp - s->p->sp)));
		fprintf(stderr, " %s %s", c->sp->suite->name, line);
		free(line);
	}
	fflush(stderr);
}

static void recordcell(struct plan *p, struct cell *c);

static void celldone(struct sched *s, struct cell *c)
{
	c->queued = 0;
	c->job = NULL;
	s->done++;
	/* written with the results of its batch, not all at the end */
	recordcell(s->p, c);
	estimateadd(s->est, c);
	if (c->status != CELL_ERROR && s->o->estimated)
		s->o->estimated(s->o->estimatedarg, c->sp, estimateof(s->est, (size_t)(c->sp - s->p->sp)));
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
			fprintf(stderr, "%s: %s %.3g (%.2fs)\n", c->id,
			        c->status == CELL_RAN ? "ran" : c->fetched ? "fetched, graded" : "graded", c->score,
			        c->seconds);
	} else if (c->status == CELL_ERROR) {
		/* -s quiets progress and the table, never an error (make -s
		 * still says what failed) */
		if (s->o->progress)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "evalmake: %s: %s\n", c->id, c->error);
	}
	progress(s, c);
}

static void fail(struct sched *s, struct cell *c, char *msg)
{
	c->status = CELL_ERROR;
	c->scored = 0;
	free(c->error);
	c->error = redact(msg);
	celldone(s, c);
}

static int putfile(const char *dir, const char *name, const char *data, size_t len);

/* A grading failure is the cell's last error, like a failed run: kept
 * for `log` (meta.json with "stage": "grade" and the grade key it was
 * for, and what the grader printed or the judge replied as grader.log),
 * so the grader can be debugged. Best effort: the error is reported
 * either way. */
static void keepgradeerror(struct sched *s, struct cell *c, size_t gi, const char *err, const char *log)
{
	char *tmp = newentry(s->p->store, 0), hx[33];
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "cell", c->id);
	cJSON_AddStringToObject(m, "stage", "grade");
	hashhex(c->runkey, hx);
	cJSON_AddStringToObject(m, "run_key", hx);
	hashhex(gradekeyof(c, gi), hx);
	cJSON_AddStringToObject(m, "grade_key", hx);
	if (c->sp->suite->ngraders > 1)
		cJSON_AddStringToObject(m, "grader", suitegrader(c->sp->suite, gi)->name);
	cJSON_AddNumberToObject(m, "finished", (double)time(NULL));
	cJSON_AddStringToObject(m, "error", err);
	cJSON_AddNumberToObject(m, "iteration", c->iteration);
	char *text = cJSON_Print(m);
	cJSON_Delete(m);
	int r = putfile(tmp, "meta.json", text, strlen(text));
	if (r == 0 && log)
		r = putfile(tmp, "grader.log", log, strlen(log));
	free(text);
	if (r == 0)
		keeperror(s->p->store, c->id, tmp);
	else
		rmtree(tmp);
	free(tmp);
}


static void startgrade(struct sched *s, struct cell *c, const char *out);

/* a grader failed: with several, the message names it */
static void gradefail(struct sched *s, struct cell *c, size_t gi, char *err)
{
	if (c->sp->suite->ngraders > 1) {
		char *e = xasprintf("grader '%s': %s", suitegrader(c->sp->suite, gi)->name, err);
		free(err);
		err = e;
	}
	fail(s, c, err);
}

/* every grader of the cell has its score: it is done */
static void gradesdone(struct sched *s, struct cell *c)
{
	c->need = NEED_NOTHING; /* up to date now */
	if (c->status != CELL_RAN)
		c->status = CELL_CACHED;
	celldone(s, c);
}

static void graded(struct sched *s, struct cell *c, size_t gi, double score, char *reason, const char *log, char *err)
{
	reason = redact(reason); /* a grader script sees the environment */
	if (err) {
		free(reason);
		err = redact(err);
		keepgradeerror(s, c, gi, err, log);
		gradefail(s, c, gi, err);
		return;
	}
	hash key = gradekeyof(c, gi);
	if ((log ? commitgradelog(s->p->store, key, score, reason, log)
	         : commitgrade(s->p->store, key, score, reason, !gradeinline(suitegrader(c->sp->suite, gi)))) < 0) {
		free(reason);
		fail(s, c, xasprintf("cannot store the grade: %s", strerror(errno)));
		return;
	}
	if (!gradeinline(suitegrader(c->sp->suite, gi)))
		remoteputgrade(s->o->remote, key);
	free(reason);
	setscore(c, gi, score);
	c->graded_now = 1;
	if (c->scored)
		gradesdone(s, c);
	else /* the next grader */
		startgrade(s, c, NULL);
}

static void freejob(struct job *j);

static void ongrade(void *arg, double score, char *reason, char *log, char *err)
{
	struct job *j = arg;
	struct sched *s = j->s;
	struct cell *c = j->c;

	s->active--;
	if (j->cmd)
		s->activecmd--;
	log = redact(log); /* a grader script sees the environment */
	if (!err && j->checkend && inputsunchanged(&j->inputs, "the grader", &err) < 0) {
		free(reason);
		reason = NULL;
	}
	if (c->job != j || !hasheq(gradekeyof(c, j->gi), j->key)) {
		/* stale: keep a good grade under the key it is for */
		reason = redact(reason);
		if (!err && log)
			commitgradelog(s->p->store, j->key, score, reason, log);
		else if (!err)
			commitgrade(s->p->store, j->key, score, reason, 1);
		free(reason);
		free(err);
	} else {
		graded(s, c, j->gi, score, reason, log, err);
	}
	free(log);
	if (j->tmp)
		rmtree(j->tmp);
	freejob(j);
}

static struct job *mkjob(struct sched *s, struct cell *c, hash key)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->c = c;
	j->key = key;
	c->job = j;
	return j;
}

/* grade a cell whose run is stored (c->out and c->gradekey are set) with
 * its first grader that has no score yet, one grader after the other;
 * out is its output when at hand, else NULL: read from the store */
static void startgrade(struct sched *s, struct cell *c, const char *out)
{
	const struct suite *su = c->sp->suite;
	const struct grader *g = NULL;
	size_t gi;
	char *err = NULL;

	for (gi = 0; gi < su->ngraders; gi++) {
		if (!isnan(scoreof(c, gi)))
			continue;
		g = suitegrader(su, gi);
		const struct graderec *have = findgrade(s->p->store, gradekeyof(c, gi), !gradeinline(g));
		if (!have)
			break;
		setscore(c, gi, have->score); /* e.g. a rerun produced an output graded before */
	}
	if (gi == su->ngraders) {
		c->graded_now = 1; /* its grade is new to it: counted and recorded as re-graded */
		gradesdone(s, c);
		return;
	}
	if (loadtask(c->task, &err) < 0) {
		fail(s, c, err);
		return;
	}
	char *read = NULL;
	size_t readlen = 0;
	if (!out && !(out = read = entrypart(s->p->store, c->runkey, "output", &readlen))) {
		/* a damaged entry is a missing one: run the cell again */
		if (droprun(s->p->store, c->runkey) < 0) {
			char *dir = entrywhere(s->p->store, c->runkey);
			fail(s, c, xasprintf("cannot read the stored output of %s", dir));
			free(dir);
			return;
		}
		c->need = NEED_RUN;
		c->queued = 0;
		s->total--;
		schedqueue(s, c, 1);
		return;
	}
	/* the output graded must be the one the grade key names, and the
	 * grader's files the ones hashed */
	struct inputset in = {0};
	if (read && !hasheq(hashbytes(read, readlen), c->out))
		err = xasprintf("the stored output of %s is not the one its grade key names; not graded", c->id);
	else if (graderinputs(s->p->st, s->p->ef, g, &in, &err) == 0)
		graderunchanged(s->p, c, gi, &err);
	if (err) {
		freeinputs(&in);
		free(read);
		gradefail(s, c, gi, err);
		return;
	}
	if (g->type == GRADE_COMMAND) {
		/* the script reads the output from a file of its own */
		struct job *j = mkjob(s, c, gradekeyof(c, gi));
		j->gi = gi;
		j->inputs = in;
		j->checkend = 1;
		j->tmp = newentry(s->p->store, 0);
		char *outpath = pathjoin(j->tmp, "output");
		int fromstore = read != NULL;
		int r = putfile(j->tmp, "output", out, strlen(out));
		free(read);
		if (r < 0 || gradestart(s->l, g, j->tmp, c->task, c->sp->suite->timeout, ongrade, j, &err) < 0) {
			if (r < 0)
				err = xasprintf("cannot write %s: %s", outpath, strerror(errno));
			rmtree(j->tmp);
			freejob(j);
			free(outpath);
			gradefail(s, c, gi, err);
			return;
		}
		free(outpath);
		s->active++;
		/* a grader of an output read from the store took a cell's turn
		 * in the queue: a process within -j like an agent (else every
		 * re-grade would start at once). One started as its agent ends
		 * follows that agent's turn and is not counted again: at most
		 * one per agent that ended. */
		if (fromstore) {
			s->activecmd++;
			j->cmd = 1;
		}
		return;
	}
	freeinputs(&in); /* others read their files before they start */
	if (g->type == GRADE_JUDGE) {
		struct job *j = mkjob(s, c, gradekeyof(c, gi));
		j->gi = gi;
		int r = judgestart(s->prov, g, rubricof(c->sp, gi), out, c->task, c->sp->suite->timeout, ongrade, j, &err);
		free(read);
		if (r < 0) {
			free(j);
			gradefail(s, c, gi, err);
			return;
		}
		s->active++;
		return;
	}
	double score;
	char *reason;
	int r = gradenow(g, out, c->task, c->iteration, &score, &reason, &err);
	free(read); /* the next grader, if any, reads the output from the store */
	graded(s, c, gi, score, reason, NULL, r < 0 ? err : NULL);
}

/* a file in an entry being written: the folder is private until it is
 * renamed into place, so plain writes are enough */
static int putfile(const char *dir, const char *name, const char *data, size_t len)
{
	char *p = pathjoin(dir, name);
	FILE *f = fopen(p, "we");
	int r = -1;

	free(p);
	if (!f)
		return -1;
	if (fwrite(data, 1, len, f) == len)
		r = 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

static void freejob(struct job *j)
{
	if (j->snap)
		rmtree(j->snap);
	free(j->snap);
	freeinputs(&j->inputs);
	if (j->locked)
		unlockrun(j->s->p->store, j->key);
	if (j->env)
		for (char **e = j->env; *e; e++)
			free(*e);
	free(j->env);
	free(j->tmp);
	free(j->prompt);
	free(j->trace);
	free(j->stdinpath);
	freeargv(j->wrap);
	free(j);
}

/* what an agent produced, whatever its kind */
struct outcome {
	const char *out, *transcript;
	size_t outlen, translen;
	double seconds;
	char *error;                 /* owned; NULL on success */
	int exitcode, outcut, transcut;
	/* model APIs */
	const char *request, *response, *model;
	long long intokens, outtokens;
	int usage;                   /* the tokens are known (a model call, an agent's report) */
	int attempts;                /* calls or processes started */
	int modelcall;
};

static char *meta(const struct cell *c, const struct outcome *o)
{
	cJSON *m = cJSON_CreateObject();
	char hx[33];

	cJSON_AddStringToObject(m, "cell", c->id);
	hashhex(c->runkey, hx);
	cJSON_AddStringToObject(m, "run_key", hx);
	if (!o->error) {
		hashhex(hashbytes(o->out, o->outlen), hx);
		cJSON_AddStringToObject(m, "output_hash", hx);
	}
	cJSON_AddNumberToObject(m, "exit", o->exitcode);
	cJSON_AddNumberToObject(m, "seconds", o->seconds);
	cJSON_AddNumberToObject(m, "finished", (double)time(NULL));
	cJSON_AddBoolToObject(m, "output_cut", o->outcut);
	cJSON_AddBoolToObject(m, "transcript_cut", o->transcut);
	if (o->error)
		cJSON_AddStringToObject(m, "error", o->error);
	cJSON_AddNumberToObject(m, "attempts", o->attempts > 0 ? o->attempts : 1);
	if (o->model)
		cJSON_AddStringToObject(m, "model", o->model);
	if (o->usage) {
		cJSON *u = cJSON_AddObjectToObject(m, "usage");
		cJSON_AddNumberToObject(u, "input_tokens", (double)o->intokens);
		cJSON_AddNumberToObject(u, "output_tokens", (double)o->outtokens);
	}
	static const char *const names[NPARTS] = {"agent", "prompt", "task", "deps", "env"};
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

/* redact every file of an entry being written, in place: the prompt and
 * task.json (task data may hold a key), and the artifacts the agent left
 * (it may have written its environment there). Nothing to do, and nothing
 * read, when no key is declared. */
static void redactentry(const char *dir)
{
	DIR *d;
	struct dirent *e;

	if (!secretany() || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *path = pathjoin(dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			redactentry(path);
		} else if (S_ISREG(st.st_mode)) {
			size_t len;
			char *text = readfilemax(path, &len, ARTIFACT_REDACT_MAX);
			if (text && redactbuf(&text, &len))
				writefile(path, text, len);
			free(text);
		}
		free(path);
	}
	closedir(d);
}

/* store what the agent produced: an entry under the run key, or the cell's
 * last error; then grade */
static void finishagent(struct job *j, struct outcome *o)
{
	struct sched *s = j->s;
	struct cell *c = j->c;
	int stale = c->job != j || !hasheq(c->runkey, j->key);
	char *changed;

	/* store a result only under the key of the inputs that were executed */
	if (!o->error && j->checkend && inputsunchanged(&j->inputs, "the cell", &changed) < 0)
		o->error = changed;
	o->error = redact(o->error);
	char *m = meta(c, o);
	struct part parts[6];
	size_t n = 0;
	int r = 0;

	if (!j->tmp && j->prompt) {
		j->prompt = redact(j->prompt);
		parts[n++] = (struct part){"prompt", j->prompt, strlen(j->prompt)};
	}
	if (j->tmp && !stale)
		redactentry(j->tmp);
	parts[n++] = (struct part){"output", o->out, o->outlen};
	parts[n++] = (struct part){"transcript", o->transcript, o->translen};
	parts[n++] = (struct part){"meta.json", m, strlen(m)};
	if (o->request)
		parts[n++] = (struct part){"request.json", o->request, strlen(o->request)};
	if (o->response)
		parts[n++] = (struct part){"response.json", o->response, strlen(o->response)};
	if (o->error && !stale && !j->tmp)
		j->tmp = newentry(s->p->store, 0); /* a failed model call: kept for log */
	if (j->tmp && !stale) {
		for (size_t i = 0; i < n && r == 0; i++)
			r = putfile(j->tmp, parts[i].name, parts[i].data, parts[i].len);
		if (r < 0 && !o->error)
			o->error = xasprintf("cannot write the cell's entry: %s", strerror(errno));
	}
	struct runrec rec = {.out = hashbytes(o->out, o->outlen), .exitcode = 0, .seconds = o->seconds,
	                     .intokens = o->usage ? o->intokens : -1, .outtokens = o->usage ? o->outtokens : -1};
	snprintf(rec.model, sizeof(rec.model), "%s", o->model ? o->model : "");
	if (o->error) {
		if (stale) {
			if (j->tmp)
				rmtree(j->tmp);
			free(o->error);
		} else {
			c->seconds = o->seconds;
			keeperror(s->p->store, c->id, j->tmp);
			fail(s, c, o->error);
		}
		free(m);
		freejob(j);
		return;
	}
	/* a stale result is still a good one for the key it was made for */
	if (j->tmp && stale)
		rmtree(j->tmp);
	else if (j->tmp)
		r = commitrun(s->p->store, j->key, j->tmp, &rec, s->p->rebuild);
	else
		r = commitentry(s->p->store, j->key, parts, n, NULL, &rec, s->p->rebuild);
	free(m);
	freejob(j);
	if (stale)
		return;
	c->job = NULL;
	c->seconds = o->seconds;
	if (r < 0) {
		fail(s, c, xasprintf("cannot store the run: %s", strerror(errno)));
		return;
	}
	remoteputrun(s->o->remote, c->runkey);
	c->status = CELL_RAN;
	if (rec.intokens >= 0) {
		const struct agent *a = &c->sp->suite->agent;
		int priced;
		double cost = tokencost(s->p->ef, rec.model, a->kind == AGENT_HTTP ? a->model : NULL, rec.intokens,
		                        rec.outtokens, &priced);
		s->spent += cost;
		s->priced += (size_t)priced;
		if (!priced && s->o->maxcost > 0 && !s->unpricedsaid) {
			/* its cost is unknown: the bound cannot count it */
			s->unpricedsaid = 1;
			const char *model = rec.model[0] ? rec.model : a->kind == AGENT_HTTP && a->model ? a->model : "";
			fprintf(stderr, "evalmake: warning: --max-cost: %s used model '%s', which pricing: does not price: its "
			                "tokens count as $0 against the bound\n", c->id, model);
		}
	}
	setgradekey(s->p, c, rec.out);
	startgrade(s, c, o->out);
}

/* what a traced agent read that its run key does not cover; the trace
 * file goes */
static void tracereport(struct job *j, const struct procresult *r)
{
	struct sched *s = j->s;
	struct cell *c = j->c;

	if (!r->killed || r->timedout) { /* not cancelled nor interrupted */
		struct declared d;
		struct strv files = {0};
		char *err;
		celldeclared(c, s->p->ef->cache, &d);
		if (undeclared(j->trace, &d, &files, &err) < 0) {
			warn("%s: %s", c->id, err);
			free(err);
		} else if (s->o->traced) {
			s->o->traced(s->o->tracedarg, c, &files);
		} else if (files.n && !s->o->silent) {
			if (s->o->progress)
				fputs("\r\033[K", stderr);
			fprintf(stderr, "%s: read undeclared project files:", c->id);
			for (size_t i = 0; i < files.n; i++)
				fprintf(stderr, " %s", files.v[i]);
			fprintf(stderr, " (evalmake deps %s)\n", c->id);
		}
		freedeclared(&d);
		strvfree(&files);
	}
	unlink(j->trace);
}

/* NUL bytes in p[0..*len) become U+FFFD, the replacement character, so
 * the text can be read as a C string without being cut short there */
static void replacenuls(char **p, size_t *len)
{
	if (!memchr(*p, '\0', *len))
		return;
	struct buf b = {0};
	for (size_t i = 0; i < *len; i++)
		if ((*p)[i])
			bufaddc(&b, (*p)[i]);
		else
			bufadds(&b, "\xEF\xBF\xBD");
	free(*p);
	*len = b.len;
	*p = bufdetach(&b);
}

/* An agent's stdout and stderr as evalmake keeps them: every declared key
 * redacted (an agent may print its environment), and a NUL byte in either
 * made U+FFFD. An answer is text: a NUL would cut it short wherever it is
 * read as one (a grader would see "one" of "one\0two"); replaced, the
 * whole output is graded, stored and shown. */
static void capture(struct procresult *r)
{
	redactbuf(&r->out, &r->outlen);
	redactbuf(&r->err, &r->errlen);
	replacenuls(&r->out, &r->outlen);
	replacenuls(&r->err, &r->errlen);
}

static void onagent(void *arg, struct procresult *r);

/* start the job's command agent (its first attempt or a retry); when it
 * cannot start, the cell is an error */
static void spawnagent(struct sched *s, struct job *j)
{
	struct cell *c = j->c;
	char *err = NULL;

	if (!(j->proc = spawnproc(s->l, &j->spec, onagent, j, &err))) {
		rmtree(j->tmp);
		freejob(j);
		fail(s, c, err);
		return;
	}
	s->active++;
	s->activecmd++;
}

/* a command agent's retry is due: spawn it again, unless the cell was
 * cancelled or the run is stopping meanwhile */
static void onretry(void *arg)
{
	struct job *j = arg;
	struct sched *s = j->s;
	struct cell *c = j->c;

	s->active--;
	if (c->job != j || !hasheq(c->runkey, j->key) || s->aborting || loopinterrupted(s->l)) {
		if (c->job == j) {
			c->job = NULL;
			c->queued = 0; /* stays pending, like a cell not started */
		}
		rmtree(j->tmp);
		freejob(j);
		return;
	}
	j->attempt++;
	j->spec.trace = j->trace;
	spawnagent(s, j);
}

/* A command agent that failed (an exit status, a timeout) with retries
 * left: keep this attempt's transcript beside the entry as
 * transcript.N, empty its artifacts, and start it again after a backoff
 * (0.25 s, doubling, at most 4 s: short enough that Ctrl-C is not kept
 * waiting). 1 when a retry is scheduled. */
static int retryagent(struct job *j, const struct procresult *r, const char *why)
{
	struct sched *s = j->s;
	struct cell *c = j->c;
	int retries = c->sp->suite->agent.retries;

	if (!j->tmp || j->attempt > retries || c->job != j || !hasheq(c->runkey, j->key) || s->aborting ||
	    loopinterrupted(s->l))
		return 0;
	char name[32], *arts = pathjoin(j->tmp, "artifacts");
	snprintf(name, sizeof(name), "transcript.%d", j->attempt);
	struct buf b = {0};
	bufaddf(&b, "attempt %d of %d failed: %s\n", j->attempt, retries + 1, why);
	bufadd(&b, r->err, r->errlen);
	int ok = putfile(j->tmp, name, b.s ? b.s : "", b.len) == 0;
	buffree(&b);
	if (ok) {
		rmtree(arts);
		ok = mkdir(arts, 0755) == 0;
	}
	free(arts);
	if (!ok)
		return 0;
	if (s->o->verbose && !s->o->silent) {
		if (s->o->progress)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "%s: attempt %d failed (%s): trying again\n", c->id, j->attempt, why);
	}
	j->proc = NULL; /* it has ended: nothing to kill on a cancel */
	double wait = 0.25;
	for (int i = 1; i < j->attempt && wait < 4; i++)
		wait *= 2;
	looptimer(s->l, now() + (wait > 4 ? 4 : wait), onretry, j);
	s->active++;
	return 1;
}

static void onagent(void *arg, struct procresult *r)
{
	struct job *j = arg;
	struct outcome o = {0};

	j->s->active--;
	j->s->activecmd--;
	if (j->trace)
		tracereport(j, r);
	if (r->killed && !r->timedout) {
		/* interrupted or cancelled: store nothing */
		if (j->c->job == j)
			j->c->job = NULL;
		rmtree(j->tmp);
		freeprocresult(r);
		freejob(j);
		return;
	}
	/* what the agent printed, cleaned where it enters evalmake: the output
	 * graded is the output stored, so a cached grade stays the same */
	capture(r);
	if (r->timedout) {
		o.error = xasprintf("timed out after %gs", j->c->sp->suite->timeout);
	} else if (r->exitcode != 0) {
		char *last = lastline(r->err);
		o.error = r->exitcode > 128 ? xasprintf("killed by signal %d%s%s", r->exitcode - 128, *last ? ": " : "", last)
		                            : xasprintf("exit status %d%s%s", r->exitcode, *last ? ": " : "", last);
		free(last);
	}
	if (o.error && retryagent(j, r, o.error)) {
		free(o.error);
		freeprocresult(r);
		return;
	}
	o.out = r->out;
	o.outlen = r->outlen;
	o.transcript = r->err;
	o.translen = r->errlen;
	o.seconds = r->seconds;
	o.exitcode = r->exitcode;
	o.outcut = r->outcut;
	o.transcut = r->errcut;
	o.attempts = j->attempt;
	/* the tokens the agent says it used (run/usage.h) */
	struct usage u;
	char *uerr, *arts = pathjoin(j->tmp, "artifacts");
	int ur = agentusage(arts, r->err, r->errlen, &u, &uerr);
	free(arts);
	if (ur > 0) {
		o.usage = 1;
		o.intokens = u.intokens;
		o.outtokens = u.outtokens;
		o.model = u.model;
	} else if (ur < 0 && !j->s->o->silent) {
		if (j->s->o->progress)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "evalmake: %s: %s; its usage is not counted\n", j->c->id, uerr);
	}
	free(uerr);
	finishagent(j, &o);
	free(u.model);
	freeprocresult(r);
}

static void onmodel(void *arg, struct modelresult *r)
{
	struct job *j = arg;
	struct outcome o = {0};

	j->s->active--;
	if (r->interrupted) {
		if (j->c->job == j)
			j->c->job = NULL;
		freemodelresult(r);
		freejob(j);
		return;
	}
	o.error = r->error;
	r->error = NULL;
	o.out = r->text ? r->text : "";
	o.outlen = strlen(o.out);
	o.transcript = r->transcript ? r->transcript : "";
	o.translen = strlen(o.transcript);
	o.seconds = r->seconds;
	o.request = r->request;
	o.response = r->response;
	o.model = r->model;
	o.intokens = r->intokens;
	o.outtokens = r->outtokens;
	o.usage = 1;
	o.attempts = r->attempts;
	o.modelcall = 1;
	finishagent(j, &o);
	freemodelresult(r);
}

static void startmodel(struct sched *s, struct job *j, const char *prompt)
{
	struct cell *c = j->c;
	struct modelcall mc = {
		.a = &c->sp->suite->agent,
		.system = c->sp->system,
		.prompt = prompt,
		.messages = c->sp->tmpl ? NULL : c->task->messages,
		.seed = c->iteration,
		.timeout = c->sp->suite->timeout,
	};
	char *err;

	if (modelstart(s->prov, &mc, onmodel, j, &err) < 0) {
		freejob(j);
		fail(s, c, err);
		return;
	}
	s->active++;
}

static void startagent(struct sched *s, struct cell *c, int locked)
{
	char *err = NULL;
	const char *prompt = cellprompt(s->p, c, &err);
	struct job *j;

	if (!prompt) {
		if (locked)
			unlockrun(s->p->store, c->runkey);
		fail(s, c, err);
		return;
	}
	j = mkjob(s, c, c->runkey);
	j->locked = locked;
	if (runinputs(s->p->st, s->p->ef, c, &j->inputs, &err) < 0) {
		freejob(j);
		fail(s, c, err);
		return;
	}
	if (c->sp->suite->agent.kind == AGENT_HTTP) {
		/* no folder: the entry is written in one piece when it is done */
		j->prompt = xstrdup(prompt); /* a re-key may free the plan's copy */
		startmodel(s, j, j->prompt);
		return;
	}
	j->tmp = newentry(s->p->store, 1); /* absolute: the store's folder is */
	if (putfile(j->tmp, "prompt", prompt, strlen(prompt)) < 0) {
		rmtree(j->tmp);
		freejob(j);
		fail(s, c, xasprintf("cannot write the cell's entry: %s", strerror(errno)));
		return;
	}
	/* the agent never sees the answer: EVAL_TASK_JSON leaves it out, and
	 * a folder task is a copy without it (EVAL_TASK_PATH; a .json or
	 * .jsonl task's is EVAL_TASK_JSON) */
	char *taskj = taskjson(c->task, 0);
	int r = putfile(j->tmp, "task.json", taskj, strlen(taskj));
	free(taskj);
	if (r < 0) {
		rmtree(j->tmp);
		freejob(j);
		fail(s, c, xasprintf("cannot write the cell's entry: %s", strerror(errno)));
		return;
	}
	char *taskpath;
	if (c->task->kind == TASK_DIR) {
		j->snap = newentry(s->p->store, 0);
		taskpath = pathjoin(j->snap, c->task->id);
		if (snapshottask(c->task, taskpath, &err) < 0) {
			free(taskpath);
			rmtree(j->tmp);
			freejob(j);
			fail(s, c, err);
			return;
		}
	} else {
		taskpath = pathjoin(j->tmp, "task.json");
	}
	j->checkend = 1;
	const struct strv *env = &c->sp->suite->agent.env;
	j->env = xcalloc(env->n + 8, sizeof(*j->env));
	size_t k = 0;
	for (size_t i = 0; i < env->n; i++)
		j->env[k++] = xstrdup(env->v[i]);
	j->env[k++] = xasprintf("EVAL_SUITE=%s", c->sp->suite->name);
	j->env[k++] = xasprintf("EVAL_TASK=%s", c->task->id);
	j->env[k++] = xasprintf("EVAL_ITERATION=%d", c->iteration);
	j->env[k++] = xasprintf("EVAL_SEED=%d", c->iteration);
	j->env[k++] = xasprintf("EVAL_TASK_PATH=%s", taskpath);
	free(taskpath);
	j->env[k++] = xasprintf("EVAL_TASK_JSON=%s/task.json", j->tmp);
	j->env[k++] = xasprintf("EVAL_OUT_DIR=%s/artifacts", j->tmp);
	j->stdinpath = pathjoin(j->tmp, "prompt");
	const struct sandbox *sb = &c->sp->suite->agent.sandbox;
	/* a sandboxed agent runs untraced: the tracer would trace bwrap, and
	 * `deps` refuses it (see main.c) */
	if (s->o->trace && !sb->on)
		j->trace = xasprintf("%s.trace", j->tmp); /* swept with tmp/ */
	if (sb->on) {
		/* it reads its task.json, writes EVAL_OUT_DIR and its task's copy;
		 * kept with the job: a retry spawns the same command again */
		char *art = pathjoin(j->tmp, "artifacts");
		const char *ro[] = {j->tmp, NULL}, *rw[] = {art, j->snap, NULL};
		j->wrap = sandboxargv(sb, ro, rw);
		free(art);
	}
	j->spec = (struct procspec){
		.command = c->sp->suite->agent.command,
		.env = j->env,
		.stdinpath = j->stdinpath,
		.timeout = c->sp->suite->timeout,
		.outcap = OUTPUT_CAP,
		.errcap = TRANSCRIPT_CAP,
		.trace = j->trace,
		.wrap = j->wrap,
	};
	j->attempt = 1;
	spawnagent(s, j);
}

static void startrun(struct sched *s, struct cell *c, double wait);

/* a cell waiting for another's run lock: try again */
static void onwait(void *arg)
{
	struct job *j = arg;
	struct sched *s = j->s;
	struct cell *c = j->c;
	double wait = j->wait;
	int stale = c->job != j || !hasheq(c->runkey, j->key) || c->need != NEED_RUN;

	s->active--;
	if (c->job == j)
		c->job = NULL;
	freejob(j);
	if (stale)
		return;
	if (s->aborting || s->stopping || loopinterrupted(s->l)) {
		c->queued = 0; /* stays pending, like a cell not started */
		return;
	}
	startrun(s, c, wait * 2 > 0.5 ? 0.5 : wait * 2);
}

/* Start a cell's run, one process at a time per run key (two terminals, a
 * run and a watcher, CI shards on a shared cache): a key another process,
 * or another cell of ours, holds is waited for on a timer, off the jobs
 * count, so other cells go on; then its stored result is used, or, when
 * the holder died (the kernel drops its lock) or failed without storing,
 * the cell runs here. -B takes no result it did not make. */
static void startrun(struct sched *s, struct cell *c, double wait)
{
	int r = lockrun(s->p->store, c->runkey);

	if (r == 0) {
		struct job *j = mkjob(s, c, c->runkey);
		j->wait = wait;
		looptimer(s->l, now() + wait, onwait, j);
		s->active++;
		return;
	}
	const struct runrec *have = s->p->rebuild || s->o->force ? NULL : findrun(s->p->store, c->runkey);
	if (have) {
		/* stored since we planned: by the holder we waited for, or by a
		 * process that finished before we looked */
		if (r > 0)
			unlockrun(s->p->store, c->runkey);
		c->need = NEED_GRADE;
		c->seconds = have->seconds;
		setgradekey(s->p, c, have->out);
		startgrade(s, c, NULL);
		return;
	}
	startagent(s, c, r > 0);
}

int preparerun(struct plan *p, char **err)
{
	*err = NULL;
	for (size_t i = 0; i < p->ncells; i++)
		if (preparecell(p, &p->cells[i], err) < 0)
			return -1;
	return 0;
}

int preparecell(struct plan *p, struct cell *c, char **err)
{
	*err = NULL;
	if (c->need == NEED_RUN && !cellprompt(p, c, err))
		return -1;
	if (c->need != NEED_NOTHING && loadtask(c->task, err) < 0)
		return -1;
	/* an expected answer a grader cannot use is a usage error, too */
	for (size_t i = 0; c->need != NEED_NOTHING && i < c->sp->suite->ngraders; i++)
		if (checkexpected(suitegrader(c->sp->suite, i), c->task, err) < 0)
			return -1;
	/* a missing API key is a usage error, found before anything runs */
	if (c->need == NEED_RUN && c->sp->suite->agent.kind == AGENT_HTTP && !apikey(&c->sp->suite->agent, err))
		return -1;
	/* so is a sandbox that cannot be made here (probed once) */
	const struct suite *su = c->sp->suite;
	int sandboxed = c->need == NEED_RUN && su->agent.kind == AGENT_COMMAND && su->agent.sandbox.on;
	for (size_t i = 0; c->need != NEED_NOTHING && i < su->ngraders; i++) {
		const struct grader *g = suitegrader(su, i);
		if (g->type == GRADE_JUDGE && !apikey(&g->judge, err))
			return -1;
		if (g->type == GRADE_COMMAND && g->sandbox.on)
			sandboxed = 1;
	}
	if (sandboxed) {
		if (sandboxcheck(err) < 0) {
			char *e = *err;
			*err = xasprintf("suite %s: %s", su->name, e);
			free(e);
			return -1;
		}
		sandboxhide(p->ef->cache);
	}
	return 0;
}

/* the model-API lane holds agent calls to a provider and judge grades */
static const struct agent *httpagent(const struct cell *c)
{
	if (c->need == NEED_RUN)
		return c->sp->suite->agent.kind == AGENT_HTTP ? &c->sp->suite->agent : NULL;
	for (size_t i = 0; c->need == NEED_GRADE && i < c->sp->suite->ngraders; i++) {
		const struct grader *g = suitegrader(c->sp->suite, i);
		if (isnan(scoreof(c, i))) /* the first it grades with */
			return g->type == GRADE_JUDGE ? &g->judge : NULL;
	}
	return NULL;
}

struct sched *mksched(struct plan *p, struct loop *l, const struct runopts *o)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->p = p;
	s->l = l;
	s->o = o;
	s->prov = mkproviders(l);
	if (p)
		s->est = mkestimator(p);
	return s;
}

void schedplan(struct sched *s, struct plan *p)
{
	s->p = p;
	freeestimator(s->est);
	s->est = mkestimator(p);
	s->started = 0;
	s->spent = 0;
	s->priced = 0;
	s->cmd.head = s->cmd.n = 0;
	s->http.head = s->http.n = 0;
	s->stopping = 0;
	s->done = s->total = 0;
	s->errors = 0;
}

void schedqueue(struct sched *s, struct cell *c, int urgent)
{
	if (c->need == NEED_NOTHING || c->queued)
		return;
	c->queued = 1;
	c->stopped = STOP_NONE;
	estimatedrop(s->est, c);
	c->status = CELL_PENDING;
	c->scored = 0;
	s->total++;
	push(httpagent(c) ? &s->http : &s->cmd, c, urgent);
}

struct cell **schedtakeback(struct sched *s, size_t *n)
{
	struct cell **v = NULL;
	size_t cap = 0;
	struct queue *qs[] = {&s->cmd, &s->http};

	*n = 0;
	for (int k = 0; k < 2; k++) {
		struct queue *q = qs[k];
		/* what is in a queue has not started: a cell leaves it as it starts */
		for (size_t i = q->head; i < q->n; i++) {
			struct cell *c = q->v[i];
			if (!c->queued || c->job)
				continue;
			c->queued = 0;
			s->total--;
			xgrow(&v, &cap, *n + 1, sizeof(*v));
			v[(*n)++] = c;
		}
		q->head = q->n = 0;
	}
	return v;
}

void schedcancel(struct sched *s, struct cell *c)
{
	struct job *j = c->job;

	(void)s;
	if (!j)
		return;
	c->job = NULL;
	c->queued = 0;
	if (j->proc)
		killproc(j->proc); /* its result is dropped when it ends */
	/* a model call or grade finishes and is stored under its own key */
}

/* may the cell start, within the run's bounds? Else STOP_* (why not).
 * The suite's standard error is the one of report.h, over tasks: with
 * cells in iteration-major order every task's first iteration comes
 * before any task's second, so the tasks scored when it stops are the
 * first ones of the plan, not the easy ones that happened to finish. */
static int bound(struct sched *s, const struct cell *c)
{
	/* the estimate is the plain SE of task means: not what a suite with
	 * cluster: or another reduce: reports, so no bound there (README) */
	if (s->o->untilse > 0 && !c->sp->suite->cluster && c->sp->suite->reduce == REDUCE_MEAN) {
		const struct estimate *e = estimateof(s->est, (size_t)(c->sp - s->p->sp));
		if (e->tasks >= 2 && e->se <= s->o->untilse)
			return STOP_STDERR;
	}
	if (s->o->maxcells && s->started >= s->o->maxcells)
		return STOP_CELLS;
	/* with nothing priced yet and no guess, the first cells start */
	double mean = s->priced ? s->spent / (double)s->priced : s->o->costguess;
	if (s->o->maxcost > 0 && mean > 0 && c->need == NEED_RUN &&
	    s->spent + mean * (double)(s->active + 1) > s->o->maxcost)
		return STOP_COST;
	return STOP_NONE;
}

/* the cell is not started: it stays pending, saying why */
static void stopcell(struct sched *s, struct cell *c, int why)
{
	c->queued = 0;
	c->stopped = why;
	s->total--;
}

void schedpump(struct sched *s)
{
	struct cell *c;
	int why;

	while (!s->stopping && (c = peek(&s->cmd))) {
		if (!c->queued || c->need == NEED_NOTHING) {
			pop(&s->cmd);
			continue;
		}
		int isproc = c->need == NEED_RUN || c->sp->suite->grader.type == GRADE_COMMAND;
		if (isproc && s->activecmd >= s->o->jobs)
			break;
		pop(&s->cmd);
		if ((why = bound(s, c))) {
			stopcell(s, c, why);
			continue;
		}
		s->started++;
		if (c->need == NEED_RUN)
			startrun(s, c, 0.05);
		else
			startgrade(s, c, NULL);
	}
	while (!s->stopping && (c = peek(&s->http))) {
		const struct agent *a = httpagent(c);
		if (!c->queued || !a) {
			pop(&s->http);
			continue;
		}
		if (!modelready(s->prov, a))
			break;
		pop(&s->http);
		if ((why = bound(s, c))) {
			stopcell(s, c, why);
			continue;
		}
		s->started++;
		if (c->need == NEED_RUN)
			startrun(s, c, 0.05);
		else
			startgrade(s, c, NULL);
	}
}

int schedbusy(struct sched *s)
{
	return s->active > 0 || (!s->stopping && (peek(&s->cmd) || peek(&s->http)));
}

int schedrunning(struct sched *s)
{
	return s->active;
}

void schedabort(struct sched *s)
{
	killallprocs();
	modelabortall(s->prov);
	s->aborting = 1;
	for (int i = 0; i < 200 && s->active > 0; i++)
		loopstep(s->l, 0.05);
	s->aborting = 0;
	s->cmd.head = s->cmd.n = 0;
	s->http.head = s->http.n = 0;
}

const struct estimator *schedestimates(struct sched *s)
{
	return s->est;
}

int schederrors(struct sched *s)
{
	return s->errors;
}

void freesched(struct sched *s)
{
	if (!s)
		return;
	freeproviders(s->prov);
	freeestimator(s->est);
	free(s->cmd.v);
	free(s->http.v);
	free(s);
}

/* a cell being fetched: its run, then its expensive graders' grades */
struct fetch {
	struct plan *p;
	struct remote *r;
	struct cell *c;
	int look, grades;
	size_t *found;
};

static void fetchdone(struct fetch *f)
{
	if (--f->grades == 0)
		free(f);
}

static void ongradefetched(void *arg, int status)
{
	(void)status; /* a grade not fetched is computed here */
	fetchdone(arg);
}

static void onrunfetched(void *arg, int status)
{
	struct fetch *f = arg;
	struct cell *c = f->c;
	struct plan *p = f->p;
	const struct runrec *rr = NULL;

	if (status != REMOTE_HIT || (!f->look && !(rr = findrun(p->store, c->runkey)))) {
		fetchdone(f);
		return;
	}
	(*f->found)++;
	c->fetched = 1;
	if (f->look) {
		fetchdone(f);
		return;
	}
	c->need = NEED_GRADE;
	c->seconds = rr->seconds;
	free(c->why);
	c->why = xstrdup("fetched from the remote cache");
	setgradekey(p, c, rr->out);
	for (size_t gi = 0; gi < c->sp->suite->ngraders; gi++) {
		const struct grader *g = suitegrader(c->sp->suite, gi);
		hash gk = gradekeyof(c, gi);
		if (gradeinline(g) || findgrade(p->store, gk, 1))
			continue;
		f->grades++;
		remotegetgrade(f->r, gk, ongradefetched, f);
	}
	fetchdone(f);
}

size_t fetchcells(struct plan *p, struct remote *r, int look)
{
	size_t found = 0;

	if (!r || p->rebuild)
		return 0;
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		if (c->need != NEED_RUN || c->queued)
			continue;
		struct fetch *f = xcalloc(1, sizeof(*f));
		f->p = p;
		f->r = r;
		f->c = c;
		f->look = look;
		f->grades = 1;
		f->found = &found;
		remotegetrun(r, c->runkey, look, onrunfetched, f);
	}
	remotewait(r);
	storeflush(p->store);
	return found;
}

int runplan(struct plan *p, struct loop *l, const struct runopts *o)
{
	struct sched *s = mksched(p, l, o);
	int rc;

	for (size_t i = 0; i < p->ncells; i++)
		schedqueue(s, &p->cells[i], 0);
	progress(s, NULL);
	/* finished cells' results are held and stored together (store.h:
	 * batches): a commit costs about the same for one result as for
	 * hundreds. They are committed when the loop has nothing else ready
	 * (between waves of responses, when it would wait anyway), and at
	 * the latest BATCH_WAIT after the first of them finished: a kill -9
	 * loses at most that long of results (those cells run again) */
	storebatch(p->store, 1);
	schedpump(s);
	/* what planning learnt of the files (hashes, memos), written while
	 * the first cells run rather than after the last */
	savestate(p->st);
	double first = -1; /* when the oldest held result was seen */
	while (schedbusy(s)) {
		if (loopinterrupted(l)) {
			schedabort(s);
			break;
		}
		loopstep(l, first < 0 ? -1 : fmax(0, first + BATCH_WAIT - now()));
		schedpump(s); /* the next requests go out first */
		size_t bytes;
		if (storebatched(p->store, &bytes)) {
			if (first < 0)
				first = now();
			if (now() - first >= BATCH_WAIT || bytes >= BATCH_BYTES || !schedbusy(s) || !loopbusy(l)) {
				storecommitbatch(p->store);
				first = -1;
				schedpump(s); /* run locks released by the commit */
			}
		}
	}
	storebatch(p->store, 0);
	if (o->progress && !o->silent && s->total)
		fputs("\r\033[K", stderr);
	rc = loopinterrupted(l) ? EXIT_INTR : s->errors ? EXIT_GATE : 0;
	freesched(s);
	return rc;
}

/* a cell's record holds the inputs it last ran (or was graded) with */
static void recordcell(struct plan *p, struct cell *c)
{
	if (c->recorded || !c->scored || (c->status != CELL_RAN && !c->graded_now))
		return;
	struct cellrec r = {.run = c->runkey, .grade = c->gradekey, .iteration = c->iteration};
	memcpy(r.parts, c->parts, sizeof(r.parts));
	setcell(p->store, c->id, &r);
	c->recorded = 1;
}

void recordcells(struct plan *p)
{
	for (size_t i = 0; i < p->ncells; i++)
		recordcell(p, &p->cells[i]);
}
