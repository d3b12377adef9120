/* plan: see plan.h. The work per cell on a no-op run is a few hash-table
 * lookups: task and deps hashes come through the stat cache, and the
 * rendered prompt's hash through a memo, so nothing is read or rendered
 * unless a cell must run. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plan/plan.h"
#include "load/choices.h"
#include "core/seen.h"
#include "core/util.h"

struct target {
	const char *suite;
	char *task;      /* NULL: every task */
	int iteration;   /* 0: every iteration */
};

static int parsetargets(struct evalfile *ef, const struct planopts *o, struct target *t, char **err)
{
	for (int i = 0; i < o->ntargets; i++) {
		char *s = xstrdup(o->targets[i]);
		char *slash = strchr(s, '/');
		t[i] = (struct target){0};
		if (slash) {
			*slash = '\0';
			char *task = slash + 1;
			char *hashp = strrchr(task, '#');
			if (hashp) {
				char *end;
				long k = strtol(hashp + 1, &end, 10);
				if (end == hashp + 1 || *end || k < 1) {
					*err = xasprintf("bad target '%s': expected SUITE, SUITE/TASK or SUITE/TASK#K (K from 1)", o->targets[i]);
					free(s);
					return -1;
				}
				t[i].iteration = (int)k;
				*hashp = '\0';
			}
			if (!task[0]) {
				*err = xasprintf("bad target '%s': expected SUITE, SUITE/TASK or SUITE/TASK#K", o->targets[i]);
				free(s);
				return -1;
			}
			t[i].task = xstrdup(task);
		}
		struct suite *su = findsuite(ef, s);
		if (!su) {
			const char *best = NULL;
			int bestd = 3;
			for (size_t j = 0; j < ef->nsuites; j++) {
				int d = editdist(s, ef->suites[j].name);
				if (d < bestd) {
					bestd = d;
					best = ef->suites[j].name;
				}
			}
			*err = best ? xasprintf("no suite '%s' in %s (did you mean '%s'?)", s, ef->path, best)
			            : xasprintf("no suite '%s' in %s", s, ef->path);
			free(s);
			return -1;
		}
		t[i].suite = su->name;
		free(s);
	}
	return 0;
}

static hash filelisthash(struct state *st, const char *tag, const struct strv *files, char **err)
{
	struct hasher h;

	hashstart(&h, tag);
	for (size_t i = 0; i < files->n; i++) {
		hash fh;
		if (filehash(st, files->v[i], &fh) < 0) {
			if (!*err)
				*err = xasprintf("%s: cannot read: %s", files->v[i], filewhy(errno));
			continue;
		}
		hashaddstr(&h, files->v[i]);
		hashaddhash(&h, fh);
	}
	return hashend(&h);
}

hash recordedlisthash(struct state *st, const char *tag, const struct strv *files)
{
	struct hasher h;

	/* the recipe of filelisthash, from the records */
	hashstart(&h, tag);
	for (size_t i = 0; i < files->n; i++) {
		hash fh;
		if (hashedstamp(st, files->v[i], NULL, &fh) < 0)
			continue;
		hashaddstr(&h, files->v[i]);
		hashaddhash(&h, fh);
	}
	return hashend(&h);
}

const char *const partnames[NPARTS] = {"agent config", "prompt", "task input", "deps", "env"};

/* the value a declared variable has for the agent: its env: setting (a
 * grader has none), else evalmake's own; NULL when unset */
static const char *envvalue(const struct agent *a, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; a && i < a->env.n; i++)
		if (!strncmp(a->env.v[i], name, n) && a->env.v[i][n] == '=')
			return a->env.v[i] + n + 1;
	const char *v = getenv(name);
	seenenv(name, v);
	return v;
}

/* one variable's value, unset distinct from empty; only this hash of a
 * value (which may be a secret) is ever stored */
static hash varhash(const char *name, const char *value)
{
	struct hasher h;

	hashstart(&h, "envvar");
	hashaddstr(&h, name);
	hashaddu64(&h, value != NULL);
	if (value)
		hashaddstr(&h, value);
	return hashend(&h);
}

static hash envmemokey(hash env, const char *name)
{
	struct hasher h;

	hashstart(&h, "envmemo");
	hashaddhash(&h, env);
	hashaddstr(&h, name);
	return hashend(&h);
}

/* the hash of the declared variables' values, zero when none are declared
 * (so configs without env_inputs keep their keys); each variable's own
 * hash is memoized under it, so explain can name the one that changed */
static hash envhash(struct state *st, const struct strv *names, const struct agent *a)
{
	struct hasher h;
	hash e, *v;

	if (!names->n)
		return (hash){0, 0};
	v = xcalloc(names->n, sizeof(*v));
	hashstart(&h, "env");
	for (size_t i = 0; i < names->n; i++) {
		v[i] = varhash(names->v[i], envvalue(a, names->v[i]));
		hashaddstr(&h, names->v[i]);
		hashaddhash(&h, v[i]);
	}
	e = hashend(&h);
	for (size_t i = 0; i < names->n; i++) {
		hash old[2], mv[2] = {v[i], {0, 0}};
		hash k = envmemokey(e, names->v[i]);
		if (memoget(st, k, old) < 0 || !hasheq(old[0], v[i]))
			memoput(st, k, mv);
	}
	free(v);
	return e;
}

