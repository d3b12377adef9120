/* export: see export.h. One pass over the plan's cells, suite by suite and
 * task by task, reading each cell's stored prompt (or request) and output;
 * the whole export is built in memory and written in one atomic write, so
 * an interrupted export never leaves half a file. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd/export.h"
#include "core/secret.h"
#include "core/util.h"
#include "report/markup.h"
#include "store/state.h"
#include "store/store.h"

enum format { FMT_CHAT, FMT_PREFERENCE, FMT_REWARDS };

/* what one exported cell holds */
struct sample {
	const struct cell *c;
	cJSON *input;       /* the messages sent: an array */
	char *prompt;       /* the rendered prompt, as text */
	char *output;       /* the answer graded */
};

static int byiteration(const void *a, const void *b)
{
	const struct cell *x = *(const struct cell *const *)a, *y = *(const struct cell *const *)b;

	return (x->iteration > y->iteration) - (x->iteration < y->iteration);
}

/* a stored part as redacted text, or NULL */
static char *part(struct store *st, hash key, const char *name)
{
	char *s = entrypart(st, key, name, NULL);

	return s ? redact(s) : NULL;
}

static cJSON *message(const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", content);
	return m;
}

/* the messages a model agent was sent, from its stored request: the
 * system prompt (Anthropic's top-level "system" too) and the chat turns;
 * NULL when there is no request (a command agent) */
static cJSON *requestmessages(struct store *st, hash key)
{
	char *text = part(st, key, "request.json");
	cJSON *req = text ? cJSON_Parse(text) : NULL;
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
	const cJSON *sys = cJSON_GetObjectItemCaseSensitive(req, "system");
	cJSON *out = NULL;

	free(text);
	if (cJSON_IsArray(msgs)) {
		out = cJSON_CreateArray();
		if (cJSON_IsString(sys) && sys->valuestring[0])
			cJSON_AddItemToArray(out, message("system", sys->valuestring));
		const cJSON *m;
		cJSON_ArrayForEach(m, msgs) {
			const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
			const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "role", cJSON_IsString(role) ? role->valuestring : "user");
			cJSON_AddItemToObject(o, "content", content ? cJSON_Duplicate(content, 1) : cJSON_CreateString(""));
			cJSON_AddItemToArray(out, o);
		}
	}
	cJSON_Delete(req);
	return out;
}

/* read cell c's stored texts; -1 when something is missing */
static int loadsample(struct plan *p, const struct cell *c, struct sample *s)
{

	memset(s, 0, sizeof(*s));
	s->c = c;
	s->output = part(p->store, c->runkey, "output");
	s->prompt = part(p->store, c->runkey, "prompt");
	s->input = requestmessages(p->store, c->runkey);
	if (!s->input && s->prompt) {
		s->input = cJSON_CreateArray();
		cJSON_AddItemToArray(s->input, message("user", s->prompt));
	}
	if (!s->prompt && s->input) { /* the prompt as text: the last user turn */
		const cJSON *m, *last = NULL;
		cJSON_ArrayForEach(m, s->input) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "content");
			if (cJSON_IsString(r) && !strcmp(r->valuestring, "user") && cJSON_IsString(t))
				last = t;
		}
		s->prompt = xstrdup(last ? last->valuestring : "");
	}
	return s->output && s->input ? 0 : -1;
}

static void freesample(struct sample *s)
{
	cJSON_Delete(s->input);
	free(s->prompt);
	free(s->output);
}

/* one object as one line of b, valid UTF-8 and redacted once more */
static void addline(struct buf *b, cJSON *o)
{
	cleanjson(o);
	char *s = cJSON_PrintUnformatted(o);
	char *r = redact(xstrdup(s));

	cJSON_free(s);
	bufadds(b, r);
	bufaddc(b, '\n');
	free(r);
	cJSON_Delete(o);
}

static void addchat(struct buf *b, const struct sample *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *msgs = cJSON_Duplicate(s->input, 1);

	cJSON_AddItemToArray(msgs, message("assistant", s->output));
	cJSON_AddItemToObject(o, "messages", msgs);
	addline(b, o);
}

static void addreward(struct buf *b, const struct sample *s)
{
	cJSON *o = cJSON_CreateObject();
	char hx[33];

	hashhex(s->c->runkey, hx);
	cJSON_AddStringToObject(o, "prompt", s->prompt);
	cJSON_AddStringToObject(o, "completion", s->output);
	cJSON_AddNumberToObject(o, "reward", round(s->c->score * 1e6) / 1e6);
	cJSON_AddStringToObject(o, "cell", s->c->id);
	cJSON_AddStringToObject(o, "key", hx);
	addline(b, o);
}

/* the task's best output against its worst one sent the same messages;
 * ties go to the earlier iteration */
