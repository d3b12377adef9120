/* ci: check's outputs for CI systems.
 *
 * JUnit XML (--junit): as red or green as check's exit status. A
 * <testsuite> per suite holding a <testcase> per gate ("gate: threshold
 * 0.8", failing with check's line, which names the failing tasks) and one
 * per task. A task scoring below 1 has a <failure> (expected vs got for
 * each failing iteration, the grader's reason) only when a gate of its
 * suite failed; under gates that hold it passes, the same details in
 * <system-out>. A task with an errored cell has an <error> (errors fail
 * check too); one with nothing scored is <skipped>. Valid against Jenkins'
 * junit-10.xsd (tests/junit-10.xsd); read by GitHub (test reporters),
 * GitLab (artifacts:reports:junit) and Jenkins (junit step).
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
