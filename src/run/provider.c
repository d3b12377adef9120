/* provider: request building and response parsing for the two APIs, the
 * retry loop, and the per-provider adaptive concurrency limit. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "core/secret.h"
#include "run/provider.h"
#include "core/util.h"

#define RESPONSE_CAP (16u << 20)

struct limiter {
	char *name;                  /* provider base URL */
	double limit, max;
	int active;
	struct limiter *next;
};

struct providers {
	struct loop *l;
	struct http *http;
	struct limiter *limiters;
	struct callstate *calls;     /* in flight or waiting to retry */
};

struct callstate {
	struct providers *p;
	struct limiter *lim;
	const struct agent *a;
	char *url, *body, *key;
	char *headers[4];
	double timeout, deadline;    /* the whole call's; deadline 0: none */
	int attempts;
	long timer;                  /* waiting to retry */
	int inflight;
	struct buf transcript;
	struct modelresult r;
	modeldone done;
	void *arg;
	struct callstate *next;
};

struct providers *mkproviders(struct loop *l)
{
	struct providers *p = xcalloc(1, sizeof(*p));

	p->l = l;
	return p;
}

const char *apikey(const struct agent *a, char **err)
{
	const char *k = getenv(a->api_key_env);

	*err = NULL;
	if (!k || !k[0]) {
		*err = xasprintf("the %s API needs a key: set the environment variable %s (the Evalfile's api_key_env)",
		                 a->provider, a->api_key_env);
		return NULL;
	}
	return k;
}

static struct limiter *limiter(struct providers *p, const struct agent *a)
{
	struct limiter *l;

	for (l = p->limiters; l; l = l->next)
		if (!strcmp(l->name, a->base_url))
			return l;
	l = xcalloc(1, sizeof(*l));
	l->name = xstrdup(a->base_url);
	l->limit = l->max = a->max_connections;
	l->next = p->limiters;
	p->limiters = l;
	return l;
}

int modelready(struct providers *p, const struct agent *a)
{
	struct limiter *l = limiter(p, a);

	return l->active < (int)floor(l->limit) || l->active == 0;
}

/* the text of a message's content: a string, or the text blocks of a list */
static void contenttext(const cJSON *content, struct buf *b)
{
	const cJSON *blk;

	if (cJSON_IsString(content)) {
		bufadds(b, content->valuestring);
		return;
	}
	cJSON_ArrayForEach(blk, content) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(blk, "text");
		if (cJSON_IsString(t))
			bufaddf(b, "%s%s", b->len ? "\n\n" : "", t->valuestring);
	}
}

/* content as a list of blocks, for merging a string with a list */
static cJSON *asblocks(const cJSON *content)
{
	if (cJSON_IsArray(content))
		return cJSON_Duplicate(content, 1);
	cJSON *l = cJSON_CreateArray(), *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "text");
	cJSON_AddStringToObject(b, "text", cJSON_IsString(content) ? content->valuestring : "");
	cJSON_AddItemToArray(l, b);
	return l;
}

/* one turn onto an Anthropic message list, merged into the previous turn
 * when it has the same role (the API requires alternating turns) */
static void addturn(cJSON *msgs, const char *role, const cJSON *content)
{
	cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
	const cJSON *lr = last ? cJSON_GetObjectItemCaseSensitive(last, "role") : NULL;

	if (cJSON_IsString(lr) && !strcmp(lr->valuestring, role)) {
		cJSON *lc = cJSON_GetObjectItemCaseSensitive(last, "content");
		cJSON *merged;
		if (cJSON_IsString(lc) && cJSON_IsString(content)) {
			char *s = xasprintf("%s\n\n%s", lc->valuestring, content->valuestring);
			merged = cJSON_CreateString(s);
			free(s);
		} else {
			merged = asblocks(lc);
			cJSON *more = asblocks(content), *it;
			while ((it = cJSON_DetachItemFromArray(more, 0)))
				cJSON_AddItemToArray(merged, it);
			cJSON_Delete(more);
		}
		cJSON_ReplaceItemInObjectCaseSensitive(last, "content", merged);
		return;
	}
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddItemToObject(m, "content", content ? cJSON_Duplicate(content, 1) : cJSON_CreateString(""));
	cJSON_AddItemToArray(msgs, m);
}

