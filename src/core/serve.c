/* serve: see serve.h. Why not libmicrohttpd (the tests' model server uses
 * it): in its external-select mode an event stream needs suspended
 * connections, content-reader callbacks and resume calls for every
 * event, and MHD still buffers per connection on its own terms; for two
 * GET endpoints on our own poll() loop, a listening socket and a buffer
 * per connection are less code and keep the one-loop rule plain.
 *
 * A connection reads its request head (at most HEADCAP bytes, within
 * HEADWAIT seconds), is answered, and then either closes once the answer
 * is sent or stays as a stream. Output waits in a per-connection buffer
 * written when the socket is writable; a stream whose unsent output
 * passes STREAMCAP is a client that stopped reading: it is dropped. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/serve.h"
#include "core/util.h"

#define MAXCONN 32               /* browsers and scripts at once */
#define HEADCAP 8192             /* bytes of a request's head */
#define HEADWAIT 10.0            /* seconds to send it */
#define STREAMCAP (64u << 20)    /* unsent bytes a stream may hold */

enum { C_HEAD, C_REPLY, C_STREAM };

struct conn {
	struct server *s;
	int fd, state;
	int headonly; /* a HEAD request: the headers of its GET, no body */
	char head[HEADCAP + 1];
	size_t hlen;
	char *out;
	size_t olen, ooff, ocap;
	long timer;
};

struct server {
	struct loop *l;
	int fd, loopback;
	servefn fn;
	void *arg;
	struct conn *c[MAXCONN];
	size_t nc;
	char url[128];
};

static void dropconn(struct conn *c)
{
	struct server *s = c->s;

	loopfd(s->l, c->fd, 0, NULL, NULL);
	if (c->timer)
		loopcancel(s->l, c->timer);
	close(c->fd);
	for (size_t i = 0; i < s->nc; i++)
		if (s->c[i] == c) {
			s->c[i] = s->c[--s->nc];
			break;
		}
	free(c->out);
	free(c);
}

static void onconn(void *arg, int fd, int revents);

/* wait for what the connection needs next: its request, room to write,
 * or (a stream) the client hanging up */
static void rewatch(struct conn *c)
{
	int ev = c->state == C_REPLY ? 0 : POLLIN;

	if (c->olen > c->ooff)
		ev |= POLLOUT;
	loopfd(c->s->l, c->fd, ev, onconn, c);
}

/* write what the socket takes; -1 when the connection is done with */
static int flush(struct conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		c->ooff += (size_t)n;
	}
	if (c->ooff == c->olen)
		c->ooff = c->olen = 0;
	if (c->state == C_REPLY && !c->olen)
		return -1;
	/* a stream's client that stopped reading */
	if (c->state == C_STREAM && c->olen - c->ooff > STREAMCAP)
		return -1;
	return 0;
}

static void queue(struct conn *c, const char *p, size_t n)
{
	if (c->ooff && c->ooff == c->olen)
		c->ooff = c->olen = 0;
	if (c->ooff > c->ocap / 2) { /* reuse the sent front */
		memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	xgrow(&c->out, &c->ocap, c->olen + n + 1, 1);
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

void servereply(struct conn *c, int status, const char *ctype, const char *body, size_t len)
{
	char *h = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
	                    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
	                    status, reason(status), ctype, len, status == 405 ? "Allow: GET, HEAD\r\n" : "");

	queue(c, h, strlen(h));
	free(h);
	if (!c->headonly)
		queue(c, body, len);
	c->state = C_REPLY;
}

void servestream(struct conn *c)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
	                        "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n";

	queue(c, h, sizeof(h) - 1);
	c->state = c->headonly ? C_REPLY : C_STREAM; /* HEAD: the headers, then close */
}

void serveevent(struct conn *c, const char *data)
{
	if (c->state != C_STREAM)
		return; /* a HEAD request's: no body */
	queue(c, "data: ", 6);
	queue(c, data, strlen(data));
	queue(c, "\n\n", 2);
	rewatch(c); /* written when the socket is writable */
}