char *envchanges(struct plan *p, const struct cell *c, hash was)
{
	const struct agent *a = &c->sp->suite->agent;
	struct buf b = {0};

	for (size_t i = 0; i < a->envinputs.n; i++) {
		const char *name = a->envinputs.v[i];
		hash old[2];
		if (!hashzero(was) && memoget(p->st, envmemokey(was, name), old) < 0)
			continue; /* not declared then, or forgotten */
		if (hashzero(was) || !hasheq(old[0], varhash(name, envvalue(a, name))))
			bufaddf(&b, "%s%s", b.len ? ", " : "", name);
	}
	return bufdetach(&b);
}

/* a grader's hash, its files' list hash given */
static hash graderhashof(struct plan *p, const struct grader *g, hash files)
{
	struct hasher h;

	hashstart(&h, "grader");
	hashaddstr(&h, g->canon);
	hashaddhash(&h, files);
	if (g->envinputs.n)
		hashaddhash(&h, envhash(p->st, &g->envinputs, NULL));
	return hashend(&h);
}

/* a grader's rubric template (a judge's; else *rubric is NULL) and the hash
 * of its config, files and env_inputs; -1 and *err when the rubric is bad
 * (a file that cannot be read leaves *err set, and the hash is computed) */
static int graderconfig(struct plan *p, const struct grader *g, struct template **rubric, hash *gh, char **err)
{
	*rubric = NULL;
	if (g->rubric) {
		char *prev = *err; /* an earlier grader's unreadable file: this error wins */
		size_t len, off;
		char *text = readfilemax(g->rubric, &len, TEMPLATE_MAX);
		*err = NULL;
		if (!text) {
			free(prev);
			*err = xasprintf("%s: cannot read: %s", g->rubric, filewhy(errno));
			return -1;
		}
		if (hasnul(text, len, &off)) {
			free(prev);
			*err = xasprintf("%s:%d: a NUL byte (expected text)", g->rubric, lineat(text, off));
			free(text);
			return -1;
		}
		*rubric = compiletemplate(g->rubric, text, TV_INPUT | TV_OUTPUT | TV_EXPECTED | TV_TASK, err);
		free(text);
		if (!*rubric) {
			free(prev);
			return -1;
		}
		*err = prev;
	}
	*gh = graderhashof(p, g, filelisthash(p->st, "graderfiles", &g->files, err));
	return 0;
}

hash recordedgraderhash(struct plan *p, const struct grader *g)
{
	return graderhashof(p, g, recordedlisthash(p->st, "graderfiles", &g->files));
}

static void freegraders(struct suiteplan *sp)
{
	for (size_t i = 1; sp->rubrics && i < sp->suite->ngraders; i++)
		freetemplate(sp->rubrics[i]);
	free(sp->rubrics);
	free(sp->graderhashes);
	sp->rubrics = NULL;
	sp->graderhashes = NULL;
}

/* the suite-wide inputs: the prompt template, the system prompt, the
 * rubric, and the hashes of the agent, deps, env and grader */
static int setupconfig(struct plan *p, struct suiteplan *sp, char **err)
{
	struct suite *s = sp->suite;
	struct hasher h;

	freetemplate(sp->tmpl);
	freetemplate(sp->rubric);
	freegraders(sp);
	free(sp->system);
	sp->tmpl = sp->rubric = NULL;
	sp->system = NULL;
	sp->tmplhash = (hash){0, 0};
	if (s->prompt) {
		size_t len, off;
		char *text = readfilemax(s->prompt, &len, TEMPLATE_MAX);
		if (!text) {
			*err = xasprintf("%s: cannot read: %s", s->prompt, filewhy(errno));
			return -1;
		}
		if (hasnul(text, len, &off)) { /* it would end the template early */
			*err = xasprintf("%s:%d: a NUL byte (expected text)", s->prompt, lineat(text, off));
			free(text);
			return -1;
		}
		sp->tmplhash = hashbytes(text, strlen(text));
		sp->tmpl = compiletemplate(s->prompt, text, TV_INPUT | TV_EXPECTED | TV_TASK | TV_CHOICES, err);
		free(text);
		if (!sp->tmpl)
			return -1;
		if (s->shuffle_choices && !(templateuses(sp->tmpl) & TV_CHOICES)) {
			*err = xasprintf("%s: suite '%s' has shuffle_choices, but its prompt %s shows no {{choices}}", s->where,
			                 s->name, s->prompt);
			return -1;
		}
	}
	if (s->agent.system) {
		sp->system = readfile(s->agent.system, NULL);
		if (!sp->system) /* not a file: the text itself */
			sp->system = xstrdup(s->agent.system);
	}
	*err = NULL;
	if (s->ngraders > 1) {
		sp->rubrics = xcalloc(s->ngraders, sizeof(*sp->rubrics));
		sp->graderhashes = xcalloc(s->ngraders, sizeof(*sp->graderhashes));
	}
	for (size_t i = 0; i < s->ngraders; i++) {
		struct template *rubric;
		hash gh;
		if (graderconfig(p, suitegrader(s, i), &rubric, &gh, err) < 0)
			return -1;
		if (i == 0) {
			sp->rubric = rubric;
			sp->graderhash = gh;
		}
		if (sp->rubrics) {
			sp->rubrics[i] = rubric;
			sp->graderhashes[i] = gh;
		}
	}
	char *gerr = *err; /* a grader file that cannot be read */
	hashstart(&h, "agent");
	hashaddstr(&h, s->agent.canon);
	sp->agenthash = hashend(&h);
	*err = NULL;
	sp->depshash = filelisthash(p->st, "deps", &s->agent.deps, err);
	sp->envhash = envhash(p->st, &s->agent.envinputs, &s->agent);
	if (gerr) {
		free(*err);
		*err = gerr;
	}
	return *err ? -1 : 0;
}

