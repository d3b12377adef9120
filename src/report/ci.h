/* ci: check's outputs for CI systems.
 *
 * JUnit XML (--junit): a <testsuite> per suite and a <testcase> per task;
 * a task whose score is below 1 has a <failure> with expected vs got for
 * each failing iteration and the grader's reason; a task with an errored
 * cell has an <error> with the cells' messages; a task with nothing scored
 * is <skipped>. Gates are <properties> of their suite, so the failures are
 * exactly the failing tasks. Read by GitHub (test reporters), GitLab
 * (artifacts:reports:junit) and Jenkins (junit step).
 *
 * Markdown (--markdown, $GITHUB_STEP_SUMMARY): the verdict, a table of the
 * suites with their gates and, against a baseline, deltas and the tasks
 * that flipped. */
#ifndef CI_H
#define CI_H

#include "report/gate.h"
#include "plan/plan.h"
#include "report/report.h"
#include "report/results.h"

/* the JUnit XML document of a plan's cells; caller frees */
char *junitxml(struct plan *p, struct suitesum *sum, const struct gates *g);
/* the Markdown summary; stale: cells the lock did not match (--locked) */
char *markdownsummary(const struct results *cur, const struct results *base, const struct gates *g, size_t stale,
                      int errors);
/* append text to the file at path in one O_APPEND write; -1 with errno */
int appendto(const char *path, const char *text);

#endif
