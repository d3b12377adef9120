/* template: prompt and rubric templates with {{input}}, {{expected}},
 * {{output}}, {{task.FIELD}} (FIELD may be a dotted path into the task's
 * JSON fields) and {{choices}} (a multiple-choice task's choices, one
 * "A) text" line each: see choices.h). Whitespace inside the braces is
 * allowed. A template is compiled once, so an unknown variable is an error
 * before anything runs.
 *
 * {{task.FIELD | default: "text"}} gives the text when a task lacks FIELD
 * (or it is null). A quoted string is a literal: {{ "{{" }} writes "{{"
 * and {{ '}}' }} writes "}}", the way to put braces in a prompt. */
#ifndef TEMPLATE_H
#define TEMPLATE_H

#include <cjson/cJSON.h>

enum {
	TV_INPUT = 1,
	TV_EXPECTED = 2,
	TV_OUTPUT = 4,
	TV_TASK = 8,
	TV_CHOICES = 16,
};

struct template;

struct tmplvars {
	const char *input, *expected, *output;
	const char *choices;   /* {{choices}} rendered, or NULL: the task has none */
	const cJSON *fields;   /* the task's fields, for {{task.FIELD}} */
	const char *taskname;  /* for error messages */
	const char *where;     /* the task's FILE:LINE, for error messages, or NULL */
};

/* compile text read from file (named in errors); allowed is a TV_ mask;
 * NULL and *err on an unknown variable or an unclosed {{ */
struct template *compiletemplate(const char *file, const char *text, unsigned allowed, char **err);
/* the variables the template uses (a TV_ mask) */
unsigned templateuses(const struct template *t);
/* render; NULL and *err when a {{task.FIELD}} is missing from the task */
char *render(const struct template *t, const struct tmplvars *v, char **err);
void freetemplate(struct template *t);

#endif