/* OpenAI-style chat input for the Anthropic Messages API, which takes one
 * top-level system prompt and alternating user/assistant turns without
 * names. Nothing is dropped: a system message named example_user or
 * example_assistant (OpenAI evals' few-shot form) becomes a user or an
 * assistant turn; every other system (or developer) message joins the
 * top-level system prompt, after the agent's own, in order; turns of the
 * same role in a row are merged; "name" fields are left out. */
static void addanthropic(cJSON *req, cJSON *msgs, const cJSON *from, const char *system)
{
	struct buf sys = {0};
	const cJSON *m;

	if (system)
		bufadds(&sys, system);
	cJSON_ArrayForEach(m, from) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		const char *r = cJSON_IsString(role) ? role->valuestring : "user";
		const char *nm = cJSON_IsString(name) ? name->valuestring : "";
		if (!strcmp(r, "system") || !strcmp(r, "developer")) {
			if (!strcmp(nm, "example_user")) {
				r = "user";
			} else if (!strcmp(nm, "example_assistant")) {
				r = "assistant";
			} else {
				struct buf t = {0};
				contenttext(content, &t);
				if (t.len)
					bufaddf(&sys, "%s%s", sys.len ? "\n\n" : "", t.s);
				buffree(&t);
				continue;
			}
		}
		addturn(msgs, r, content);
	}
	if (sys.len)
		cJSON_AddStringToObject(req, "system", sys.s);
	buffree(&sys);
}

/* a token count from a server: clamped before the cast (a double past
 * LONG_MAX, or NaN, cast to long is undefined behaviour) */
static long tokencount(const cJSON *v)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
		return 0;
	return v->valuedouble < 1e15 ? (long)v->valuedouble : (long)1e15;
}

static char *buildrequest(const struct modelcall *c)
{
	int anthropic = !strcmp(c->a->provider, "anthropic");
	cJSON *req = cJSON_CreateObject();
	cJSON *params = c->a->params ? cJSON_Parse(c->a->params) : NULL;
	cJSON *msgs;

	cJSON_AddStringToObject(req, "model", c->a->model);
	msgs = cJSON_AddArrayToObject(req, "messages");
	if (!anthropic && c->system) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", c->system);
		cJSON_AddItemToArray(msgs, m);
	}
	if (anthropic && c->messages) {
		addanthropic(req, msgs, c->messages, c->system);
	} else if (c->messages) {
		const cJSON *m;
		cJSON_ArrayForEach(m, c->messages) cJSON_AddItemToArray(msgs, cJSON_Duplicate(m, 1));
	} else {
		if (anthropic && c->system)
			cJSON_AddStringToObject(req, "system", c->system);
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddStringToObject(m, "content", c->prompt ? c->prompt : "");
		cJSON_AddItemToArray(msgs, m);
	}
	if (!anthropic)
		cJSON_AddNumberToObject(req, "seed", c->seed);
	for (cJSON *it = params ? params->child : NULL; it; it = it->next)
		if (!cJSON_GetObjectItemCaseSensitive(req, it->string))
			cJSON_AddItemToObject(req, it->string, cJSON_Duplicate(it, 1));
	if (anthropic && !cJSON_GetObjectItemCaseSensitive(req, "max_tokens"))
		cJSON_AddNumberToObject(req, "max_tokens", 1024);
	cJSON_Delete(params);
	char *s = cJSON_PrintUnformatted(req);
	char *r = xstrdup(s);
	cJSON_free(s);
	cJSON_Delete(req);
	return r;
}

static char *servermessage(const char *body);

/* what is wrong with a 200 response that has no answer: the server's own
 * message when it sent one (some proxies send errors with status 200) */
