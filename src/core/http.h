/* http: HTTP requests through libcurl's multi interface, driven by the one
 * event loop: curl tells us which sockets to watch and when to wake it, and
 * the loop tells curl what happened. Connections are reused across
 * requests (and multiplexed over HTTP/2 where the server offers it).
 * Response bodies are capped; past the cap the transfer fails cleanly. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "core/loop.h"

struct httpresp {
	long status;              /* 0 when no response arrived */
	char *body;               /* NUL-terminated */
	size_t len;
	double retryafter;        /* seconds from a Retry-After header, or -1 */
	char *error;              /* a transport error (no response), or NULL */
	int timedout, cut;        /* timed out; body past the cap */
	double seconds;
};

struct http;
typedef void (*httpdone)(void *arg, struct httpresp *r);

/* NULL and *err when libcurl cannot be loaded */
struct http *mkhttp(struct loop *l, size_t maxconns, char **err);
/* POST body to url with the given headers ("Name: value", NULL-terminated);
 * done is called once from the loop. Returns -1 if it cannot start. */
int httppost(struct http *h, const char *url, char *const *headers, const char *body, double timeout, size_t cap,
             httpdone done, void *arg);
/* any request: GET, HEAD, or PUT of body (len bytes, kept alive by the
 * caller until done is called); an error status is a response, not an
 * error. Credentials: userpwd ("user:password", for SigV4 "key id:secret"),
 * a SigV4 provider string for CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3"),
 * netrc (take them from ~/.netrc when the URL has none). */
struct httpreq {
	const char *method;       /* "GET", "HEAD" or "PUT" */
	const char *url;
	char *const *headers;     /* "Name: value", NULL-terminated, or NULL */
	const char *body;
	size_t len;
	const char *userpwd, *sigv4;
	int netrc;
	double timeout;           /* seconds for the whole request, connecting included */
	size_t cap;               /* bytes of response body kept */
};
int httpsend(struct http *h, const struct httpreq *q, httpdone done, void *arg);
/* abort every transfer; each done is called with error "interrupted" */
void httpabortall(struct http *h);
int httpactive(struct http *h);
void freehttpresp(struct httpresp *r);
void freehttp(struct http *h);

#endif