static int addpreference(struct buf *b, const struct sample *v, size_t n, double minscore)
{
	size_t best = n, worst = n;

	for (size_t i = 0; i < n; i++)
		if (best == n || v[i].c->score > v[best].c->score)
			best = i;
	if (best == n || v[best].c->score < minscore)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].c->score >= v[best].c->score || !cJSON_Compare(v[i].input, v[best].input, 1)
		    || !strcmp(v[i].output, v[best].output))
			continue;
		if (worst == n || v[i].c->score < v[worst].c->score)
			worst = i;
	}
	if (worst == n)
		return 0;
	cJSON *o = cJSON_CreateObject();
	cJSON *in = cJSON_AddObjectToObject(o, "input");
	cJSON_AddItemToObject(in, "messages", cJSON_Duplicate(v[best].input, 1));
	cJSON *po = cJSON_AddArrayToObject(o, "preferred_output");
	cJSON_AddItemToArray(po, message("assistant", v[best].output));
	cJSON *no = cJSON_AddArrayToObject(o, "non_preferred_output");
	cJSON_AddItemToArray(no, message("assistant", v[worst].output));
	addline(b, o);
	return 1;
}

static enum format parseformat(const char *f)
{
	if (!f)
		die("export: expected --format chat, preference or rewards (see 'evalmake help export')");
	if (!strcmp(f, "chat"))
		return FMT_CHAT;
	if (!strcmp(f, "preference"))
		return FMT_PREFERENCE;
	if (!strcmp(f, "rewards"))
		return FMT_REWARDS;
	die("export: --format: expected chat, preference or rewards, got '%s'", f);
}

int cmdexport(struct opts *o)
{
	enum format fmt = parseformat(o->format);
	double minscore = o->minscore >= 0 ? o->minscore : -1;
	struct project pr = {0};
	struct buf b = {0};
	size_t lines = 0, cells = 0, skipped = 0;

	if (!o->output)
		die("export: expected -o FILE ('-': stdout)");
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		die("getcwd:");
	char *out = absfrom(cwd, o->output);
	free(cwd);
	openproject(o, &pr);
	struct planopts po = {.targets = o->args, .ntargets = o->nargs, .iterations = o->iterations, .sample = o->sample};
	struct plan *p = planor2(&pr, &po);
	bufadds(&b, "");
	for (size_t i = 0; i < p->nsp; i++) {
		struct suiteplan *sp = &p->sp[i];
		for (size_t t = 0; sp->cellsof && t < sp->tasks.n; t++) {
			struct idxlist *il = &sp->cellsof[t];
			const struct cell **cs = xcalloc(il->n + 1, sizeof(*cs));
			struct sample *v = xcalloc(il->n + 1, sizeof(*v));
			size_t n = 0;
			for (size_t k = 0; k < il->n; k++)
				cs[k] = &p->cells[il->v[k]];
			qsort(cs, il->n, sizeof(*cs), byiteration);
			for (size_t k = 0; k < il->n; k++) {
				const struct cell *c = cs[k];
				/* only a result and a grade stored for the current keys */
				if (c->need != NEED_NOTHING || !c->scored || c->status == CELL_ERROR) {
					skipped++;
					continue;
				}
				if (loadsample(p, c, &v[n]) < 0) {
					freesample(&v[n]);
					skipped++;
					continue;
				}
				cells++;
				if (fmt != FMT_PREFERENCE && c->score < minscore) {
					freesample(&v[n]);
					continue;
				}
				if (fmt == FMT_CHAT)
					addchat(&b, &v[n]), lines++;
				else if (fmt == FMT_REWARDS)
					addreward(&b, &v[n]), lines++;
				n++;
			}
			if (fmt == FMT_PREFERENCE)
				lines += (size_t)addpreference(&b, v, n, minscore);
			for (size_t k = 0; k < n; k++)
				freesample(&v[k]);
			free(v);
			free(cs);
		}
	}
	int rc = 0;
	if (!strcmp(out, "-") ? fwrite(b.s, 1, b.len, stdout) != b.len || fflush(stdout) != 0
	                             : writefile(out, b.s, b.len) < 0) {
		warn("export: cannot write %s:", o->output);
		rc = EXIT_GATE;
	} else if (!o->silent) {
		fprintf(stderr, "exported %zu line%s from %zu graded cell%s to %s", lines, lines == 1 ? "" : "s", cells,
		        cells == 1 ? "" : "s", strcmp(out, "-") ? o->output : "stdout");
		if (skipped)
			fprintf(stderr, " (%zu cell%s left out: not cached or not graded; evalmake brings them up to date)",
			        skipped, skipped == 1 ? "" : "s");
		fputc('\n', stderr);
	}
	savestate(pr.st);
	buffree(&b);
	freeplan(p);
	closeproject(&pr);
	free(out);
	return rc;
}