static char *noanswer(const char *body, int anthropic)
{
	cJSON *j = cJSON_Parse(body);
	char *m, *r;

	if (!cJSON_IsObject(j)) {
		/* an HTML error page or a cut body: show its start */
		cJSON_Delete(j);
		m = servermessage(body);
		r = xasprintf("malformed JSON in the response: %s", m);
		free(m);
		return r;
	}
	int haserror = cJSON_GetObjectItemCaseSensitive(j, "error") != NULL;
	cJSON_Delete(j);
	m = servermessage(body);
	r = haserror ? xasprintf("HTTP 200 with an error: %s", m)
	             : xasprintf("HTTP 200 without an answer (no %s): %s", anthropic ? "content" : "choices[0].message.content", m);
	free(m);
	return r;
}

/* the answer, model and usage of a 200 response; -1 when it has none, -2
 * when a string holds an escaped NUL, -3 when it is not UTF-8 */
static int parseok(struct callstate *cs, const char *body)
{
	/* cJSON would cut a string at an escaped NUL: refuse, never cut */
	if (jsonnul(body, strlen(body)))
		return -2;
	/* JSON is UTF-8: other bytes would reach reports as mojibake */
	if (!utf8valid(body, strlen(body)))
		return -3;
	cJSON *j = cJSON_Parse(body);
	int anthropic = !strcmp(cs->a->provider, "anthropic");
	const cJSON *v;
	struct buf text = {0};

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return -1;
	}
	if (anthropic) {
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(j, "content"), *blk;
		if (!cJSON_IsArray(content) || cJSON_GetObjectItemCaseSensitive(j, "error")) {
			cJSON_Delete(j);
			return -1;
		}
		cJSON_ArrayForEach(blk, content) {
			v = cJSON_GetObjectItemCaseSensitive(blk, "text");
			if (cJSON_IsString(v))
				bufadds(&text, v->valuestring);
		}
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
		v = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
		cs->r.intokens = tokencount(v);
		v = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
		cs->r.outtokens = tokencount(v);
	} else {
		const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
		v = cJSON_GetObjectItemCaseSensitive(msg, "content");
		if (!msg || !(cJSON_IsString(v) || cJSON_IsNull(v)) || cJSON_GetObjectItemCaseSensitive(j, "error")) {
			cJSON_Delete(j);
			return -1;
		}
		bufadds(&text, cJSON_IsString(v) ? v->valuestring : "");
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
		v = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
		cs->r.intokens = tokencount(v);
		v = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
		cs->r.outtokens = tokencount(v);
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "model");
	free(cs->r.model);
	cs->r.model = cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
	free(cs->r.text);
	bufadds(&text, "");
	cs->r.text = bufdetach(&text);
	cJSON_Delete(j);
	return 0;
}

/* the server's own error message, if its body says one */
static char *servermessage(const char *body)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
	char *r = NULL;

	if (cJSON_IsString(m))
		r = xstrdup(m->valuestring);
	cJSON_Delete(j);
	if (!r) {
		size_t n = strcspn(body, "\n");
		r = n ? xstrndup(body, n > 200 ? 200 : n) : xstrdup("(empty body)");
	}
	return r;
}

static void unlink_call(struct callstate *cs)
{
	for (struct callstate **pp = &cs->p->calls; *pp; pp = &(*pp)->next) {
		if (*pp == cs) {
			*pp = cs->next;
			return;
		}
	}
}

/* the server of url for messages: scheme, host, port and path, without
 * user:password@ (a credential in a URL is a secret too) */
static char *servername(const char *url)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	size_t hl = strcspn(host, "/?#");
	const char *at = memchr(host, '@', hl);
	return at ? xasprintf("%.*s%s", (int)(host - url), url, at + 1) : xstrdup(url);
}

