/* remote: see remote.h for the layout and the promises. Workload: one
 * batch of lookups before a run (up to hundreds of thousands of cells, most
 * of them misses on a fresh branch, hits on a fresh clone), then a trickle
 * of uploads as cells finish. Each request is a small state machine driven
 * by callbacks from the loop; a FIFO queue holds what waits for one of the
 * REMOTE_INFLIGHT slots, so a batch never opens more connections than that
 * and libcurl reuses them from one request to the next.
 *
 * The first fault puts the remote down for the rest of the run: one
 * warning, and every request queued or asked for later ends at once as a
 * fault, so a dead server costs one timeout, not one per cell. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <nettle/sha2.h>

#include "core/http.h"
#include "core/secret.h"
#include "core/util.h"
#include "store/remote.h"

#define RECORD_CAP ((size_t)64 << 10)   /* bytes of an action record */
#define BLOB_CAP ((size_t)2 << 30)      /* bytes of a blob we accept */
/* fetched entries are stored in batches (store.h storebatch), one
 * transaction and one fsync each instead of one per entry: a batch is
 * committed when this many entries, or bytes, are held, or when no
 * fetch is left waiting for the network */
#define BATCH_ENTRIES 1024
#define BATCH_BYTES ((size_t)64 << 20)

struct req;
/* a request's end: resp is NULL when it was never sent (the remote is
 * down); fault says the response was a fault (already reported) */
typedef void (*reqfn)(struct req *q, struct httpresp *resp, int fault);

struct req {
	struct remote *r;
	const char *method;
	char *path;             /* "ac/HEX" or "cas/HEX" */
	char *body;             /* a PUT's, owned */
	size_t len, cap;
	reqfn fn;
	void *arg;
	char *hdrs[3];
	char *url;
	struct req *next;
};

struct remote {
	struct store *s;
	struct loop *l;
	struct http *h;
	char *base;             /* what ac/ and cas/ go under */
	char *shown;            /* the URL for messages, credentials redacted */
	int s3;
	char *sigv4, *userpwd;  /* S3 */
	char *session;          /* S3: "x-amz-security-token: ..." */
	char *bearer;           /* HTTP: "Authorization: Bearer ..." */
	char *setup;            /* why no request can be made (credentials missing) */
	int upload, required;
	double timeout;
	int down;               /* a fault happened: no more requests */
	int quiet;              /* abandoning the last uploads: no more warnings */
	int failed;             /* a fault on a required remote */
	long badblobs;
	struct req *head, *tail;
	int inflight;
	int pending;            /* operations (get or put) not finished */
	size_t queued;          /* bytes of upload bodies held in requests */
	long dropped;           /* uploads left out: the queue was full */
	size_t queuemax;        /* UPLOAD_QUEUE_MAX, or EVALMAKE_UPLOAD_QUEUE */
	int gets;               /* run fetches not finished */
	int batching;           /* the store holds fetched entries (storebatch) */
	struct getrun **held;   /* fetches whose entries the batch holds: they
	                         * end when it commits */
	size_t nheld, capheld;
};

/* uploads held in memory at most (bodies queued or in flight): past it a
 * finished cell is not uploaded (a slow server must not grow the run) */
#define UPLOAD_QUEUE_MAX ((size_t)256 << 20)

static void sha256hex(const void *p, size_t n, char out[65])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* the action record's name for a run or grade key */
static char *acpath(const char *kind, hash key)
{
	char hx[33], id[65];
	char *name;

	hashhex(key, hx);
	name = xasprintf("evalmake-remote 1 %s %s", kind, hx);
	sha256hex(name, strlen(name), id);
	free(name);
	return xasprintf("ac/%s", id);
}

/* the URL with "user:password@" replaced by "***@" */
static char *hideuser(const char *url)
{
	struct buf b = {0};
	const char *p = url, *h;

	/* every user:password@ of the URL: its own, and an S3 endpoint='s */
	while ((h = strstr(p, "://"))) {
		h += 3;
		const char *end = h + strcspn(h, "/?#&");
		const char *at = memrchr(h, '@', (size_t)(end - h));
		bufadd(&b, p, (size_t)(h - p));
		if (at)
			bufadds(&b, "***");
		p = at ? at : h;
	}
	bufadds(&b, p);
	return bufdetach(&b);
}