hash gradershash(const struct suiteplan *sp)
{
	struct hasher h;

	if (sp->suite->ngraders == 1)
		return sp->graderhash;
	hashstart(&h, "graders");
	for (size_t i = 0; i < sp->suite->ngraders; i++)
		hashaddhash(&h, sp->graderhashes[i]);
	return hashend(&h);
}

const struct template *rubricof(const struct suiteplan *sp, size_t i)
{
	return i ? sp->rubrics[i] : sp->rubric;
}

/* a task's rendered prompt in sp->prompts: one per task, or one per task
 * and iteration when choices are shuffled (the prompt differs by iteration) */
static size_t promptslots(const struct suiteplan *sp)
{
	return sp->tasks.n * (sp->suite->shuffle_choices ? (size_t)sp->iterations : 1);
}

static size_t promptslot(const struct suiteplan *sp, size_t ti, int iteration)
{
	return sp->suite->shuffle_choices ? ti * (size_t)sp->iterations + (size_t)(iteration - 1) : ti;
}

/* the suite's config and iterations (tasks: kept is NULL, listed; else
 * the n kept) */
static int setupsuite(struct plan *p, struct suiteplan *sp, struct suite *s, const struct planopts *o,
                      const struct kepttask *kept, size_t n, char **err)
{
	sp->suite = s;
	sp->iterations = o->iterations > 0 ? o->iterations : s->iterations;
	if (setupconfig(p, sp, err) < 0)
		return -1;
	if (s->reducek > sp->iterations) { /* --iterations below reduce's K */
		*err = xasprintf("%s: suite '%s': reduce: pass%c%d needs at least %d iterations, --iterations gives %d",
		                 s->where, s->name, s->reduce == REDUCE_PASSAT ? '@' : '^', s->reducek, s->reducek,
		                 sp->iterations);
		return -1;
	}
	if (!kept && listtasks(s, p->st, &sp->tasks, err) < 0)
		return -1;
	if (kept)
		xgrow(&sp->tasks.v, &sp->tasks.cap, n + 1, sizeof(*sp->tasks.v));
	for (size_t i = 0; kept && i < n; i++)
		keptjsontask(&sp->tasks, s, kept[i].id, kept[i].path, kept[i].full, (hash){0, 0});
	/* a cap no real suite reaches, so a typo cannot plan for minutes
	 * and gigabytes before anything runs */
	if ((double)sp->tasks.n * sp->iterations > MAX_CELLS) {
		*err = xasprintf("%s: suite '%s': %zu tasks x %d iterations is %.0f cells, past the limit of %d per suite",
		                 s->where, s->name, sp->tasks.n, sp->iterations, (double)sp->tasks.n * sp->iterations,
		                 MAX_CELLS);
		return -1;
	}
	sp->prompts = xcalloc(promptslots(sp) + 1, sizeof(*sp->prompts));
	return 0;
}

static char *renderprompt(struct suiteplan *sp, struct task *t, int iteration, char **err)
{
	if (loadtask(t, err) < 0)
		return NULL;
	/* checked before any cell runs: the first render is at plan time */
	if (checktask(t, !sp->tmpl || (templateuses(sp->tmpl) & TV_INPUT), err) < 0)
		return NULL;
	if (!sp->tmpl)
		return xstrdup(t->input);
	char *where = t->line ? xasprintf("%s:%d", t->path, t->line) : xstrdup(t->path);
	struct tmplvars v = {.input = t->input, .expected = firstexpected(t), .fields = t->fields, .taskname = t->id,
	                     .where = where};
	char *shown = NULL;
	if (templateuses(sp->tmpl) & TV_CHOICES) {
		struct choices c;
		if (getchoices(t->fields, &c, err) < 0) {
			char *e = *err;
			*err = t->line ? xasprintf("%s:%d: task '%s': %s", t->path, t->line, t->id, e)
			               : xasprintf("%s: task '%s': %s", t->path, t->id, e);
			free(e);
			free(where);
			return NULL;
		}
		if (sp->suite->shuffle_choices)
			shufflechoices(&c, t->id, iteration);
		v.choices = shown = c.n ? renderchoices(&c) : NULL;
		freechoices(&c);
	}
	char *r = render(sp->tmpl, &v, err);
	free(shown);
	free(where);
	return r;
}

static hash expectedhash(const struct task *t)
{
	struct hasher h;

	hashstart(&h, "expected");
	for (size_t i = 0; i < t->expected.n; i++)
		hashaddstr(&h, t->expected.v[i]);
	return hashend(&h);
}