void servebroadcast(struct server *s, const char *data)
{
	for (size_t i = s->nc; i-- > 0;) {
		struct conn *c = s->c[i];
		if (c->state != C_STREAM)
			continue;
		serveevent(c, data);
		if (c->olen - c->ooff > STREAMCAP)
			dropconn(c); /* it stopped reading */
	}
}

size_t servestreams(struct server *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nc; i++)
		n += s->c[i]->state == C_STREAM;
	return n;
}

static void headtimeout(void *arg)
{
	struct conn *c = arg;

	c->timer = 0;
	if (c->state == C_HEAD)
		dropconn(c);
}

/* may a page of this Host see a loopback server? Only a page of this
 * machine: a site that points its own name at 127.0.0.1 (DNS rebinding)
 * must not read the transcripts through the browser */
static int hostok(const char *head)
{
	const char *h = head;

	while ((h = strchr(h, '\n'))) {
		h++;
		if (strncasecmp(h, "Host:", 5))
			continue;
		h += 5;
		h += strspn(h, " \t");
		size_t n = strcspn(h, ":\r\n");
		if (*h == '[')
			return !strncmp(h, "[::1]", 5);
		return (n == 9 && !strncasecmp(h, "localhost", 9)) || !strncmp(h, "127.", 4);
	}
	return 0; /* HTTP/1.1 requires it */
}

/* the request head is complete: parse its first line and answer */
static void request(struct conn *c)
{
	char *sp1 = strchr(c->head, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

	loopcancel(c->s->l, c->timer);
	c->timer = 0;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		servereply(c, 400, "text/plain", "bad request\n", 12);
		return;
	}
	*sp1 = *sp2 = '\0';
	c->headonly = !strcmp(c->head, "HEAD"); /* a refusal of it has no body either */
	if (c->s->loopback && !hostok(sp2 + 1)) {
		servereply(c, 403, "text/plain", "this server answers pages of this machine only\n", 47);
		return;
	}
	if (strcmp(c->head, "GET") && !c->headonly) {
		servereply(c, 405, "text/plain", "only GET and HEAD\n", 18);
		return;
	}
	c->s->fn(c->s->arg, c, sp1 + 1);
	if (c->state == C_HEAD) /* the handler forgot: never leave it hanging */
		servereply(c, 404, "text/plain", "not found\n", 10);
}

static void onconn(void *arg, int fd, int revents)
{
	struct conn *c = arg;

	(void)fd;
	if (revents & POLLIN) {
		char tmp[4096];
		char *dst = c->state == C_HEAD ? c->head + c->hlen : tmp;
		size_t room = c->state == C_HEAD ? HEADCAP - c->hlen : sizeof(tmp);
		ssize_t n = room ? recv(c->fd, dst, room, MSG_DONTWAIT) : 0;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			n = -2;
		if (n == 0 && room) { /* the client went */
			dropconn(c);
			return;
		}
		if (n == -1) {
			dropconn(c);
			return;
		}
		if (n > 0 && c->state == C_HEAD) {
			c->hlen += (size_t)n;
			c->head[c->hlen] = '\0';
			if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n"))
				request(c);
			else if (c->hlen == HEADCAP)
				servereply(c, 431, "text/plain", "request too large\n", 18);
		}
	} else if (revents & (POLLHUP | POLLERR)) {
		dropconn(c);
		return;
	}
	if (flush(c) < 0) {
		dropconn(c);
		return;
	}
	rewatch(c);
}

static void onlisten(void *arg, int fd, int revents)
{
	struct server *s = arg;

	(void)revents;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		if (s->nc == MAXCONN) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
			if (send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* it gets a closed connection instead */
			}
			close(cfd);
			continue;
		}
		struct conn *c = xcalloc(1, sizeof(*c));
		c->s = s;
		c->fd = cfd;
		c->state = C_HEAD;
		s->c[s->nc++] = c;
		c->timer = looptimer(s->l, now() + HEADWAIT, headtimeout, c);
		rewatch(c);
	}
}

