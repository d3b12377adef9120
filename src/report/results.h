/* results: a run's scores as the comparing commands see them (check's
 * gates, diff, the Markdown summary): suites, their tasks, scores and
 * errors. Read from a JSON report (--json, status --json: the format in
 * README.md), so a baseline saved on main and the current state are read
 * the same way; the current state is the JSON report of a plan, parsed.
 *
 * A task passes when its score is 1 (report.h: a task fails when its score
 * is below 1); a task with no scored cell neither passes nor fails. */
#ifndef RESULTS_H
#define RESULTS_H

#include <stddef.h>

#include "core/hash.h"
#include "plan/plan.h"
#include "report/report.h"
#include "core/util.h"

struct taskres {
	char *id;
	double score;          /* NAN when no cell is scored */
	size_t cells, errors;
	int *erriters;         /* the iterations that errored (errors of them) */
};

struct suiteres {
	char *name;
	double score, se;      /* NAN when no task is scored */
	double threshold;      /* < 0 when none */
	size_t cells, errors, ran, cached;
	int partial;           /* the score covers only part of its cells */
	struct taskres *tasks;
	size_t ntasks;
	struct htab *index;    /* task id -> struct taskres */
};

struct results {
	struct suiteres *suites;
	size_t nsuites;
	size_t ran, cached, errors;
};

/* parse a JSON report; name is the file for messages; -1 and *err */
int parseresults(const char *json, const char *name, struct results *r, char **err);
/* read and parse the JSON report at path; -1 and *err */
int loadresults(const char *path, struct results *r, char **err);
/* the results of a plan as its JSON report says them */
void planresults(struct plan *p, struct suitesum *sum, struct results *r);
/* free r's contents (r itself is the caller's) */
void freeresults(struct results *r);
/* the suite named name, or NULL */
struct suiteres *findsuiteres(const struct results *r, const char *name);
/* the task with id, or NULL */
struct taskres *findtaskres(const struct suiteres *s, const char *id);
/* does a task with this score pass? (never when NAN) */
int taskpasses(double score);

/* a task scored in both runs whose pass/fail differs */
struct flip {
	const char *id;        /* points into the new results */
	double old, new;
};

/* the tasks of s that flipped against base, pass -> fail first (*nfail of
 * them), then fail -> pass; returns how many (caller frees *out) */
size_t flips(const struct suiteres *base, const struct suiteres *s, struct flip **out, size_t *nfail);
/* the tasks both runs scored, as two arrays of scores (caller frees) */
size_t sharedscores(const struct suiteres *base, const struct suiteres *s, double **old, double **new);
/* append up to max task ids of the list to b, separated by spaces, with
 * "(+N more)" after */
void addidlist(struct buf *b, const char *const *ids, size_t n, size_t max);

#endif