/* the passwords in the URL's user:password@ parts (its own, and an S3
 * endpoint's) are secrets: an agent that prints its environment
 * (EVALMAKE_REMOTE) must not put one in the cache, a report or the
 * remote itself; as given and percent-decoded */
static void secretpasswords(const char *url)
{
	for (const char *p = url, *h; (h = strstr(p, "://")); p = h) {
		h += 3;
		const char *end = h + strcspn(h, "/?#&");
		const char *at = memrchr(h, '@', (size_t)(end - h));
		const char *colon = at ? memchr(h, ':', (size_t)(at - h)) : NULL;
		if (!colon || colon + 1 == at)
			continue;
		char *pw = xstrndup(colon + 1, (size_t)(at - colon - 1)), *dec = xstrdup(pw), *o = dec;
		for (const char *q = pw; *q; q++) {
			unsigned v;
			if (*q == '%' && q[1] && q[2] && sscanf(q + 1, "%2x", &v) == 1) {
				*o++ = (char)v;
				q += 2;
			} else {
				*o++ = *q;
			}
		}
		*o = '\0';
		secretadd("the remote's URL", pw);
		if (strcmp(dec, pw))
			secretadd("the remote's URL", dec);
		free(pw);
		free(dec);
	}
}

static void trimslash(char *s)
{
	size_t n = strlen(s);
	while (n && s[n - 1] == '/')
		s[--n] = '\0';
}

/* s3://BUCKET/PREFIX?region=R&endpoint=E: path-style under an endpoint
 * (MinIO, s3rver, R2), else AWS's virtual-hosted style */