static void finishcall(struct callstate *cs, char *error)
{
	cs->lim->active--;
	unlink_call(cs);
	/* name the server: with several providers, which one failed matters */
	if (error && !cs->r.interrupted) {
		char *srv = servername(cs->url);
		char *e = xasprintf("%s: %s", srv, error);
		free(srv);
		free(error);
		error = e;
	}
	/* every declared key, this call's among them, out of what is kept */
	cs->r.error = redact(error);
	cs->r.attempts = cs->attempts;
	bufadds(&cs->transcript, "");
	cs->r.transcript = redact(bufdetach(&cs->transcript));
	cs->r.response = redact(cs->r.response);
	cs->r.text = redact(cs->r.text);
	cs->r.request = redact(cs->r.request);
	cs->r.model = redact(cs->r.model);
	struct modelresult r = cs->r;
	modeldone done = cs->done;
	void *arg = cs->arg;
	free(cs->url);
	free(cs->body);
	free(cs->key);
	for (int i = 0; i < 4; i++)
		free(cs->headers[i]);
	free(cs);
	done(arg, &r);
}

static void attempt(struct callstate *cs);

static void retrylater(void *arg)
{
	struct callstate *cs = arg;

	cs->timer = 0;
	attempt(cs);
}

static void onresponse(void *arg, struct httpresp *h)
{
	struct callstate *cs = arg;
	int retryable;
	char *why;

	cs->inflight = 0;
	cs->r.seconds = h->seconds;
	if (h->error && !strcmp(h->error, "interrupted")) {
		cs->r.interrupted = 1;
		freehttpresp(h);
		finishcall(cs, xstrdup("interrupted"));
		return;
	}
	free(cs->r.response);
	cs->r.response = h->body;
	h->body = NULL;
	if (h->error) {
		retryable = !h->cut;
		why = xasprintf("%s%s", h->timedout ? "timed out: " : "", h->error);
	} else if (h->status == 200) {
		int ok = parseok(cs, cs->r.response);
		if (ok == 0) {
			bufaddf(&cs->transcript, "attempt %d: 200 in %.3fs\n", cs->attempts, h->seconds);
			if (cs->lim->limit < cs->lim->max)
				cs->lim->limit = fmin(cs->lim->max, cs->lim->limit + 0.1);
			freehttpresp(h);
			finishcall(cs, NULL);
			return;
		}
		retryable = 0;
		why = ok == -2   ? xstrdup("the response holds a NUL character (\\u0000), which would cut the answer short")
		      : ok == -3 ? xstrdup("the response is not valid UTF-8")
		                 : noanswer(cs->r.response, !strcmp(cs->a->provider, "anthropic"));
	} else {
		char *msg = servermessage(cs->r.response);
		why = xasprintf("HTTP %ld: %s", h->status, msg);
		free(msg);
		retryable = h->status == 429 || h->status == 408 || h->status >= 500;
		if (h->status == 429)
			cs->lim->limit = fmax(1, cs->lim->limit * 0.8);
	}
	why = redact(why);
	bufaddf(&cs->transcript, "attempt %d: %s\n", cs->attempts, why);
	if (!retryable || cs->attempts > cs->a->retries) {
		char *e = cs->attempts > 1 ? xasprintf("%s (after %d attempts)", why, cs->attempts) : xstrdup(why);
		free(why);
		freehttpresp(h);
		finishcall(cs, e);
		return;
	}
	/* exponential backoff with jitter, never before Retry-After */
	double delay = fmin(30, 0.5 * pow(2, cs->attempts - 1)) * (0.5 + (double)rand() / RAND_MAX);
	int told = h->retryafter >= 0 && h->retryafter > delay;
	if (told)
		delay = fmin(h->retryafter, 300);
	/* the timeout bounds the whole call: a wait that would outlast it
	 * ends the call now, not when the timeout strikes */
	if (cs->deadline && now() + delay >= cs->deadline) {
		char *e = told ? xasprintf("timed out after %gs: the server asked to wait %gs before retrying (Retry-After); last "
		                           "attempt (%d): %s", cs->timeout, h->retryafter, cs->attempts, why)
		               : xasprintf("timed out after %gs: no time left to retry; last attempt (%d): %s", cs->timeout,
		                           cs->attempts, why);
		bufaddf(&cs->transcript, "  no retry: the next attempt would start after the timeout (%gs)\n", cs->timeout);
		free(why);
		freehttpresp(h);
		finishcall(cs, e);
		return;
	}
	bufaddf(&cs->transcript, "  retrying in %.2fs\n", delay);
	free(why);
	freehttpresp(h);
	cs->timer = looptimer(cs->p->l, now() + delay, retrylater, cs);
}

