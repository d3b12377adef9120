/* http: libcurl multi + our loop. The socket callback maps curl's wishes to
 * loopfd(), the timer callback to looptimer(); both land in
 * lc.multi_socket_action(), after which finished transfers are collected
 * from lc.multi_info_read(). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/http.h"
#include "core/util.h"

struct http {
	struct loop *l;
	CURLM *multi;
	long timer;
	int active;
	struct xfer *xfers;  /* every transfer in flight, for httpabortall */
};

struct xfer {
	struct http *h;
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body;
	double retryafter;
	double start;
	httpdone done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct xfer *next, *prev;
};


/* libcurl is loaded when the first model call is made, not at start: it
 * brings some thirty libraries whose loading would cost every run, and
 * most runs (no-op runs above all) make no call. */
static struct {
	void *lib;
	CURLcode (*global_init)(long);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lc;

static int loadcurl(char **err)
{
	static const char *const names[] = {"curl_global_init", "curl_multi_init", "curl_multi_setopt",
		"curl_multi_add_handle", "curl_multi_remove_handle", "curl_multi_socket_action", "curl_multi_info_read",
		"curl_multi_cleanup", "curl_easy_init", "curl_easy_setopt", "curl_easy_getinfo", "curl_easy_cleanup",
		"curl_easy_strerror", "curl_slist_append", "curl_slist_free_all"};
	void **slots[] = {(void **)&lc.global_init, (void **)&lc.multi_init, (void **)&lc.multi_setopt,
		(void **)&lc.multi_add_handle, (void **)&lc.multi_remove_handle, (void **)&lc.multi_socket_action,
		(void **)&lc.multi_info_read, (void **)&lc.multi_cleanup, (void **)&lc.easy_init, (void **)&lc.easy_setopt,
		(void **)&lc.easy_getinfo, (void **)&lc.easy_cleanup, (void **)&lc.easy_strerror, (void **)&lc.slist_append,
		(void **)&lc.slist_free_all};

	if (lc.lib)
		return 0;
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		*err = xasprintf("cannot load libcurl (libcurl.so.4): %s", dlerror());
		return -1;
	}
	for (size_t i = 0; i < LEN(names); i++) {
		/* POSIX: a data pointer from dlsym may hold a function */
		void *f = dlsym(lib, names[i]);
		if (!f) {
			*err = xasprintf("libcurl.so.4 has no %s", names[i]);
			dlclose(lib);
			return -1;
		}
		memcpy(slots[i], &f, sizeof(f));
	}
	lc.lib = lib;
	lc.global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static void check(struct http *h);

static void onsocket(void *arg, int fd, int revents)
{
	struct http *h = arg;
	int ev = 0, running;

	if (revents & POLLIN)
		ev |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		ev |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLHUP))
		ev |= CURL_CSELECT_ERR;
	lc.multi_socket_action(h->multi, fd, ev, &running);
	check(h);
}

static int socketcb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct http *h = userp;

	(void)e;
	(void)sockp;
	if (what == CURL_POLL_REMOVE)
		loopfd(h->l, fd, 0, NULL, NULL);
	else
		loopfd(h->l, fd, (what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0), onsocket, h);
	return 0;
}

static void ontimer(void *arg)
{
	struct http *h = arg;
	int running;

	h->timer = 0;
	lc.multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check(h);
}

static int timercb(CURLM *m, long ms, void *userp)
{
	struct http *h = userp;

	(void)m;
	if (h->timer)
		loopcancel(h->l, h->timer);
	h->timer = 0;
	if (ms >= 0)
		h->timer = looptimer(h->l, now() + (double)ms / 1000.0, ontimer, h);
	return 0;
}

static size_t onbody(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	if (bufadd(&x->body, p, size * n) < 0)
		return 0; /* past the cap: curl fails the transfer */
	return size * n;
}

/* Retry-After: delay-seconds or an HTTP-date */
static double parseretry(const char *v)
{
	char *end;
	double s = strtod(v, &end);
	struct tm tm;

	while (*end == ' ' || *end == '\r' || *end == '\n')
		end++;
	if (end != v && !*end)
		return s < 0 ? 0 : s;
	memset(&tm, 0, sizeof(tm));
	if (strptime(v, "%a, %d %b %Y %H:%M:%S", &tm)) {
		double d = difftime(timegm(&tm), time(NULL));
		return d < 0 ? 0 : d;
	}
	return -1;
}

static size_t onheader(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
		char *v = xstrndup(p + 12, len - 12);
		x->retryafter = parseretry(trim(v));
		free(v);
	}
	return len;
}

struct http *mkhttp(struct loop *l, size_t maxconns, char **err)
{
	struct http *h;

	*err = NULL;
	if (loadcurl(err) < 0)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->l = l;
	h->multi = lc.multi_init();
	lc.multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socketcb);
	lc.multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	lc.multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timercb);
	lc.multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	lc.multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)(maxconns ? maxconns : 64));
	lc.multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return h;
}

/* hand a prepared transfer to the multi handle */
static int addxfer(struct http *h, struct xfer *x)
{
	if (lc.multi_add_handle(h->multi, x->easy) != CURLM_OK) {
		lc.easy_cleanup(x->easy);
		lc.slist_free_all(x->hdrs);
		buffree(&x->body);
		free(x);
		return -1;
	}
	h->active++;
	x->next = h->xfers;
	if (h->xfers)
		h->xfers->prev = x;
	h->xfers = x;
	return 0;
}