/* the rendered prompt's hash and the expected answer's hash of a task,
 * from the memo when the template and the task are unchanged */
static int taskhashes(struct plan *p, struct suiteplan *sp, size_t ti, int iteration, hash out[2], char **err)
{
	struct task *t = &sp->tasks.v[ti];
	struct hasher h;
	hash key;

	/* the version changes with what reading a task gives (v3: a list
	 * literal's \x and \u escapes decoded, a mapped choices field
	 * required), so an upgrade renders and checks every task again */
	hashstart(&h, "memo-v3");
	hashaddhash(&h, sp->tmplhash);
	hashaddu64(&h, sp->tmpl != NULL);
	hashaddhash(&h, t->full); /* all of it: {{expected}} may be in the prompt */
	hashaddstr(&h, t->id); /* {{task.id}} may be in the prompt */
	/* the field mapping decides the input and expected answer, and what a
	 * task must have to be valid */
	hashaddstr(&h, sp->suite->fields.canon ? sp->suite->fields.canon : "");
	if (sp->suite->shuffle_choices) { /* the shown order depends on the iteration */
		hashaddstr(&h, "shuffle_choices");
		hashaddu64(&h, (uint64_t)iteration);
	}
	key = hashend(&h);
	if (memoget(p->st, key, out) == 0)
		return 0;
	char *prompt = renderprompt(sp, t, iteration, err);
	if (!prompt)
		return -1;
	out[0] = hashbytes(prompt, strlen(prompt));
	out[1] = expectedhash(t);
	free(sp->prompts[promptslot(sp, ti, iteration)]);
	sp->prompts[promptslot(sp, ti, iteration)] = prompt;
	memoput(p->st, key, out);
	return 0;
}

static hash runkey(const struct cell *c)
{
	struct hasher h;

	hashstart(&h, "run");
	hashaddu64(&h, CACHE_VERSION);
	for (int i = 0; i < NPARTS; i++)
		if (i != PART_ENV || !hashzero(c->parts[i])) /* keys without env_inputs stay as they were */
			hashaddhash(&h, c->parts[i]);
	hashaddu64(&h, (uint64_t)c->iteration);
	return hashend(&h);
}

/* the grade key of grader i of a cell whose output hashes to out (hidden:
 * see hiddenof) */
static hash graderkey(const struct cell *c, size_t i, hash out, hash hidden)
{
	const struct suiteplan *sp = c->sp;
	struct hasher h;

	hashstart(&h, "grade");
	hashaddu64(&h, CACHE_VERSION);
	hashaddhash(&h, out);
	hashaddhash(&h, i ? sp->graderhashes[i] : sp->graderhash);
	hashaddhash(&h, c->expectedhash);
	/* a grader that sees more of the task than its answer (a script gets
	 * every field, choice the choices, a judge what its rubric shows)
	 * grades anew when the task changes; shuffled choices move the
	 * expected letter */
	const struct grader *g = suitegrader(sp->suite, i);
	const struct template *rubric = rubricof(sp, i);
	int judgesees = g->type == GRADE_JUDGE && rubric && (templateuses(rubric) & (TV_INPUT | TV_TASK));
	if (g->type == GRADE_COMMAND || g->type == GRADE_CHOICE || judgesees) {
		hashaddhash(&h, c->task->content);
		hashaddstr(&h, c->task->id);
	}
	/* a script gets every field, and {{task.FIELD}} may show one: the
	 * answer fields beyond the expected answer too (none: nothing added,
	 * the key stays as it was) */
	if ((g->type == GRADE_COMMAND || (judgesees && (templateuses(rubric) & TV_TASK))) && !hashzero(hidden))
		hashaddhash(&h, hidden);
	if (g->shuffle)
		hashaddu64(&h, (uint64_t)c->iteration);
	return hashend(&h);
}

/* the hash of the answer fields of c's task beyond its expected answer
 * (hiddenanswers), memoized by the task's content, when one of its graders
 * sees them; else zero */
static hash hiddenof(struct plan *p, const struct cell *c)
{
	const struct suite *s = c->sp->suite;
	struct task *t = c->task;
	hash zero = {0}, val[2];
	int needed = 0;

	for (size_t i = 0; i < s->ngraders && !needed; i++) {
		const struct grader *g = suitegrader(s, i);
		const struct template *rubric = rubricof(c->sp, i);
		needed = g->type == GRADE_COMMAND || (g->type == GRADE_JUDGE && rubric && (templateuses(rubric) & TV_TASK));
	}
	if (!needed)
		return zero;
	struct hasher h;
	hashstart(&h, "hidden-v1");
	hashaddhash(&h, t->full);
	hashaddstr(&h, s->fields.canon ? s->fields.canon : "");
	hash key = hashend(&h);
	if (memoget(p->st, key, val) == 0)
		return val[0];
	char *err = NULL;
	if (loadtask(t, &err) < 0) {
		/* changed since it was hashed: a key that matches nothing stored
		 * (the run of this cell fails the same check) */
		free(err);
		return t->full;
	}
	val[0] = hiddenanswers(t);
	val[1] = zero;
	memoput(p->st, key, val);
	return val[0];
}

