/* archive: see archive.h for the format. Packing walks the folder depth
 * first in name order, so the same folder always gives the same blob (and
 * the same SHA-256: equal artifacts are stored once on the server). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/archive.h"
#include "core/util.h"

#define ARCHEADER "evalmake-artifacts 1\n"
#define ARCHIVE_MAX ((size_t)1 << 30) /* bytes of one archive */
#define ARCHIVE_DEPTH 64

static int namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int packdir(struct buf *b, const char *dir, const char *rel, int depth, char **err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (!d) {
		*err = xasprintf("cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	if (depth > ARCHIVE_DEPTH) {
		closedir(d);
		*err = xasprintf("%s: folders nested too deep", dir);
		return -1;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		xgrow(&names, &cap, n + 1, sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), namecmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		char *path = pathjoin(dir, names[i]);
		char *sub = rel[0] ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		struct stat st;
		if (lstat(path, &st) < 0) {
			*err = xasprintf("cannot stat %s: %s", path, strerror(errno));
			r = -1;
		} else if (S_ISDIR(st.st_mode)) {
			bufaddf(b, "D %o %zu 0\n", (unsigned)(st.st_mode & 0777), strlen(sub));
			bufadds(b, sub);
			r = packdir(b, path, sub, depth + 1, err);
		} else if (S_ISREG(st.st_mode)) {
			size_t len;
			char *data = readfile(path, &len);
			if (!data) {
				*err = xasprintf("cannot read %s: %s", path, strerror(errno));
				r = -1;
			} else {
				bufaddf(b, "F %o %zu %zu\n", (unsigned)(st.st_mode & 0777), strlen(sub), len);
				bufadds(b, sub);
				if (bufadd(b, data, len) < 0) {
					*err = xasprintf("%s: artifacts larger than %zu bytes", dir, ARCHIVE_MAX);
					r = -1;
				}
				free(data);
			}
		}
		free(path);
		free(sub);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

char *packfolder(const char *dir, size_t *len, char **err)
{
	struct buf b = {0};

	*err = NULL;
	b.max = ARCHIVE_MAX;
	bufadds(&b, ARCHEADER);
	if (packdir(&b, dir, "", 0, err) < 0 || b.truncated) {
		if (!*err)
			*err = xasprintf("%s: artifacts larger than %zu bytes", dir, ARCHIVE_MAX);
		buffree(&b);
		return NULL;
	}
	*len = b.len;
	return bufdetach(&b);
}

int archiveempty(const char *blob, size_t len)
{
	(void)blob;
	return len <= strlen(ARCHEADER);
}

/* a relative path of plain components: no "", ".", ".." or NUL */
static int safepath(const char *p, size_t n)
{
	if (!n || p[0] == '/' || memchr(p, '\0', n))
		return 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && p[j] != '/')
			j++;
		size_t c = j - i;
		if (!c || (c == 1 && p[i] == '.') || (c == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i = j + 1;
		if (j + 1 == n) /* a trailing '/' */
			return 0;
	}
	return 1;
}

int unpackfolder(const char *blob, size_t len, const char *dir, char **err)
{
	const char *p = blob, *end = blob + len;

	*err = NULL;
	if (len < strlen(ARCHEADER) || memcmp(blob, ARCHEADER, strlen(ARCHEADER))) {
		*err = xstrdup("not an artifacts archive");
		return -1;
	}
	p += strlen(ARCHEADER);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char kind;
		unsigned mode;
		size_t plen, dlen;
		int used = 0;
		if (!nl || nl - p > 80) {
			*err = xstrdup("malformed archive entry");
			return -1;
		}
		char line[96];
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (sscanf(line, "%c %o %zu %zu%n", &kind, &mode, &plen, &dlen, &used) != 4 || line[used]
		    || (kind != 'D' && kind != 'F') || (kind == 'D' && dlen) || mode > 0777
		    || plen > (size_t)(end - nl - 1) || dlen > (size_t)(end - nl - 1) - plen) {
			*err = xstrdup("malformed archive entry");
			return -1;
		}
		const char *name = nl + 1, *data = name + plen;
		if (!safepath(name, plen)) {
			*err = xstrdup("an archive entry with an unsafe path");
			return -1;
		}
		char *rel = xstrndup(name, plen);
		char *path = pathjoin(dir, rel);
		int r;
		if (kind == 'D') {
			r = mkdir(path, (mode & 0777) | 0700);
			if (r < 0 && errno == EEXIST)
				r = 0;
		} else {
			/* O_EXCL|O_NOFOLLOW: never through a link, never over a file */
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode & 0777) | 0600);
			r = fd < 0 ? -1 : 0;
			for (size_t off = 0; r == 0 && off < dlen;) {
				ssize_t w = write(fd, data + off, dlen - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0)
					r = -1;
				else
					off += (size_t)w;
			}
			if (fd >= 0 && close(fd) < 0)
				r = -1;
		}
		if (r < 0)
			*err = xasprintf("cannot write %s: %s", path, strerror(errno));
		free(rel);
		free(path);
		if (r < 0)
			return -1;
		p = data + dlen;
	}
	return 0;
}