static void s3setup(struct remote *r, const char *url)
{
	const char *b = url + 5, *q = strchr(url, '?');
	size_t blen = strcspn(b, "/?");
	char *bucket = xstrndup(b, blen);
	const char *pstart = b + blen + (b[blen] == '/');
	char *prefix = xstrndup(pstart, q ? (size_t)(q - pstart) : strlen(pstart));
	char *region = NULL, *endpoint = NULL;

	trimslash(prefix);
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		size_t n = strcspn(p, "&");
		if (!strncmp(p, "region=", 7))
			region = xstrndup(p + 7, n - 7);
		else if (!strncmp(p, "endpoint=", 9))
			endpoint = xstrndup(p + 9, n - 9);
		p += n + (p[n] == '&');
	}
	if (!region)
		region = xstrdup(getenv("AWS_REGION") && *getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1");
	if (endpoint) {
		trimslash(endpoint);
		r->base = xasprintf("%s/%s%s%s", endpoint, bucket, *prefix ? "/" : "", prefix);
	} else {
		r->base = xasprintf("https://%s.s3.%s.amazonaws.com%s%s", bucket, region, *prefix ? "/" : "", prefix);
	}
	r->sigv4 = xasprintf("aws:amz:%s:s3", region);
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	if (id && *id && secret && *secret)
		r->userpwd = xasprintf("%s:%s", id, secret);
	else
		r->setup = xstrdup("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
	if (token && *token)
		r->session = xasprintf("x-amz-security-token: %s", token);
	secretenv("AWS_SECRET_ACCESS_KEY");
	secretenv("AWS_SESSION_TOKEN");
	free(bucket);
	free(prefix);
	free(region);
	free(endpoint);
}

struct remote *mkremote(const struct remoteopts *o, struct store *s, struct loop *l)
{
	struct remote *r = xcalloc(1, sizeof(*r));

	r->s = s;
	r->l = l;
	r->upload = o->upload;
	r->required = o->required;
	r->timeout = o->timeout > 0 ? o->timeout : 10;
	r->shown = hideuser(o->url);
	secretpasswords(o->url);
	const char *qm = getenv("EVALMAKE_UPLOAD_QUEUE");
	char *end;
	unsigned long long v = qm && *qm ? strtoull(qm, &end, 10) : 0;
	r->queuemax = qm && *qm && !*end ? (size_t)v : UPLOAD_QUEUE_MAX;
	if (!strncasecmp(o->url, "s3://", 5)) {
		r->s3 = 1;
		s3setup(r, o->url);
	} else {
		r->base = xstrdup(o->url);
		trimslash(r->base);
	}
	if (o->token_env) {
		const char *t = getenv(o->token_env);
		secretenv(o->token_env);
		if (t && *t)
			r->bearer = xasprintf("Authorization: Bearer %s", t);
		else
			r->setup = xasprintf("token_env %s is not set", o->token_env);
	}
	return r;
}

const char *remotename(const struct remote *r)
{
	return r->shown;
}

int remoteuploads(const struct remote *r)
{
	return r && r->upload;
}

int remotefailed(const struct remote *r)
{
	return r && r->failed;
}

/* the first fault: say so once, and leave the remote alone from now on */
static void fault(struct remote *r, const char *why)
{
	if (r->down)
		return;
	r->down = 1;
	if (r->quiet)
		return;
	if (r->required) {
		r->failed = 1;
		fprintf(stderr, "evalmake: remote cache %s: %s (remote: required)\n", r->shown, why);
	} else {
		fprintf(stderr, "evalmake: warning: remote cache %s: %s; going on without it\n", r->shown, why);
	}
}

/* a blob or record that does not hold what it should: ignored, the cell
 * runs here; said once per run (and counted) */
static void badblob(struct remote *r, const char *path, const char *why)
{
	if (r->badblobs++ || r->quiet)
		return;
	fprintf(stderr, "evalmake: warning: remote cache %s: %s %s; not used, the cell runs here\n", r->shown, path, why);
}

static void pump(struct remote *r);

static void freereq(struct req *q)
{
	if (q->body)
		q->r->queued -= q->len;
	free(q->path);
	free(q->body);
	free(q->url);
	for (size_t i = 0; i < LEN(q->hdrs); i++)
		free(q->hdrs[i]);
	free(q);
}

/* "HTTP 403 (SignatureDoesNotMatch)": S3 names its errors in the body */
static char *statuswhy(const struct httpresp *h)
{
	const char *c = h->body ? strstr(h->body, "<Code>") : NULL;
	const char *e = c ? strstr(c, "</Code>") : NULL;
	if (c && e && e - c < 80)
		return xasprintf("HTTP %ld (%.*s)", h->status, (int)(e - c - 6), c + 6);
	return xasprintf("HTTP %ld", h->status);
}

static void onresp(void *arg, struct httpresp *h)
{
	struct req *q = arg;
	struct remote *r = q->r;
	int isfault = 1;
	char *why = NULL;

	r->inflight--;
	if (h->cut)
		isfault = 0; /* a blob larger than its record says: bad, not a fault */
	else if (h->timedout)
		why = xasprintf("no answer within %gs", r->timeout);
	else if (h->error)
		why = xasprintf("cannot reach it: %s", h->error);
	else if (h->status == 401 || h->status == 403) {
		char *s = statuswhy(h);
		why = xasprintf("%s %s: refused, check the credentials", s, q->method);
		free(s);
	} else if ((h->status >= 200 && h->status < 300) || h->status == 404)
		isfault = 0;
	else {
		char *s = statuswhy(h);
		why = xasprintf("%s to %s %s", s, q->method, q->path);
		free(s);
	}
	if (why)
		fault(r, why);
	free(why);
	q->fn(q, h, isfault);
	freehttpresp(h);
	freereq(q);
	pump(r);
}

static void send1(struct remote *r, struct req *q)
{
	char *err = NULL;
	size_t nh = 0;

	if (!r->h && !(r->h = mkhttp(r->l, REMOTE_INFLIGHT, &err))) {
		fault(r, err);
		free(err);
		q->fn(q, NULL, 1);
		freereq(q);
		return;
	}
	q->url = xasprintf("%s/%s", r->base, q->path);
	if (r->s3) {
		char hx[65];
		sha256hex(q->body ? q->body : "", q->len, hx);
		q->hdrs[nh++] = xasprintf("x-amz-content-sha256: %s", hx);
		if (r->session)
			q->hdrs[nh++] = xstrdup(r->session);
	} else if (r->bearer) {
		q->hdrs[nh++] = xstrdup(r->bearer);
	}
	struct httpreq hq = {.method = q->method, .url = q->url, .headers = q->hdrs, .body = q->body, .len = q->len,
	                     .userpwd = r->userpwd, .sigv4 = r->sigv4, .netrc = !r->s3, .timeout = r->timeout,
	                     .cap = q->cap};
	if (httpsend(r->h, &hq, onresp, q) < 0) {
		fault(r, "cannot start a request");
		q->fn(q, NULL, 1);
		freereq(q);
		return;
	}
	r->inflight++;
}

/* start what the in-flight bound allows; with the remote down, end what
 * waits */
static void pump(struct remote *r)
{
	struct req *q;

	if (r->setup && !r->down)
		fault(r, r->setup);
	while ((q = r->head) && (r->down || r->inflight < REMOTE_INFLIGHT)) {
		r->head = q->next;
		if (!r->head)
			r->tail = NULL;
		if (r->down) {
			q->fn(q, NULL, 1);
			freereq(q);
		} else {
			send1(r, q);
		}
	}
}

static void enqueue(struct remote *r, const char *method, char *path, char *body, size_t len, size_t cap, reqfn fn,
                    void *arg)
{
	struct req *q = xcalloc(1, sizeof(*q));

	q->r = r;
	q->method = method;
	q->path = path;
	q->body = body;
	q->len = len;
	if (body)
		r->queued += len;
	q->cap = cap;
	q->fn = fn;
	q->arg = arg;
	if (r->tail)
		r->tail->next = q;
	else
		r->head = q;
	r->tail = q;
	pump(r);
}

/* a blob named in a record: {"sha256": HEX, "size": N} */
struct blobref {
	char sha[65];
	size_t size;
	char *data;             /* once fetched and checked */
	size_t len;
	int state;              /* 0 waiting, 1 good, -1 bad, -2 fault */
};

static int parseref(const cJSON *o, struct blobref *b)
{
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(o, "sha256");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");

	if (!cJSON_IsString(sha) || strlen(sha->valuestring) != 64 || strspn(sha->valuestring, "0123456789abcdef") != 64
	    || !cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble >= (double)BLOB_CAP)
		return -1;
	memcpy(b->sha, sha->valuestring, 65);
	b->size = (size_t)size->valuedouble;
	return 0;
}

static cJSON *mkref(const char *data, size_t len, char sha[65])
{
	cJSON *o = cJSON_CreateObject();

	sha256hex(data, len, sha);
	cJSON_AddStringToObject(o, "sha256", sha);
	cJSON_AddNumberToObject(o, "size", (double)len);
	return o;
}

/* a blob arrived: keep it only when it is what its record names */
static void checkblob(struct req *q, struct httpresp *h, int isfault, struct blobref *b)
{
	char hx[65];

	if (!h || isfault) {
		b->state = -2;
		return;
	}
	if (h->status == 404) {
		badblob(q->r, q->path, "is named by a record but missing");
		b->state = -1;
		return;
	}
	if (h->cut || h->len != b->size) {
		badblob(q->r, q->path, "has the wrong size (truncated?)");
		b->state = -1;
		return;
	}
	sha256hex(h->body, h->len, hx);
	if (strcmp(hx, b->sha)) {
		badblob(q->r, q->path, "does not match its SHA-256");
		b->state = -1;
		return;
	}
	b->data = h->body;
	b->len = h->len;
	h->body = NULL;
	b->state = 1;
}

/* ---- fetching a run ---- */

struct getrun {
	struct remote *r;
	hash key;
	int look;
	remotedone done;
	void *arg;
	struct blobref entry, art;
	int hasart, waiting;
	char *path;
};

static void getrunend(struct getrun *g, int status)
{
	g->r->pending--;
	g->r->gets--;
	g->done(g->arg, status);
	free(g->entry.data);
	free(g->art.data);
	free(g->path);
	free(g);
}

/* commit the batch and end the fetches it held: hits, unless the commit
 * failed (then what is not stored is a fault: the cell runs here) */
static void settle(struct remote *r)
{
	struct getrun **v = r->held;
	size_t n = r->nheld;

	if (!r->batching)
		return;
	r->held = NULL;
	r->nheld = r->capheld = 0;
	int ok = storecommitbatch(r->s) == 0;
	for (size_t i = 0; i < n; i++)
		getrunend(v[i], ok || findrun(r->s, v[i]->key) ? REMOTE_HIT : REMOTE_FAULT);
	free(v);
}

static void onrunblob(struct req *q, struct httpresp *h, int isfault)
{
	struct getrun *g = q->arg;

	checkblob(q, h, isfault, !strcmp(q->path + 4, g->entry.sha) && g->entry.state == 0 ? &g->entry : &g->art);
	if (--g->waiting)
		return;
	if (g->entry.state == -2 || (g->hasart && g->art.state == -2)) {
		getrunend(g, REMOTE_FAULT);
		return;
	}
	if (g->entry.state != 1 || (g->hasart && g->art.state != 1)) {
		getrunend(g, REMOTE_FAULT);
		return;
	}
	char *err = NULL;
	struct remote *r = g->r;
	if (!r->batching) {
		storebatch(r->s, 1);
		r->batching = 1;
	}
	if (unpackrun(r->s, g->key, g->entry.data, g->entry.len, g->hasart ? g->art.data : NULL, g->art.len, &err) < 0) {
		badblob(r, g->path, err);
		free(err);
		getrunend(g, REMOTE_FAULT);
		return;
	}
	/* a hit once its batch is committed (an entry stored as a folder is
	 * there already, and ends with the batch too) */
	free(g->entry.data);
	free(g->art.data);
	g->entry.data = g->art.data = NULL;
	xgrow(&r->held, &r->capheld, r->nheld + 1, sizeof(*r->held));
	r->held[r->nheld++] = g;
	size_t bytes;
	if (storebatched(r->s, &bytes) >= BATCH_ENTRIES || bytes >= BATCH_BYTES)
		settle(r);
}

static void onrunrecord(struct req *q, struct httpresp *h, int isfault)
{
	struct getrun *g = q->arg;

	if (!h || isfault) {
		getrunend(g, REMOTE_FAULT);
		return;
	}
	if (h->status == 404) {
		getrunend(g, REMOTE_MISS);
		return;
	}
	if (g->look) {
		getrunend(g, REMOTE_HIT);
		return;
	}
	cJSON *m = h->cut ? NULL : cJSON_Parse(h->body);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
	const cJSON *art = cJSON_GetObjectItemCaseSensitive(m, "artifacts");
	int ok = cJSON_IsString(kind) && !strcmp(kind->valuestring, "run")
	         && parseref(cJSON_GetObjectItemCaseSensitive(m, "entry"), &g->entry) == 0
	         && (!art || cJSON_IsNull(art) || parseref(art, &g->art) == 0);
	g->hasart = art && !cJSON_IsNull(art);
	cJSON_Delete(m);
	if (!ok) {
		badblob(g->r, q->path, "is not an action record of evalmake's");
		getrunend(g, REMOTE_FAULT);
		return;
	}
	g->waiting = 1 + g->hasart;
	struct remote *r = g->r;
	enqueue(r, "GET", xasprintf("cas/%s", g->entry.sha), NULL, 0, g->entry.size + 1, onrunblob, g);
	if (g->hasart)
		enqueue(r, "GET", xasprintf("cas/%s", g->art.sha), NULL, 0, g->art.size + 1, onrunblob, g);
}

void remotegetrun(struct remote *r, hash key, int look, remotedone done, void *arg)
{
	struct getrun *g = xcalloc(1, sizeof(*g));

	g->r = r;
	g->key = key;
	g->look = look;
	g->done = done;
	g->arg = arg;
	g->path = acpath("run", key);
	r->pending++;
	r->gets++;
	enqueue(r, look ? "HEAD" : "GET", xstrdup(g->path), NULL, 0, RECORD_CAP, onrunrecord, g);
}

/* ---- fetching a grade ---- */

struct getgrade {
	struct remote *r;
	hash key;
	remotedone done;
	void *arg;
	double score;
	char *reason;
	struct blobref log;
};

static void getgradeend(struct getgrade *g, int status)
{
	if (status == REMOTE_HIT) {
		int rc = g->log.data ? commitgradelog(g->r->s, g->key, g->score, g->reason, g->log.data)
		                     : commitgrade(g->r->s, g->key, g->score, g->reason, 1);
		if (rc < 0)
			status = REMOTE_FAULT;
	}
	g->r->pending--;
	g->done(g->arg, status);
	free(g->reason);
	free(g->log.data);
	free(g);
}

static void ongradelog(struct req *q, struct httpresp *h, int isfault)
{
	struct getgrade *g = q->arg;

	checkblob(q, h, isfault, &g->log);
	if (g->log.state == 1 && memchr(g->log.data, '\0', g->log.len)) {
		badblob(q->r, q->path, "is not a grader's log");
		g->log.state = -1;
	}
	getgradeend(g, g->log.state == 1 ? REMOTE_HIT : REMOTE_FAULT);
}

static void ongraderecord(struct req *q, struct httpresp *h, int isfault)
{
	struct getgrade *g = q->arg;

	if (!h || isfault) {
		getgradeend(g, REMOTE_FAULT);
		return;
	}
	if (h->status == 404) {
		getgradeend(g, REMOTE_MISS);
		return;
	}
	cJSON *m = h->cut ? NULL : cJSON_Parse(h->body);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
	const cJSON *score = cJSON_GetObjectItemCaseSensitive(m, "score");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(m, "reason");
	const cJSON *log = cJSON_GetObjectItemCaseSensitive(m, "log");
	int ok = cJSON_IsString(kind) && !strcmp(kind->valuestring, "grade") && cJSON_IsNumber(score)
	         && score->valuedouble >= 0 && score->valuedouble <= 1 && cJSON_IsString(reason)
	         && !strpbrk(reason->valuestring, "\r\n") && (!log || parseref(log, &g->log) == 0);
	if (ok) {
		g->score = score->valuedouble;
		g->reason = xstrdup(reason->valuestring);
	}
	cJSON_Delete(m);
	if (!ok) {
		badblob(g->r, q->path, "is not an action record of evalmake's");
		getgradeend(g, REMOTE_FAULT);
		return;
	}
	if (!log) {
		getgradeend(g, REMOTE_HIT);
		return;
	}
	enqueue(g->r, "GET", xasprintf("cas/%s", g->log.sha), NULL, 0, g->log.size + 1, ongradelog, g);
}

void remotegetgrade(struct remote *r, hash key, remotedone done, void *arg)
{
	struct getgrade *g = xcalloc(1, sizeof(*g));

	g->r = r;
	g->key = key;
	g->done = done;
	g->arg = arg;
	r->pending++;
	enqueue(r, "GET", acpath("grade", key), NULL, 0, RECORD_CAP, ongraderecord, g);
}

/* ---- uploading ---- */

struct put {
	struct remote *r;
	char *acpath, *record;
	int waiting, failed;
};

static void onputrecord(struct req *q, struct httpresp *h, int isfault)
{
	struct put *p = q->arg;

	(void)h;
	(void)isfault;
	p->r->pending--;
	free(p);
}

static void onputblob(struct req *q, struct httpresp *h, int isfault)
{
	struct put *p = q->arg;

	if (!h || isfault || h->status == 404)
		p->failed = 1;
	if (--p->waiting)
		return;
	/* the record only once every blob it names is there */
	if (!p->failed) {
		enqueue(p->r, "PUT", p->acpath, p->record, strlen(p->record), RECORD_CAP, onputrecord, p);
		return;
	}
	p->r->pending--;
	free(p->acpath);
	free(p->record);
	free(p);
}

/* send blobs (owned, freed) then the record naming them */
static void putall(struct remote *r, char *acp, cJSON *rec, char **blobs, size_t *lens, const char **shas, size_t n)
{
	struct put *p = xcalloc(1, sizeof(*p));

	p->r = r;
	p->acpath = acp;
	p->record = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	r->pending++;
	if (!n) {
		enqueue(r, "PUT", p->acpath, p->record, strlen(p->record), RECORD_CAP, onputrecord, p);
		return;
	}
	p->waiting = (int)n;
	for (size_t i = 0; i < n; i++)
		enqueue(r, "PUT", xasprintf("cas/%s", shas[i]), blobs[i], lens[i], RECORD_CAP, onputblob, p);
}

void remoteputrun(struct remote *r, hash key)
{
	size_t len, alen;
	char *art, *blob, esha[65], asha[65];

	if (!r || !r->upload || r->down)
		return;
	if (!(blob = packrun(r->s, key, &len, &art, &alen)))
		return;
	if (r->queued + len + alen > r->queuemax) {
		if (!r->dropped++ && !r->quiet)
			fprintf(stderr, "evalmake: warning: remote cache %s: uploads wait for a slow server: %zu MiB queued, "
			                "leaving out what finishes meanwhile\n", r->shown, r->queued >> 20);
		free(blob);
		free(art);
		return;
	}
	const struct runrec *rr = findrun(r->s, key);
	char hx[33];
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddNumberToObject(rec, "evalmake_remote", 1);
	cJSON_AddStringToObject(rec, "kind", "run");
	cJSON_AddItemToObject(rec, "entry", mkref(blob, len, esha));
	if (art)
		cJSON_AddItemToObject(rec, "artifacts", mkref(art, alen, asha));
	if (rr) {
		cJSON *run = cJSON_AddObjectToObject(rec, "run");
		hashhex(rr->out, hx);
		cJSON_AddStringToObject(run, "output_hash", hx);
		cJSON_AddNumberToObject(run, "exit", rr->exitcode);
		cJSON_AddNumberToObject(run, "seconds", rr->seconds);
	}
	char *blobs[2] = {blob, art};
	size_t lens[2] = {len, alen};
	const char *shas[2] = {esha, asha};
	putall(r, acpath("run", key), rec, blobs, lens, shas, art ? 2 : 1);
}

void remoteputgrade(struct remote *r, hash key)
{
	char lsha[65];

	if (!r || !r->upload || r->down)
		return;
	const struct graderec *g = findgrade(r->s, key, 1);
	if (!g)
		return;
	char *log = gradelog(r->s, key);
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddNumberToObject(rec, "evalmake_remote", 1);
	cJSON_AddStringToObject(rec, "kind", "grade");
	cJSON_AddNumberToObject(rec, "score", g->score);
	cJSON_AddStringToObject(rec, "reason", g->reason ? g->reason : "");
	size_t len = log ? strlen(log) : 0;
	if (log)
		cJSON_AddItemToObject(rec, "log", mkref(log, len, lsha));
	char *blobs[1] = {log};
	size_t lens[1] = {len};
	const char *shas[1] = {lsha};
	putall(r, acpath("grade", key), rec, blobs, lens, shas, log ? 1 : 0);
}

void remotewait(struct remote *r)
{
	while (r && r->pending > 0 && !loopinterrupted(r->l)) {
		/* every fetch left is held by the batch: nothing else will come */
		if (r->nheld && (r->nheld == (size_t)r->gets || r->inflight == 0)) {
			settle(r);
			continue;
		}
		loopstep(r->l, -1);
	}
	if (r && r->batching) {
		settle(r);
		storebatch(r->s, 0);
		r->batching = 0;
	}
	if (r && r->pending > 0) {
		/* interrupted: what is in flight or queued ends now, its
		 * callbacks called while their callers still wait for them
		 * (fetchcells' count lives on its stack) */
		r->quiet = 1;
		r->down = 1;
		if (r->h)
			httpabortall(r->h);
		pump(r);
	}
}

void remoteflush(struct remote *r)
{
	if (!r)
		return;
	settle(r);
	double end = now() + r->timeout;
	while (r->pending > 0 && !loopinterrupted(r->l) && now() < end)
		loopstep(r->l, end - now());
	if (r->pending > 0 && r->h) {
		if (!r->down && !loopinterrupted(r->l))
			fprintf(stderr, "evalmake: warning: remote cache %s: uploads unfinished after %gs; left undone\n",
			        r->shown, r->timeout);
		r->quiet = 1;
		r->down = 1;
		httpabortall(r->h);
	}
}

void freeremote(struct remote *r)
{
	if (!r)
		return;
	if (r->badblobs > 1 && !r->quiet)
		fprintf(stderr, "evalmake: warning: remote cache %s: %ld bad blobs or records in all; not used\n", r->shown,
		        r->badblobs);
	settle(r);
	if (r->batching)
		storebatch(r->s, 0);
	r->quiet = 1;
	r->down = 1;
	if (r->h)
		httpabortall(r->h);
	pump(r);
	freehttp(r->h);
	free(r->held);
	free(r->base);
	free(r->shown);
	free(r->sigv4);
	free(r->userpwd);
	free(r->session);
	free(r->bearer);
	free(r->setup);
	free(r);
}
