/* live: see live.h. What a page was last sent is kept as each task's JSON
 * text; a push re-renders the report without texts (one pass over the
 * cells, like a --jsonl line) and sends the tasks whose text differs. A
 * page that connected after the last push got the whole report then, so
 * the changes since the last push are a superset of what it misses. A
 * change in the set of suites or tasks (a reload) sends the whole report. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/hash.h"
#include "core/serve.h"
#include "core/util.h"
#include "report/html.h"
#include "report/live.h"

#define PUSHGAP 0.3 /* seconds between two pushes */

struct live {
	struct loop *l;
	struct server *srv;
	struct plan **pp;
	char *evalfile, *cache;
	struct htab *sent;   /* "SUITE\0TASK" -> the task's JSON text last pushed */
	double last;         /* when the last push was */
	long timer;          /* a push waiting for PUSHGAP to pass */
};

static int unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* the value of name in a query string, %-decoded; NULL when absent */
static char *queryget(const char *q, const char *name)
{
	size_t nl = strlen(name);

	while (q && *q) {
		const char *end = q + strcspn(q, "&");
		if ((size_t)(end - q) > nl && !strncmp(q, name, nl) && q[nl] == '=') {
			char *v = xstrndup(q + nl + 1, (size_t)(end - q - nl - 1)), *o = v;
			for (const char *s = v; *s; s++) {
				if (*s == '%' && unhex(s[1]) >= 0 && unhex(s[2]) >= 0) {
					*o++ = (char)(unhex(s[1]) * 16 + unhex(s[2]));
					s += 2;
				} else {
					*o++ = *s == '+' ? ' ' : *s;
				}
			}
			*o = '\0';
			return v;
		}
		q = *end ? end + 1 : NULL;
	}
	return NULL;
}

static void replyjson(struct conn *c, char *json)
{
	servereply(c, 200, "application/json", json, strlen(json));
	free(json);
}

static char *fulldata(struct live *lv)
{
	char *data = htmldata(*lv->pp, lv->evalfile, lv->cache);
	size_t n = strlen(data);

	/* {"full":true, + the report without its opening brace */
	char *s = xasprintf("{\"full\":true,%s", data + (n > 1 && data[0] == '{' ? 1 : 0));
	free(data);
	return s;
}

static void onrequest(void *arg, struct conn *c, const char *target)
{
	struct live *lv = arg;
	char *path = xstrndup(target, strcspn(target, "?"));
	const char *query = strchr(target, '?') ? strchr(target, '?') + 1 : "";

	if (!*lv->pp) {
		servereply(c, 503, "text/plain", "starting\n", 9);
	} else if (!strcmp(path, "/")) {
		char *page = htmlpage(*lv->pp, lv->evalfile, lv->cache);
		servereply(c, 200, "text/html; charset=utf-8", page, strlen(page));
		free(page);
	} else if (!strcmp(path, "/events")) {
		char *data = fulldata(lv);
		servestream(c);
		serveevent(c, data);
		free(data);
	} else if (!strcmp(path, "/cell")) {
		char *id = queryget(query, "id");
		struct cell *cell = id ? findcellid(*lv->pp, id) : NULL;
		if (cell)
			replyjson(c, htmlcell(*lv->pp, cell));
		else
			servereply(c, 404, "text/plain", "no such cell\n", 13);
		free(id);
	} else {
		servereply(c, 404, "text/plain", "not found\n", 10);
	}
	free(path);
}

struct live *mklive(struct loop *l, const char *spec, struct plan **pp, const char *evalfile, const char *cache,
                    char **err)
{
	struct live *lv = xcalloc(1, sizeof(*lv));

	lv->srv = mkserver(l, spec, onrequest, lv, err);
	if (!lv->srv) {
		free(lv);
		return NULL;
	}
	lv->l = l;
	lv->pp = pp;
	lv->evalfile = xstrdup(evalfile);
	lv->cache = xstrdup(cache);
	lv->sent = mkhtab(1024);
	return lv;
}

const char *liveurl(struct live *lv)
{
	return serverurl(lv->srv);
}

int livepublic(struct live *lv)
{
	return !serverloopback(lv->srv);
}

static void ontimer(void *arg)
{
	struct live *lv = arg;

	lv->timer = 0;
	livepush(lv, 1);
}

/* the update to send, or NULL when nothing changed; remembers it as sent */
static char *changes(struct live *lv)
{
	char *data = htmldata(*lv->pp, lv->evalfile, lv->cache);
	cJSON *r = cJSON_Parse(data), *so, *to;
	struct htab *now = mkhtab(htabcount(lv->sent) + 16);
	cJSON *out = cJSON_CreateObject(), *outsuites = cJSON_AddArrayToObject(out, "suites");
	int full = 0, any = 0;

	free(data);
	cJSON_ArrayForEach(so, cJSON_GetObjectItemCaseSensitive(r, "suites")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(so, "name"));
		cJSON *tasks = cJSON_DetachItemFromObjectCaseSensitive(so, "tasks");
		cJSON *changed = cJSON_CreateArray();
		cJSON_ArrayForEach(to, tasks) {
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(to, "id"));
			char *key = xasprintf("%s%c%s", name ? name : "", 0, id ? id : "");
			size_t kl = strlen(key) + 1 + strlen(key + strlen(key) + 1);
			char *text = cJSON_PrintUnformatted(to);
			const char *was = htabget(lv->sent, key, kl);
			if (!was)
				full = 1; /* a new suite or task */
			if (!was || strcmp(was, text))
				cJSON_AddItemReferenceToArray(changed, to);
			htabput(now, key, kl, xstrdup(text));
			cJSON_free(text);
			free(key);
		}
		if (cJSON_GetArraySize(changed)) {
			any = 1;
			cJSON *copy = cJSON_Duplicate(so, 1);
			cJSON_AddItemToObject(copy, "tasks", cJSON_Duplicate(changed, 1));
			cJSON_AddItemToArray(outsuites, copy);
		}
		cJSON_Delete(changed);
		cJSON_AddItemToObject(so, "tasks", tasks);
	}
	if (htabcount(now) != htabcount(lv->sent))
		full = 1; /* a suite or task gone */
	htabfree(lv->sent, free);
	lv->sent = now;
	char *ret = NULL;
	if (full) {
		cJSON_AddTrueToObject(r, "full");
		char *s = cJSON_PrintUnformatted(r);
		ret = xstrdup(s);
		cJSON_free(s);
	} else if (any) {
		char *s = cJSON_PrintUnformatted(out);
		ret = xstrdup(s);
		cJSON_free(s);
	}
	cJSON_Delete(out);
	cJSON_Delete(r);
	return ret;
}

void livepush(struct live *lv, int force)
{
	double t = now();

	if (!*lv->pp || !servestreams(lv->srv))
		return; /* the next page to connect gets the whole report */
	if (!force && t - lv->last < PUSHGAP) {
		if (!lv->timer)
			lv->timer = looptimer(lv->l, lv->last + PUSHGAP, ontimer, lv);
		return;
	}
	if (lv->timer)
		loopcancel(lv->l, lv->timer);
	lv->timer = 0;
	lv->last = t;
	char *u = changes(lv);
	if (u)
		servebroadcast(lv->srv, u);
	free(u);
}

void freelive(struct live *lv)
{
	if (!lv)
		return;
	if (lv->timer)
		loopcancel(lv->l, lv->timer);
	freeserver(lv->srv);
	htabfree(lv->sent, free);
	free(lv->evalfile);
	free(lv->cache);
	free(lv);
}
