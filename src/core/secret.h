/* secret: the values of declared API keys, kept out of everything evalmake
 * stores or prints.
 *
 * A key is declared by the name of the environment variable holding it
 * (every suite's api_key_env, for agents and judge graders alike). Its
 * value is then redacted, as "[redacted]", in three forms: raw, JSON-escaped
 * (as an agent printing json.dumps(os.environ) writes it, or any other
 * encoder: each character as itself or escaped, \uXXXX in either case or
 * \" \\ \/, so PHP's, Go's, .NET's and Gson's choices all match) and
 * URL-encoded (as in a logged request URL). Redaction happens where text enters
 * evalmake (an agent's output and transcript, a grader's reason, an error
 * message) so that what is graded, hashed and stored is one and the same
 * text; the writers of reports and `log` redact again, for caches written
 * before a key was declared.
 * A value shorter than SECRET_MIN bytes is not redacted (it would turn up
 * inside ordinary words and numbers): a warning says so, once per
 * variable. Workload: a handful of keys; with none declared every call is
 * a single test. */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#define SECRET_MIN 8   /* bytes: shorter values are not redacted */
#define REDACTED "[redacted]"

/* declare the value of the environment variable name (unset or empty:
 * nothing to hide); a value too short is reported on stderr, once */
void secretenv(const char *name);
/* declare value itself (name is for the warning); 0, or -1 when too short */
int secretadd(const char *name, const char *value);
/* forget every declared value (tests; watch mode reloading its Evalfile) */
void secretclear(void);
/* is anything declared? */
int secretany(void);
/* the n bytes at s with every declared value replaced: a new string
 * (NUL-terminated, its length in *outlen), or NULL when none occurs */
char *redactn(const char *s, size_t n, size_t *outlen);
/* s (malloc'd, may be NULL) with every declared value replaced: s itself
 * when none occurs, else a new string and s is freed */
char *redact(char *s);
/* the same for a buffer of n bytes that may hold NUL bytes: *s and *n are
 * replaced (the old *s freed) when a value occurs; returns whether it did */
int redactbuf(char **s, size_t *n);

#endif
