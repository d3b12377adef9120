/* serve: a tiny HTTP/1.1 server on the one event loop, for `watch
 * --serve`: GET requests answered in one response each (then the
 * connection closes), or kept open as server-sent-event streams. It
 * handles a handful of local browsers, not the Internet: connections are
 * capped, a request's head is capped, and a client that stops reading is
 * dropped once its pending output passes a cap; nothing ever blocks. */
#ifndef SERVE_H
#define SERVE_H

#include <stddef.h>

#include "core/loop.h"

struct server;
struct conn;

/* a GET (or HEAD) of target (the path with its query) on c: the handler
 * answers with servereply or servestream before it returns; for a HEAD,
 * only the headers are sent, and a stream ends after them */
typedef void (*servefn)(void *arg, struct conn *c, const char *target);

/* listen on spec ("", "PORT", "ADDR:PORT", "[ADDR6]:PORT"; no address:
 * 127.0.0.1; no port: a free one). A host name must resolve to a loopback
 * address; a numeric address is taken as given. NULL and *err set on
 * failure (a bad spec, the port in use) */
struct server *mkserver(struct loop *l, const char *spec, servefn fn, void *arg, char **err);
/* the URL the server listens on, e.g. http://127.0.0.1:8123/ */
const char *serverurl(struct server *s);
/* is it bound to a loopback address? */
int serverloopback(struct server *s);
/* answer c with one response (body copied) and close it after sending */
void servereply(struct conn *c, int status, const char *ctype, const char *body, size_t len);
/* make c an event stream (headers sent now); serveevent and
 * servebroadcast write to it until the client goes */
void servestream(struct conn *c);
/* one event ("data: JSON\n\n") to one stream (none to a HEAD's); data
 * holds no newline */
void serveevent(struct conn *c, const char *data);
/* the same event to every stream */
void servebroadcast(struct server *s, const char *data);
/* how many streams are open */
size_t servestreams(struct server *s);
/* close every connection and the listening socket */
void freeserver(struct server *s);

#endif