static void attempt(struct callstate *cs)
{
	double left = cs->deadline ? cs->deadline - now() : 0;

	if (cs->deadline && left < 0.001) {
		finishcall(cs, xasprintf("timed out after %gs (after %d attempts)", cs->timeout, cs->attempts));
		return;
	}
	cs->attempts++;
	cs->inflight = 1;
	if (httppost(cs->p->http, cs->url, cs->headers, cs->body, left, RESPONSE_CAP, onresponse, cs) < 0) {
		cs->inflight = 0;
		finishcall(cs, xstrdup("cannot start an HTTP request"));
	}
}

int modelstart(struct providers *p, const struct modelcall *c, modeldone done, void *arg, char **err)
{
	const char *key = apikey(c->a, err);
	struct callstate *cs;
	int anthropic = !strcmp(c->a->provider, "anthropic");

	if (!key)
		return -1;
	if (!p->http && !(p->http = mkhttp(p->l, (size_t)c->a->max_connections * 2, err)))
		return -1;
	cs = xcalloc(1, sizeof(*cs));
	cs->p = p;
	cs->a = c->a;
	cs->lim = limiter(p, c->a);
	cs->key = xstrdup(key);
	secretadd(c->a->api_key_env, key); /* declared at load already; this makes sure */
	/* the API's path goes before a query (Azure's ?api-version=...) */
	size_t bl = strcspn(c->a->base_url, "?");
	int slash = bl && c->a->base_url[bl - 1] == '/';
	cs->url = xasprintf("%.*s%s%s%s", (int)bl, c->a->base_url, slash ? "" : "/",
	                    anthropic ? "v1/messages" : "chat/completions", c->a->base_url + bl);
	if (anthropic) {
		cs->headers[0] = xasprintf("x-api-key: %s", key);
		cs->headers[1] = xstrdup("anthropic-version: 2023-06-01");
	} else {
		cs->headers[0] = xasprintf("Authorization: Bearer %s", key);
	}
	cs->body = buildrequest(c);
	cs->r.request = xstrdup(cs->body);
	cs->timeout = c->timeout;
	cs->deadline = c->timeout > 0 ? now() + c->timeout : 0;
	cs->done = done;
	cs->arg = arg;
	cs->lim->active++;
	cs->next = p->calls;
	p->calls = cs;
	attempt(cs);
	return 0;
}

void modelabortall(struct providers *p)
{
	/* calls waiting to retry: end them here; in-flight ones through http */
	for (struct callstate *cs = p->calls, *next; cs; cs = next) {
		next = cs->next;
		if (cs->timer) {
			loopcancel(p->l, cs->timer);
			cs->timer = 0;
			cs->r.interrupted = 1;
			finishcall(cs, xstrdup("interrupted"));
			next = p->calls;
		}
	}
	if (p->http)
		httpabortall(p->http);
}

int modelactive(struct providers *p)
{
	int n = 0;

	for (struct callstate *cs = p->calls; cs; cs = cs->next)
		n++;
	return n;
}

void freemodelresult(struct modelresult *r)
{
	free(r->text);
	free(r->error);
	free(r->request);
	free(r->response);
	free(r->transcript);
	free(r->model);
	memset(r, 0, sizeof(*r));
}

void freeproviders(struct providers *p)
{
	if (!p)
		return;
	for (struct limiter *l = p->limiters, *n; l; l = n) {
		n = l->next;
		free(l->name);
		free(l);
	}
	freehttp(p->http);
	free(p);
}
