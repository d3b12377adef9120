/* tests of core/serve: the address spec, the Host check, the connection
 * cap, and a stream whose client stops reading being dropped */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/serve.h"
#include "core/util.h"
#include "test.h"

static void handler(void *arg, struct conn *c, const char *target)
{
	(void)arg;
	if (!strcmp(target, "/events")) {
		servestream(c);
		serveevent(c, "{\"hello\":1}");
	} else {
		servereply(c, 200, "text/plain", "hi\n", 3);
	}
}

static int dial(struct server *s)
{
	const char *u = serverurl(s);
	int port = atoi(strrchr(u, ':') + 1);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* send a request, run the loop until the answer's first bytes came */
static char *ask(struct loop *l, int fd, const char *req)
{
	static char buf[4096];
	ssize_t n = -1;

	if (write(fd, req, strlen(req)) < 0)
		return NULL;
	for (int i = 0; i < 200 && n <= 0; i++) {
		loopstep(l, 0.05);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	}
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

TEST(serve_spec)
{
	struct loop *l = mkloop();
	char *err;
	struct server *s;

	REQUIRE((s = mkserver(l, "", handler, NULL, &err)) != NULL);
	CHECK_HAS(serverurl(s), "http://127.0.0.1:");
	CHECK(serverloopback(s));
	freeserver(s);
	REQUIRE((s = mkserver(l, ":0", handler, NULL, &err)) != NULL);
	CHECK_HAS(serverurl(s), "http://127.0.0.1:"); /* not every interface */
	freeserver(s);
	const char *bad[] = {"127.0.0.1:99999", "127.0.0.1:", "1:2:3", "[::1", "127.0.0.1:8x"};
	for (size_t i = 0; i < LEN(bad); i++) {
		s = mkserver(l, bad[i], handler, NULL, &err);
		if (!CHECK(s == NULL)) {
			freeserver(s);
			continue;
		}
		CHECK_HAS(err, "expected PORT, ADDR, ADDR:PORT");
		free(err);
	}
	freeloop(l);
}

TEST(serve_host_and_cap)
{
	struct loop *l = mkloop();
	char *err, *r;
	struct server *s = mkserver(l, "", handler, NULL, &err);
	int fds[40], n = 0;

	REQUIRE(s != NULL);
	int fd = dial(s);
	r = ask(l, fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	CHECK(r && !strncmp(r, "HTTP/1.1 200", 12));
	close(fd);
	fd = dial(s);
	r = ask(l, fd, "GET / HTTP/1.1\r\nHost: evil.example:80\r\n\r\n");
	CHECK(r && !strncmp(r, "HTTP/1.1 403", 12));
	close(fd);
	/* a HEAD gets no body, refused or not */
	fd = dial(s);
	r = ask(l, fd, "HEAD / HTTP/1.1\r\nHost: evil.example:80\r\n\r\n");
	CHECK(r && !strncmp(r, "HTTP/1.1 403", 12) && !strstr(r, "this server answers"));
	close(fd);
	/* 32 connections that say nothing fill it: the next one is turned away */
	for (; n < 32; n++) {
		fds[n] = dial(s);
		loopstep(l, 0); /* accepted: the listen backlog stays short */
	}
	for (int i = 0; i < 10; i++)
		loopstep(l, 0.01);
	fd = dial(s);
	r = ask(l, fd, "");
	CHECK(r && !strncmp(r, "HTTP/1.1 503", 12));
	close(fd);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	freeserver(s);
	freeloop(l);
}

TEST(serve_drops_a_stream_that_stops_reading)
{
	struct loop *l = mkloop();
	char *err;
	struct server *s = mkserver(l, "", handler, NULL, &err);

	REQUIRE(s != NULL);
	int fd = dial(s), small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	char *r = ask(l, fd, "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
	CHECK(r && strstr(r, "text/event-stream"));
	CHECK_INT(servestreams(s), 1);
	/* 1 MiB events the client never reads: past the cap it is dropped */
	size_t len = 1u << 20;
	char *big = xmalloc(len + 1);
	memset(big, 'x', len);
	big[len] = '\0';
	for (int i = 0; i < 100 && servestreams(s); i++) {
		servebroadcast(s, big);
		loopstep(l, 0);
	}
	CHECK_INT(servestreams(s), 0);
	free(big);
	close(fd);
	freeserver(s);
	freeloop(l);
}
