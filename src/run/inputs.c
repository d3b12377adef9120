/* inputs: see inputs.h. A check is one stat per file; it runs only for
 * cells that run or are graded by a script, next to which a stat is free. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int runinputs(struct state *st, const struct cell *c, struct inputset *out, char **err)
{
	const struct suite *s = c->sp->suite;

	*err = NULL;
	if (addfiles(st, &s->agent.deps, "not run", out, err) < 0)
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

int gradeinputs(struct state *st, const struct cell *c, struct inputset *out, char **err)
{
	return graderinputs(st, &c->sp->suite->grader, out, err);
}

int graderinputs(struct state *st, const struct grader *g, struct inputset *out, char **err)
{
	*err = NULL;
	return addfiles(st, &g->files, "not graded", out, err);
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
	return 0;
}

void freeinputs(struct inputset *in)
{
	for (size_t i = 0; i < in->n; i++)
		free(in->v[i].path);
	free(in->v);
	memset(in, 0, sizeof(*in));
}