/* what every transfer sets: where its body and headers go, its error
 * text, no signals, the user agent */
static void callbacks(struct xfer *x)
{
	lc.easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, onbody);
	lc.easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	lc.easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, onheader);
	lc.easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	lc.easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	lc.easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	lc.easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	lc.easy_setopt(x->easy, CURLOPT_USERAGENT, "evalmake");
}

int httppost(struct http *h, const char *url, char *const *headers, const char *body, double timeout, size_t cap,
             httpdone done, void *arg)
{
	struct xfer *x = xcalloc(1, sizeof(*x));

	x->h = h;
	x->easy = lc.easy_init();
	if (!x->easy) {
		free(x);
		return -1;
	}
	for (char *const *hd = headers; hd && *hd; hd++)
		x->hdrs = lc.slist_append(x->hdrs, *hd);
	x->hdrs = lc.slist_append(x->hdrs, "Content-Type: application/json");
	x->hdrs = lc.slist_append(x->hdrs, "Expect:");
	x->body.max = cap;
	bufadds(&x->body, "");
	x->retryafter = -1;
	x->done = done;
	x->arg = arg;
	x->start = now();
	lc.easy_setopt(x->easy, CURLOPT_URL, url);
	lc.easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	lc.easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body);
	callbacks(x);
	lc.easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* wait for a connection to multiplex over only where HTTP/2 is likely
	 * (TLS): over plain HTTP it would hold every request behind the first */
	lc.easy_setopt(x->easy, CURLOPT_PIPEWAIT, strncmp(url, "https:", 6) ? 0L : 1L);
	lc.easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	/* at least 1 ms: 0 would mean no timeout at all (the caller's budget
	 * for the whole call may be nearly spent) */
	if (timeout > 0)
		lc.easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout < 0.001 ? 1L : (long)(timeout * 1000));
	lc.easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	return addxfer(h, x);
}

int httpsend(struct http *h, const struct httpreq *q, httpdone done, void *arg)
{
	struct xfer *x = xcalloc(1, sizeof(*x));
	int put = !strcmp(q->method, "PUT");

	x->h = h;
	x->easy = lc.easy_init();
	if (!x->easy) {
		free(x);
		return -1;
	}
	for (char *const *hd = q->headers; hd && *hd; hd++)
		x->hdrs = lc.slist_append(x->hdrs, *hd);
	x->hdrs = lc.slist_append(x->hdrs, "Expect:");
	if (put)
		x->hdrs = lc.slist_append(x->hdrs, "Content-Type: application/octet-stream");
	x->body.max = q->cap;
	bufadds(&x->body, "");
	x->retryafter = -1;
	x->done = done;
	x->arg = arg;
	x->start = now();
	lc.easy_setopt(x->easy, CURLOPT_URL, q->url);
	lc.easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	if (put) {
		/* the body as POST data sent with the PUT method: no read callback */
		lc.easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
		lc.easy_setopt(x->easy, CURLOPT_POSTFIELDS, q->body ? q->body : "");
		lc.easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, "PUT");
	} else if (!strcmp(q->method, "HEAD")) {
		lc.easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
	}
	if (q->userpwd)
		lc.easy_setopt(x->easy, CURLOPT_USERPWD, q->userpwd);
	if (q->sigv4)
		lc.easy_setopt(x->easy, CURLOPT_AWS_SIGV4, q->sigv4);
	if (q->netrc)
		lc.easy_setopt(x->easy, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	callbacks(x);
	lc.easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (q->timeout > 0) {
		long ms = q->timeout < 0.001 ? 1L : (long)(q->timeout * 1000);
		lc.easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, ms);
		lc.easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
	}
	return addxfer(h, x);
}

static void complete(struct http *h, CURL *e, CURLcode code, int aborted)
{
	struct xfer *x;
	struct httpresp r = {0};

	lc.easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	lc.multi_remove_handle(h->multi, e);
	h->active--;
	if (x->prev)
		x->prev->next = x->next;
	else
		h->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (code == CURLE_OK)
		lc.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
	r.cut = x->body.truncated;
	r.timedout = code == CURLE_OPERATION_TIMEDOUT;
	if (aborted)
		r.error = xstrdup("interrupted");
	else if (r.cut)
		r.error = xasprintf("response larger than %zu bytes", x->body.max);
	else if (code != CURLE_OK)
		r.error = xstrdup(x->errbuf[0] ? x->errbuf : lc.easy_strerror(code));
	r.retryafter = x->retryafter;
	r.seconds = now() - x->start;
	r.len = x->body.len;
	r.body = bufdetach(&x->body);
	lc.easy_cleanup(e);
	lc.slist_free_all(x->hdrs);
	httpdone done = x->done;
	void *arg = x->arg;
	free(x);
	done(arg, &r);
}

static void check(struct http *h)
{
	CURLMsg *m;
	int left;

	while ((m = lc.multi_info_read(h->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			complete(h, m->easy_handle, m->data.result, 0);
}

void httpabortall(struct http *h)
{
	while (h->xfers)
		complete(h, h->xfers->easy, CURLE_ABORTED_BY_CALLBACK, 1);
}

int httpactive(struct http *h)
{
	return h->active;
}

void freehttpresp(struct httpresp *r)
{
	free(r->body);
	free(r->error);
	r->body = r->error = NULL;
}

void freehttp(struct http *h)
{
	if (!h)
		return;
	if (h->timer)
		loopcancel(h->l, h->timer);
	lc.multi_cleanup(h->multi);
	free(h);
}
