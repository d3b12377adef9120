/* provider: one model call (OpenAI-compatible chat completions, or the
 * Anthropic Messages API) with retries, on top of http.
 *
 * A call is retried on 429, 5xx, a dropped connection or a timeout, with
 * exponential backoff and jitter, never sooner than the server's
 * Retry-After; other 4xx fail at once with the server's own message, and
 * so does a 200 without an answer. The call's timeout bounds all of it,
 * attempts and waits: a wait that would outlast it ends the call at once.
 * Each provider (provider + base URL) has a concurrency limit starting at
 * max_connections: a 429 multiplies it by 0.8, each success adds back a
 * little, up to max_connections. The API key is read from the environment
 * variable the agent names, sent only as a header, and scrubbed from
 * anything returned (transcripts, raw responses, errors). */
#ifndef PROVIDER_H
#define PROVIDER_H

#include <cjson/cJSON.h>

#include "load/evalfile.h"
#include "core/loop.h"

struct modelcall {
	const struct agent *a;
	const char *system;          /* system prompt text, or NULL */
	const char *prompt;          /* the user message, when messages is NULL */
	const cJSON *messages;       /* the task's own chat messages, or NULL */
	int seed;
	double timeout;              /* the whole call, retries and waits included */
};

struct modelresult {
	char *text;                  /* the answer */
	char *error;                 /* NULL on success */
	char *request;               /* the request body (no key: that is a header) */
	char *response;              /* the last raw response body */
	char *transcript;            /* a line per attempt */
	char *model;                 /* the model the provider says answered */
	long intokens, outtokens;
	int attempts;
	double seconds;              /* latency of the last attempt */
	int interrupted;
};

struct providers;
typedef void (*modeldone)(void *arg, struct modelresult *r);

struct providers *mkproviders(struct loop *l);
/* the API key of a, or NULL with *err naming the unset variable */
const char *apikey(const struct agent *a, char **err);
/* may a call to a start now, within its provider's concurrency limit? */
int modelready(struct providers *p, const struct agent *a);
/* start a call; done is called once from the loop */
int modelstart(struct providers *p, const struct modelcall *c, modeldone done, void *arg, char **err);
/* abort every call: each done gets interrupted set */
void modelabortall(struct providers *p);
int modelactive(struct providers *p);
void freemodelresult(struct modelresult *r);
void freeproviders(struct providers *p);

#endif