void setgradekey(struct plan *p, struct cell *c, hash out)
{
	size_t n = c->sp->suite->ngraders;
	struct hasher h;
	hash hidden = hiddenof(p, c);

	c->out = out;
	if (n == 1) {
		c->gradekey = graderkey(c, 0, out, hidden);
		return;
	}
	if (!c->gradekeys)
		c->gradekeys = xcalloc(n, sizeof(*c->gradekeys));
	if (!c->scores) /* a kept cell has its scores, not its keys (plankept) */
		c->scores = xcalloc(n, sizeof(*c->scores));
	hashstart(&h, "grades");
	for (size_t i = 0; i < n; i++) {
		c->gradekeys[i] = graderkey(c, i, out, hidden);
		c->scores[i] = NAN;
		hashaddhash(&h, c->gradekeys[i]);
	}
	c->gradekey = hashend(&h);
}

hash gradekeyof(const struct cell *c, size_t i)
{
	return c->gradekeys ? c->gradekeys[i] : c->gradekey;
}

double scoreof(const struct cell *c, size_t i)
{
	if (c->sp->suite->ngraders > 1)
		return c->scores ? c->scores[i] : NAN;
	return c->scored ? c->score : NAN;
}

void setscore(struct cell *c, size_t i, double score)
{
	const struct suite *s = c->sp->suite;
	double sum = 0, wsum = 0;

	if (!c->scores) {
		c->score = score;
		c->scored = 1;
		return;
	}
	c->scores[i] = score;
	for (size_t k = 0; k < s->ngraders; k++) {
		if (isnan(c->scores[k]))
			return;
		double w = suitegrader(s, k)->weight;
		sum += w * c->scores[k];
		wsum += w;
	}
	c->score = s->weighted ? sum / wsum : c->scores[0];
	c->scored = 1;
}

/* why a cell needs a run, from what it last resolved to */
static char *whyrun(struct plan *p, const struct cell *c)
{
	struct store *store = p->store;
	const struct cellrec *r = findcell(store, c->id);
	struct buf b = {0};

	if (!r)
		return xstrdup("new cell: never run");
	for (int i = 0; i < NPARTS; i++) {
		if (hasheq(r->parts[i], c->parts[i]))
			continue;
		char *vars = i == PART_ENV ? envchanges(p, c, r->parts[i]) : NULL;
		if (vars && vars[0]) /* "env MODEL, env TEMP" */
			for (char *v = strtok(vars, ", "); v; v = strtok(NULL, ", "))
				bufaddf(&b, "%senv %s", b.len ? ", " : "", v);
		else
			bufaddf(&b, "%s%s", b.len ? ", " : "", partnames[i]);
		free(vars);
	}
	if (b.len) {
		bufadds(&b, " changed");
		return bufdetach(&b);
	}
	if (haserror(store, c->id))
		return xstrdup("last attempt failed (errors are not cached)");
	return xstrdup("no result in the cache");
}

static int targeted(const struct target *t, int nt, const struct suiteplan *sp, const struct task *task, int k)
{
	if (!nt)
		return 1;
	for (int i = 0; i < nt; i++)
		if (!strcmp(t[i].suite, sp->suite->name) && (!t[i].task || !strcmp(t[i].task, task->id))
		    && (!t[i].iteration || t[i].iteration == k))
			return 1;
	return 0;
}

/* a deterministic per-task rank: sampling K tasks keeps the first K, so
 * asking for more later only adds tasks */
static uint64_t samplerank(const struct suiteplan *sp, const struct task *t)
{
	struct hasher h;

	hashstart(&h, "sample");
	hashaddstr(&h, sp->suite->name);
	hashaddstr(&h, t->id);
	return hashend(&h).low64;
}

struct ranked {
	uint64_t rank;
	size_t idx;
};