static int isloopback(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(x);
	}
	return 0;
}

struct server *mkserver(struct loop *l, const char *spec, servefn fn, void *arg, char **err)
{
	char host[256] = "127.0.0.1", port[16] = "0";
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = {0}, *ai = NULL;
	int fd = -1, one = 1, r;

	*err = NULL;
	if (spec[0] == '[') { /* [ADDR6]:PORT */
		const char *end = strchr(spec, ']');
		if (!end || (end[1] && end[1] != ':') || (size_t)(end - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		colon = end[1] ? end + 1 : NULL;
	} else if (colon) {
		if ((size_t)(colon - spec) >= sizeof(host) || memchr(spec, ':', (size_t)(colon - spec)))
			goto bad;
		if (colon > spec) {
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = '\0';
		}
	} else if (spec[0] && strspn(spec, "0123456789") != strlen(spec)) {
		snprintf(host, sizeof(host), "%s", spec); /* ADDR alone */
		colon = NULL;
	} else if (spec[0]) {
		colon = spec - 1; /* PORT alone */
	}
	if (colon) {
		const char *p = colon + 1;
		if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p) || atoi(p) > 65535)
			goto bad;
		snprintf(port, sizeof(port), "%s", p);
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	int numeric = getaddrinfo(host, port, &hints, &ai) == 0;
	if (!numeric) {
		hints.ai_flags = AI_NUMERICSERV;
		if ((r = getaddrinfo(host, port, &hints, &ai)) != 0) {
			*err = xasprintf("--serve %s: cannot resolve %s: %s", spec, host, gai_strerror(r));
			return NULL;
		}
		/* a name is taken only when it means this machine: serving
		 * transcripts beyond it takes a numeric address, given on purpose */
		if (!isloopback(ai->ai_addr)) {
			*err = xasprintf("--serve %s: %s is not a loopback address; the page shows every transcript, "
			                 "so to serve beyond this machine give the numeric address (e.g. 0.0.0.0:%s)",
			                 spec, host, port);
			freeaddrinfo(ai);
			return NULL;
		}
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
	    || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		*err = xasprintf("--serve %s: cannot listen on %s port %s: %s%s", spec, host, port, strerror(errno),
		                 errno == EADDRINUSE ? " (another program uses it: pick another port, or none for a free one)" : "");
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return NULL;
	}
	struct server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char addr[INET6_ADDRSTRLEN] = "?";
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0) {
		int p = 0;
		if (sa.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, addr, sizeof(addr));
			p = ntohs(((struct sockaddr_in *)&sa)->sin_port);
			snprintf(s->url, sizeof(s->url), "http://%s:%d/", addr, p);
		} else {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, addr, sizeof(addr));
			p = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
			snprintf(s->url, sizeof(s->url), "http://[%s]:%d/", addr, p);
		}
	}
	s->loopback = isloopback(ai->ai_addr);
	freeaddrinfo(ai);
	s->l = l;
	s->fd = fd;
	s->fn = fn;
	s->arg = arg;
	loopfd(l, fd, POLLIN, onlisten, s);
	return s;
bad:
	*err = xasprintf("--serve %s: expected PORT, ADDR, ADDR:PORT or [ADDR6]:PORT", spec);
	return NULL;
}

const char *serverurl(struct server *s)
{
	return s->url;
}

int serverloopback(struct server *s)
{
	return s->loopback;
}

void freeserver(struct server *s)
{
	if (!s)
		return;
	while (s->nc)
		dropconn(s->c[0]);
	loopfd(s->l, s->fd, 0, NULL, NULL);
	close(s->fd);
	free(s);
}
