/* http: libcurl multi + our loop. The socket callback maps curl's wishes to
 * loopfd(), the timer callback to looptimer(); both land in
 * curl_multi_socket_action(), after which finished transfers are collected
 * from curl_multi_info_read(). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "util.h"

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
	curl_multi_socket_action(h->multi, fd, ev, &running);
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
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
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

struct http *mkhttp(struct loop *l, size_t maxconns)
{
	static int inited;
	struct http *h = xcalloc(1, sizeof(*h));

	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = 1;
	}
	h->l = l;
	h->multi = curl_multi_init();
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socketcb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timercb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)(maxconns ? maxconns : 64));
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return h;
}

int httppost(struct http *h, const char *url, char *const *headers, const char *body, double timeout, size_t cap,
             httpdone done, void *arg)
{
	struct xfer *x = xcalloc(1, sizeof(*x));

	x->h = h;
	x->easy = curl_easy_init();
	if (!x->easy) {
		free(x);
		return -1;
	}
	for (char *const *hd = headers; hd && *hd; hd++)
		x->hdrs = curl_slist_append(x->hdrs, *hd);
	x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	x->body.max = cap;
	bufadds(&x->body, "");
	x->retryafter = -1;
	x->done = done;
	x->arg = arg;
	x->start = now();
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, onbody);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, onheader);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "evalmake");
	curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (timeout > 0)
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->hdrs);
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

static void complete(struct http *h, CURL *e, CURLcode code, int aborted)
{
	struct xfer *x;
	struct httpresp r = {0};

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	curl_multi_remove_handle(h->multi, e);
	h->active--;
	if (x->prev)
		x->prev->next = x->next;
	else
		h->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (code == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
	r.cut = x->body.truncated;
	r.timedout = code == CURLE_OPERATION_TIMEDOUT;
	if (aborted)
		r.error = xstrdup("interrupted");
	else if (r.cut)
		r.error = xasprintf("response larger than %zu bytes", x->body.max);
	else if (code != CURLE_OK)
		r.error = xstrdup(x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
	r.retryafter = x->retryafter;
	r.seconds = now() - x->start;
	r.len = x->body.len;
	r.body = bufdetach(&x->body);
	curl_easy_cleanup(e);
	curl_slist_free_all(x->hdrs);
	httpdone done = x->done;
	void *arg = x->arg;
	free(x);
	done(arg, &r);
}

static void check(struct http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)))
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
	curl_multi_cleanup(h->multi);
	free(h);
}