static int cmprank(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int checktargets(struct plan *p, const struct target *t, int nt, char **err)
{
	for (int i = 0; i < nt; i++) {
		struct suiteplan *sp = NULL;
		for (size_t j = 0; j < p->nsp; j++)
			if (!strcmp(p->sp[j].suite->name, t[i].suite))
				sp = &p->sp[j];
		if (t[i].task) {
			int found = 0;
			for (size_t j = 0; j < sp->tasks.n && !found; j++)
				found = !strcmp(sp->tasks.v[j].id, t[i].task);
			if (!found) {
				*err = xasprintf("no task '%s' in suite '%s'", t[i].task, t[i].suite);
				return -1;
			}
		}
		if (t[i].iteration > sp->iterations) {
			*err = xasprintf("suite '%s' has %d iteration%s: no #%d", t[i].suite, sp->iterations,
			                 sp->iterations == 1 ? "" : "s", t[i].iteration);
			return -1;
		}
	}
	return 0;
}

/* what a cell needs now, from the store */
static void resolve(struct plan *p, struct cell *c, int rebuild)
{
	const struct runrec *r = rebuild ? NULL : findrun(p->store, c->runkey);

	c->keptrun = NULL;
	c->recorded = 0;
	free(c->why);
	c->why = NULL;
	c->scored = 0;
	c->status = CELL_PENDING;
	if (!r) {
		/* a kept cell (plankept) re-keyed: its graders' scores were
		 * of the old key (they would show while it waits to run) */
		for (size_t i = 0; c->scores && i < c->sp->suite->ngraders; i++)
			c->scores[i] = NAN;
		c->need = NEED_RUN;
		c->why = rebuild ? xstrdup("rebuild (-B)") : whyrun(p, c);
		return;
	}
	setgradekey(p, c, r->out);
	c->seconds = r->seconds;
	const struct suite *s = c->sp->suite;
	struct buf missing = {0};
	int envin = 0;
	for (size_t i = 0; i < s->ngraders; i++) {
		const struct grader *gr = suitegrader(s, i);
		const struct graderec *g = findgrade(p->store, gradekeyof(c, i),
		                                     gr->type == GRADE_COMMAND || gr->type == GRADE_JUDGE);
		if (g) {
			setscore(c, i, g->score);
			continue;
		}
		bufaddf(&missing, "%s'%s'", missing.len ? ", " : "", gr->name);
		envin |= gr->envinputs.n > 0;
	}
	if (missing.len) {
		c->need = NEED_GRADE;
		c->scored = 0;
		if (s->ngraders == 1)
			c->why = xstrdup(envin ? "run cached; grader, its files, its env_inputs, the expected answer or the task it sees changed"
			                       : "run cached; grader, its files, the expected answer or the task it sees changed");
		else
			c->why = xasprintf("run cached; not graded by %s (new, or its config, files, %sthe expected answer or the "
			                   "task it sees changed)", missing.s, envin ? "env_inputs, " : "");
		buffree(&missing);
		return;
	}
	c->need = NEED_NOTHING;
	c->status = CELL_CACHED;
}

/* new prompt and task hashes, keys and needs for the cells of one task */
static int rekeycells(struct plan *p, struct suiteplan *sp, size_t ti, char **err)
{
	hash th[2];
	struct idxlist *il = sp->cellsof ? &sp->cellsof[ti] : NULL;

	if (!il || !il->n)
		return 0;
	for (int k = 1; k <= (sp->suite->shuffle_choices ? sp->iterations : 1); k++) {
		free(sp->prompts[promptslot(sp, ti, k)]);
		sp->prompts[promptslot(sp, ti, k)] = NULL;
	}
	if (!sp->suite->shuffle_choices && taskhashes(p, sp, ti, 1, th, err) < 0)
		return -1;
	for (size_t k = 0; k < il->n; k++) {
		struct cell *c = &p->cells[il->v[k]];
		if (sp->suite->shuffle_choices && taskhashes(p, sp, ti, c->iteration, th, err) < 0)
			return -1;
		c->parts[PART_AGENT] = sp->agenthash;
		c->parts[PART_PROMPT] = th[0];
		c->parts[PART_TASK] = c->task->content;
		c->parts[PART_DEPS] = sp->depshash;
		c->parts[PART_ENV] = sp->envhash;
		c->expectedhash = th[1];
		c->runkey = runkey(c);
		resolve(p, c, 0);
	}
	return 0;
}

int rekeytask(struct plan *p, struct suiteplan *sp, size_t taskno, char **err)
{
	*err = NULL;
	if (rehashtask(&sp->tasks.v[taskno], p->st, err) < 0)
		return -1;
	return rekeycells(p, sp, taskno, err);
}

int rekeysuite(struct plan *p, struct suiteplan *sp, char **err)
{
	*err = NULL;
	if (setupconfig(p, sp, err) < 0)
		return -1;
	for (size_t t = 0; t < sp->tasks.n; t++)
		if (rekeycells(p, sp, t, err) < 0)
			return -1;
	return 0;
}

/* list cell i under its task */
static void addcellof(struct plan *p, size_t i)
{
	struct cell *c = &p->cells[i];
	struct suiteplan *sp = c->sp;

	if (!sp->cellsof)
		sp->cellsof = xcalloc(sp->tasks.n + 1, sizeof(*sp->cellsof));
	struct idxlist *il = &sp->cellsof[c->taskno];
	xgrow(&il->v, &il->cap, il->n + 1, sizeof(*il->v));
	il->v[il->n++] = i;
}

struct plan *makeplan(struct evalfile *ef, struct state *st, struct store *store, const struct planopts *o, char **err)
{
	struct plan *p = xcalloc(1, sizeof(*p));
	struct target *tg = xcalloc((size_t)o->ntargets + 1, sizeof(*tg));
	int maxiter = 0;
	size_t cap = 0;

	*err = NULL;
	p->ef = ef;
	p->st = st;
	p->store = store;
	p->rebuild = o->rebuild;
	if (parsetargets(ef, o, tg, err) < 0)
		goto fail;
	p->sp = xcalloc(ef->nsuites, sizeof(*p->sp));
	for (size_t i = 0; i < ef->nsuites; i++) {
		int wanted = !o->ntargets;
		for (int j = 0; j < o->ntargets; j++)
			if (!strcmp(tg[j].suite, ef->suites[i].name))
				wanted = 1;
		if (!wanted)
			continue;
		struct suiteplan *sp = &p->sp[p->nsp++];
		if (setupsuite(p, sp, &ef->suites[i], o, NULL, 0, err) < 0)
			goto fail;
		if (sp->iterations > maxiter)
			maxiter = sp->iterations;
	}
	if (checktargets(p, tg, o->ntargets, err) < 0)
		goto fail;

	/* per task: is it targeted at all, and its prompt and expected hashes */
	hash **th = xcalloc(p->nsp, sizeof(*th));
	char **sel = xcalloc(p->nsp, sizeof(*sel));
	for (size_t i = 0; i < p->nsp; i++) {
		struct suiteplan *sp = &p->sp[i];
		th[i] = xcalloc(sp->tasks.n * 2 + 1, sizeof(**th));
		sel[i] = xcalloc(sp->tasks.n + 1, 1);
		for (size_t j = 0; j < sp->tasks.n; j++)
			sel[i][j] = 1; /* targets are applied per cell below */
		if (o->sample > 0 && (size_t)o->sample < sp->tasks.n) {
			struct ranked *r = xcalloc(sp->tasks.n, sizeof(*r));
			for (size_t j = 0; j < sp->tasks.n; j++)
				r[j] = (struct ranked){samplerank(sp, &sp->tasks.v[j]), j};
			qsort(r, sp->tasks.n, sizeof(*r), cmprank);
			for (size_t j = (size_t)o->sample; j < sp->tasks.n; j++)
				sel[i][r[j].idx] = 0;
			free(r);
		}
	}
	for (int k = 1; k <= maxiter && !*err; k++) {
		for (size_t i = 0; i < p->nsp && !*err; i++) {
			struct suiteplan *sp = &p->sp[i];
			if (k > sp->iterations)
				continue;
			for (size_t j = 0; j < sp->tasks.n; j++) {
				struct task *t = &sp->tasks.v[j];
				if (!sel[i][j] || !targeted(tg, o->ntargets, sp, t, k))
					continue;
				if (sp->suite->shuffle_choices || (hashzero(th[i][2 * j + 1]) && hashzero(th[i][2 * j]))) {
					if (taskhashes(p, sp, j, k, &th[i][2 * j], err) < 0)
						break;
				}
				xgrow(&p->cells, &cap, p->ncells + 1, sizeof(*p->cells));
				struct cell *c = &p->cells[p->ncells++];
				memset(c, 0, sizeof(*c));
				c->sp = sp;
				c->task = t;
				c->taskno = j;
				c->iteration = k;
				c->id = xasprintf("%s/%s#%d", sp->suite->name, t->id, k);
				c->parts[PART_AGENT] = sp->agenthash;
				c->parts[PART_PROMPT] = th[i][2 * j];
				c->parts[PART_TASK] = t->content;
				c->parts[PART_DEPS] = sp->depshash;
				c->parts[PART_ENV] = sp->envhash;
				c->expectedhash = th[i][2 * j + 1];
				c->runkey = runkey(c);
				sp->ncells++;
			}
		}
	}
	for (size_t i = 0; i < p->nsp; i++) {
		free(th[i]);
		free(sel[i]);
	}
	free(th);
	free(sel);
	if (*err)
		goto fail;

	for (size_t i = 0; i < p->ncells; i++) {
		addcellof(p, i);
		resolve(p, &p->cells[i], o->rebuild);
	}
	for (int i = 0; i < o->ntargets; i++)
		free(tg[i].task);
	free(tg);
	return p;
fail:
	for (int i = 0; i < o->ntargets; i++)
		free(tg[i].task);
	free(tg);
	freeplan(p);
	return NULL;
}

/* "SUITE/TASK#K", as makeplan names a cell */
static char *cellname(const char *suite, const char *task, int k)
{
	size_t ls = strlen(suite), lt = strlen(task);
	char num[16];
	int ln = snprintf(num, sizeof(num), "%d", k);
	char *id = xmalloc(ls + lt + (size_t)ln + 3);

	memcpy(id, suite, ls);
	id[ls] = '/';
	memcpy(id + ls + 1, task, lt);
	id[ls + 1 + lt] = '#';
	memcpy(id + ls + 2 + lt, num, (size_t)ln + 1);
	return id;
}

void keptconfig(const struct suiteplan *sp, hash out[NKEPT])
{
	struct hasher h;

	hashstart(&h, "kept-prompt");
	hashaddhash(&h, sp->tmplhash);
	hashaddu64(&h, sp->tmpl != NULL);
	hashaddu64(&h, (uint64_t)sp->iterations);
	out[KEPT_AGENT] = sp->agenthash;
	out[KEPT_PROMPT] = hashend(&h);
	out[KEPT_DEPS] = sp->depshash;
	out[KEPT_ENV] = sp->envhash;
	out[KEPT_GRADERS] = gradershash(sp);
}

struct plan *plankept(struct evalfile *ef, struct state *st, struct store *store, const struct planopts *o,
                      const struct keptplan *k, char **err)
{
	struct plan *p = xcalloc(1, sizeof(*p));
	size_t nruns = 0;

	*err = NULL;
	p->ef = ef;
	p->st = st;
	p->store = store;
	if (k->nsuites != ef->nsuites || o->ntargets || o->sample || o->rebuild) {
		*err = xstrdup("the record's suites are not the Evalfile's");
		goto fail;
	}
	p->sp = xcalloc(ef->nsuites + 1, sizeof(*p->sp));
	for (size_t i = 0; i < ef->nsuites; i++) {
		const struct keptsuite *ks = &k->suites[i];
		if (strcmp(ks->name, ef->suites[i].name)) {
			*err = xasprintf("the record's suite '%s' is not the Evalfile's '%s'", ks->name, ef->suites[i].name);
			goto fail;
		}
		if (setupsuite(p, &p->sp[p->nsp++], &ef->suites[i], o, ks->tasks, ks->ntasks, err) < 0)
			goto fail;
		hash now[NKEPT];
		keptconfig(&p->sp[i], now);
		for (int k = 0; k < NKEPT; k++) {
			if (!hasheq(now[k], ks->config[k])) {
				*err = xasprintf("suite '%s': its agent, prompt, deps, env_inputs or graders are not the record's",
				                 ks->name);
				goto fail;
			}
		}
	}
	p->cells = xcalloc(k->ncells + 1, sizeof(*p->cells));
	for (size_t i = 0; i < k->ncells; i++)
		nruns += k->cells[i].intokens >= 0 && k->cells[i].outtokens >= 0;
	p->keptruns = xcalloc(nruns + 1, sizeof(*p->keptruns));
	nruns = 0;
	for (size_t i = 0; i < k->ncells; i++) {
		const struct keptcell *kc = &k->cells[i];
		struct suiteplan *sp = kc->suite < p->nsp ? &p->sp[kc->suite] : NULL;
		if (!sp || kc->taskno >= sp->tasks.n || kc->iteration < 1 || kc->iteration > sp->iterations
		    || (sp->suite->ngraders > 1) != (kc->scores != NULL)) {
			*err = xstrdup("a cell of the record is not in the plan");
			goto fail;
		}
		struct cell *c = &p->cells[p->ncells++];
		c->sp = sp;
		c->taskno = kc->taskno;
		c->task = &sp->tasks.v[kc->taskno];
		c->iteration = kc->iteration;
		c->id = cellname(sp->suite->name, c->task->id, kc->iteration);
		c->runkey = kc->runkey;
		if (kc->scores) {
			c->scores = xcalloc(sp->suite->ngraders, sizeof(double));
			memcpy(c->scores, kc->scores, sp->suite->ngraders * sizeof(double));
		}
		c->need = NEED_NOTHING;
		c->status = CELL_CACHED;
		c->scored = kc->scored;
		c->score = kc->score;
		c->seconds = kc->seconds;
		static const struct runrec none = {.intokens = -1, .outtokens = -1};
		c->keptrun = &none;
		if (kc->intokens >= 0 && kc->outtokens >= 0) {
			struct runrec *r = &p->keptruns[nruns++];
			r->intokens = kc->intokens;
			r->outtokens = kc->outtokens;
			snprintf(r->model, sizeof(r->model), "%s", kc->model ? kc->model : "");
			c->keptrun = r;
		}
		sp->ncells++;
		if (!sp->cellsof) /* each task's cells, room for all its iterations */
			sp->cellsof = xcalloc(sp->tasks.n + 1, sizeof(*sp->cellsof));
		struct idxlist *il = &sp->cellsof[c->taskno];
		if (!il->cap) {
			il->cap = (size_t)sp->iterations;
			il->v = xcalloc(il->cap, sizeof(*il->v));
		}
		addcellof(p, i);
	}
	return p;
fail:
	freeplan(p);
	return NULL;
}

const struct runrec *cellrun(struct plan *p, const struct cell *c)
{
	return c->keptrun ? c->keptrun : findrun(p->store, c->runkey);
}

const char *cellprompt(struct plan *p, struct cell *c, char **err)
{
	struct suiteplan *sp = c->sp;

	(void)p;
	*err = NULL;
	size_t slot = promptslot(sp, c->taskno, c->iteration);
	if (!sp->prompts[slot])
		sp->prompts[slot] = renderprompt(sp, c->task, c->iteration, err);
	return sp->prompts[slot];
}

struct cell *findcellid(struct plan *p, const char *id)
{
	for (size_t i = 0; i < p->ncells; i++)
		if (!strcmp(p->cells[i].id, id))
			return &p->cells[i];
	return NULL;
}

void freeplan(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ncells; i++) {
		free(p->cells[i].id);
		free(p->cells[i].why);
		free(p->cells[i].error);
		free(p->cells[i].gradekeys);
		free(p->cells[i].scores);
	}
	free(p->cells);
	for (size_t i = 0; i < p->nsp; i++) {
		struct suiteplan *sp = &p->sp[i];
		for (size_t j = 0; sp->prompts && j < promptslots(sp); j++)
			free(sp->prompts[j]);
		free(sp->prompts);
		for (size_t j = 0; sp->cellsof && j < sp->tasks.n; j++)
			free(sp->cellsof[j].v);
		free(sp->cellsof);
		free(sp->depdirseen);
		freetasks(&sp->tasks);
		freetemplate(sp->tmpl);
		freetemplate(sp->rubric);
		freegraders(sp);
		free(sp->system);
	}
	free(p->sp);
	free(p->keptruns);
	free(p);
}
