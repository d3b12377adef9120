/* tasks: listing and loading tasks. See tasks.h for the formats. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load/tasks.h"
#include "core/util.h"

static const char *const expectedkeys[] = {"expected", "ideal", "target", "answer"};

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* every regular file under dir, relative to it, sorted */
static int walk(const char *dir, const char *rel, struct strv *out)
{
	char *path = rel[0] ? pathjoin(dir, rel) : xstrdup(dir);
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		free(path);
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || editorjunk(e->d_name))
			continue; /* hidden files and editors' droppings are not inputs */
		char *sub = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		char *full = pathjoin(dir, sub);
		struct stat st;
		if (stat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				walk(dir, sub, out);
			else if (S_ISREG(st.st_mode))
				strvadd(out, sub);
		}
		free(full);
		free(sub);
	}
	closedir(d);
	free(path);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmpstr);
	return 0;
}

static struct task *addtask(struct tasklist *tl)
{
	xgrow(&tl->v, &tl->cap, tl->n + 1, sizeof(*tl->v));
	struct task *t = &tl->v[tl->n++];
	memset(t, 0, sizeof(*t));
	return t;
}

/* is rel (relative to a task folder) one of its expected answers? */
static int answerfile(const char *rel)
{
	return !strncmp(rel, "expected", 8) && !strchr(rel, '/');
}

/* the text of a JSON object without its answer fields, printed unformatted
 * (what EVAL_TASK_JSON shows); NULL when text is not a JSON object.
 * *had: it had an answer field */
static char *withoutanswers(const char *text, size_t len, int *had)
{
	cJSON *o = cJSON_ParseWithLength(text, len);
	char *r = NULL;

	*had = 0;
	if (cJSON_IsObject(o)) {
		for (size_t i = 0; i < LEN(expectedkeys); i++) {
			if (cJSON_GetObjectItemCaseSensitive(o, expectedkeys[i])) {
				cJSON_DeleteItemFromObjectCaseSensitive(o, expectedkeys[i]);
				*had = 1;
			}
		}
		char *p = cJSON_PrintUnformatted(o);
		r = xstrdup(p ? p : "{}");
		cJSON_free(p);
	}
	cJSON_Delete(o);
	return r;
}

/* The agent's view of a JSON text: the text itself, or, when it holds an
 * answer field, its print without them (what EVAL_TASK_JSON shows; what a
 * folder's copy of task.json holds). Unparsable text is its own view:
 * loading it fails anyway. One rule for a folder's task.json and a .json
 * task, since both may be one file (a state record keeps one view) */
static hash jsonview(const char *text, size_t len)
{
	int had;
	char *v = withoutanswers(text, len, &had);
	hash h = v && had ? hashbytes(v, strlen(v)) : hashbytes(text, len);

	free(v);
	return h;
}

/* jsonview of the file at path whose content hash is full, kept with the
 * file's stat data so that a no-op run reads nothing (a memo line per
 * task would grow the state that every run reads); -1 and *err when
 * unreadable or changed since it was hashed */
static int jsonfileview(struct state *st, const char *path, hash full, hash *view, char **err)
{
	if (derivedget(st, path, full, view) == 0)
		return 0;
	size_t len;
	char *text = readfile(path, &len);
	if (!text) {
		*err = xasprintf("%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (!hasheq(hashbytes(text, len), full)) {
		*err = xasprintf("%s: changed while it was read; run again", path);
		free(text);
		return -1;
	}
	*view = jsonview(text, len);
	free(text);
	derivedput(st, path, full, *view);
	return 0;
}

/* the two hashes of a folder task: full over every file (the memo of its
 * rendered prompt, loading), view over what the agent sees (the run key) */
struct dirhash {
	struct hasher full, view;
};

static void dirhashstart(struct dirhash *d)
{
	hashstart(&d->full, "taskdir");
	hashstart(&d->view, "taskdirview");
}

/* add a file: its content hash, and its hash as the agent sees it */
static void dirhashadd(struct dirhash *d, const char *rel, hash content, hash seen)
{
	hashaddstr(&d->full, rel);
	hashaddhash(&d->full, content);
	if (answerfile(rel))
		return;
	hashaddstr(&d->view, rel);
	hashaddhash(&d->view, seen);
}

static int dirtask(struct tasklist *tl, const char *path, struct state *st, char **err)
{
	struct strv files = {0};
	struct dirhash d;
	struct task *t;

	if (walk(path, "", &files) < 0) {
		*err = xasprintf("%s: cannot read directory: %s", path, strerror(errno));
		return -1;
	}
	dirhashstart(&d);
	for (size_t i = 0; i < files.n; i++) {
		char *full = pathjoin(path, files.v[i]);
		hash fh, seen;
		if (filehash(st, full, &fh) < 0) {
			*err = xasprintf("%s: cannot read: %s", full, strerror(errno));
			free(full);
			hashend(&d.full);
			hashend(&d.view);
			strvfree(&files);
			return -1;
		}
		seen = fh;
		if (!strcmp(files.v[i], "task.json") && jsonfileview(st, full, fh, &seen, err) < 0) {
			free(full);
			hashend(&d.full);
			hashend(&d.view);
			strvfree(&files);
			return -1;
		}
		dirhashadd(&d, files.v[i], fh, seen);
		free(full);
	}
	strvfree(&files);
	t = addtask(tl);
	t->kind = TASK_DIR;
	t->path = xstrdup(path);
	t->id = basename_of(path, 0);
	t->full = hashend(&d.full);
	t->content = hashend(&d.view);
	return 0;
}

static size_t skipspace(const char *p, size_t i, size_t n)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

/* past the JSON string starting at p[i] (a quote); n when unterminated */
static size_t skipstring(const char *p, size_t i, size_t n)
{
	for (i++; i < n && p[i] != '"'; i++)
		if (p[i] == '\\')
			i++;
	return i < n ? i + 1 : n;
}

/* past the JSON value starting at p[i] (the line parsed already) */
static size_t skipvalue(const char *p, size_t i, size_t n)
{
	int depth = 0;

	while (i < n) {
		char c = p[i];
		if (c == '"') {
			i = skipstring(p, i, n);
		} else if (c == '{' || c == '[') {
			depth++;
			i++;
		} else if (c == '}' || c == ']') {
			if (!depth)
				return i; /* the end of the line's object */
			depth--;
			i++;
		} else if (!depth && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			return i;
		} else {
			i++;
		}
		if (!depth && (c == '"' || c == '}' || c == ']'))
			return i; /* a string or a container just closed */
	}
	return i;
}

/* The view of a .jsonl line (the agent sees its fields but the answer),
 * without printing it again: a hash of each top-level member's key and
 * value as written, but the answer fields'. A hot path: listing does it
 * for every line of every run. -1 for a line it does not handle (a key
 * with an escape, which cJSON would decode): jsonview prints that one */
static int scanview(const char *p, size_t n, hash *out)
{
	struct hasher h;
	size_t i = skipspace(p, 0, n);

	if (i >= n || p[i] != '{')
		return -1;
	hashstart(&h, "jsonlview");
	i = skipspace(p, i + 1, n);
	while (i < n && p[i] != '}') {
		size_t ks = i, ke = skipstring(p, i, n);
		if (p[ks] != '"' || memchr(p + ks, '\\', ke - ks)) {
			hashend(&h);
			return -1;
		}
		i = skipspace(p, ke, n);
		if (i >= n || p[i] != ':') {
			hashend(&h);
			return -1;
		}
		size_t vs = skipspace(p, i + 1, n), ve = skipvalue(p, vs, n);
		int answer = 0;
		for (size_t k = 0; k < LEN(expectedkeys) && !answer; k++)
			answer = ke - ks - 2 == strlen(expectedkeys[k]) && !memcmp(p + ks + 1, expectedkeys[k], ke - ks - 2);
		if (!answer) {
			hashadd(&h, p + ks, ke - ks);
			hashadd(&h, ":", 1);
			hashadd(&h, p + vs, ve - vs);
			hashadd(&h, ",", 1);
		}
		i = skipspace(p, ve, n);
		if (i < n && p[i] == ',')
			i = skipspace(p, i + 1, n);
		else if (i >= n || p[i] != '}') {
			hashend(&h);
			return -1;
		}
	}
	*out = hashend(&h);
	return 0;
}

static char *idof(const cJSON *o, int line)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");

	if (cJSON_IsString(id) && id->valuestring[0])
		return xstrdup(id->valuestring);
	if (cJSON_IsNumber(id))
		return xasprintf("%.17g", id->valuedouble);
	return xasprintf("%d", line);
}

static int jsonltasks(struct tasklist *tl, const char *path, char **err)
{
	size_t len;
	char *text = readfile(path, &len);
	char *p, *end;
	int line = 0;

	if (!text) {
		*err = xasprintf("%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	for (p = text; p < text + len; p = end + 1) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			end = text + len;
		line++;
		size_t n = (size_t)(end - p);
		if (n && p[n - 1] == '\r')
			n--;
		size_t sp = 0;
		while (sp < n && (p[sp] == ' ' || p[sp] == '\t'))
			sp++;
		if (sp == n)
			continue;
		cJSON *o = cJSON_ParseWithLength(p, n);
		if (!o || !cJSON_IsObject(o)) {
			*err = xasprintf("%s:%d: expected one JSON object per line%s", path, line,
			                 o ? "" : " (this line is not valid JSON)");
			cJSON_Delete(o);
			free(text);
			return -1;
		}
		struct task *t = addtask(tl);
		t->kind = TASK_JSONL;
		t->path = xstrdup(path);
		t->line = line;
		t->id = idof(o, line);
		t->text = xstrndup(p, n);
		t->full = hashbytes(p, n);
		if (scanview(p, n, &t->content) < 0)
			t->content = jsonview(p, n);
		cJSON_Delete(o);
	}
	free(text);
	return 0;
}

int listtasks(const struct suite *s, struct state *st, struct tasklist *out, char **err)
{
	size_t first = out->n;

	*err = NULL;
	for (size_t i = 0; i < s->taskpaths.n; i++) {
		const char *path = s->taskpaths.v[i];
		struct stat sb;
		size_t len = strlen(path);

		/* a .json file is the common case at scale: its hash comes from
		 * the stat cache with one stat; only other names need their own */
		if (len > 5 && !strcmp(path + len - 5, ".json")) {
			hash h, v;
			if (filehash(st, path, &h) == 0) {
				if (jsonfileview(st, path, h, &v, err) < 0)
					return -1;
				struct task *t = addtask(out);
				t->kind = TASK_JSON;
				t->path = xstrdup(path);
				t->id = basename_of(path, 1);
				t->full = h;
				t->content = v;
				continue;
			}
			if (errno != EISDIR) {
				*err = xasprintf("%s: cannot read: %s", path, strerror(errno));
				return -1;
			}
		}
		if (stat(path, &sb) < 0) {
			*err = xasprintf("%s: cannot read: %s", path, strerror(errno));
			return -1;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (dirtask(out, path, st, err) < 0)
				return -1;
		} else if (len > 6 && !strcmp(path + len - 6, ".jsonl")) {
			if (jsonltasks(out, path, err) < 0)
				return -1;
		} else {
			*err = xasprintf("%s: suite '%s': a task is a directory, a .json or a .jsonl file", path, s->name);
			return -1;
		}
	}
	/* ids must be unique within a suite: a cell is named SUITE/TASK#K */
	struct htab *seen = mkhtab(out->n - first);
	for (size_t i = first; i < out->n; i++) {
		struct task *t = &out->v[i];
		struct task *o = htabget(seen, t->id, strlen(t->id));
		if (o) {
			char *at = t->line ? xasprintf("%s:%d", t->path, t->line) : xstrdup(t->path);
			char *other = o->line ? xasprintf("%s:%d", o->path, o->line) : xstrdup(o->path);
			*err = xasprintf("%s: suite '%s': duplicate task id '%s' (also %s)", at, s->name, t->id, other);
			free(at);
			free(other);
			htabfree(seen, NULL);
			return -1;
		}
		htabput(seen, t->id, strlen(t->id), t);
	}
	htabfree(seen, NULL);
	return 0;
}

static void addexpected(struct task *t, const cJSON *v)
{
	if (cJSON_IsString(v)) {
		strvadd(&t->expected, v->valuestring);
	} else if (cJSON_IsArray(v)) {
		const cJSON *e;
		cJSON_ArrayForEach(e, v) addexpected(t, e);
	} else if (v && !cJSON_IsNull(v)) {
		char *s = cJSON_PrintUnformatted(v);
		if (s)
			strvadd(&t->expected, s);
		cJSON_free(s);
	}
}

/* input: a string, or a list of {role, content} messages rendered as text */
static void setinput(struct task *t, const cJSON *in)
{
	if (cJSON_IsString(in)) {
		t->input = xstrdup(in->valuestring);
		return;
	}
	if (cJSON_IsArray(in)) {
		struct buf b = {0};
		const cJSON *m;
		int n = cJSON_GetArraySize(in);
		t->messages = cJSON_Duplicate(in, 1);
		cJSON_ArrayForEach(m, in) {
			const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
			const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
			const char *text = cJSON_IsString(content) ? content->valuestring : "";
			if (n == 1)
				bufadds(&b, text);
			else
				bufaddf(&b, "%s%s: %s", b.len ? "\n\n" : "", cJSON_IsString(role) ? role->valuestring : "user", text);
		}
		t->input = bufdetach(&b);
		return;
	}
	if (in && !cJSON_IsNull(in)) {
		char *s = cJSON_PrintUnformatted(in);
		t->input = xstrdup(s ? s : "");
		cJSON_free(s);
	}
}

static int loadfields(struct task *t, cJSON *o)
{
	t->fields = o;
	setinput(t, cJSON_GetObjectItemCaseSensitive(o, "input"));
	for (size_t i = 0; i < LEN(expectedkeys); i++) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, expectedkeys[i]);
		if (e) {
			addexpected(t, e);
			break;
		}
	}
	return 0;
}

/* stream a file into a hash and, when dst is not NULL, a copy with the
 * same permission bits; -1 with errno */
static int copyhash(const char *src, const char *dst, hash *out)
{
	XXH3_state_t *xs = XXH3_createState();
	char buf[65536];
	struct stat sb;
	int in = open(src, O_RDONLY | O_CLOEXEC), o = -1, r = -1, err = 0;
	ssize_t n;

	if (!xs)
		fatal(EXIT_GATE, "out of memory");
	XXH3_128bits_reset(xs);
	if (in < 0 || fstat(in, &sb) < 0)
		goto out;
	if (dst && (o = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, sb.st_mode & 0777)) < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		XXH3_128bits_update(xs, buf, (size_t)n);
		for (ssize_t off = 0; o >= 0 && off < n;) {
			ssize_t w = write(o, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				if (w == 0)
					errno = ENOSPC;
				goto out;
			}
			off += w;
		}
	}
	*out = XXH3_128bits_digest(xs);
	r = 0;
out:
	err = errno;
	if (o >= 0 && close(o) < 0 && r == 0) {
		err = errno;
		r = -1;
	}
	if (in >= 0)
		close(in);
	XXH3_freeState(xs);
	errno = err;
	return r;
}

/* what reading a folder task found */
struct dirread {
	hash full, view;
	char *input, *expected, *taskjson; /* first input*, expected*; task.json */
};

/* read every file of a folder task once, hashing it as dirtask does, and
 * with dest, copy the agent's view of it there (every file but the
 * expected answers; a task.json holding an answer without it); -1 and *err */
static int readdirtask(const char *path, const char *dest, struct dirread *r, char **err)
{
	struct strv files = {0};
	struct dirhash d;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (walk(path, "", &files) < 0) {
		*err = xasprintf("%s: cannot read directory: %s", path, strerror(errno));
		return -1;
	}
	if (dest && mkdirs(dest, 0755) < 0) {
		*err = xasprintf("cannot create %s: %s", dest, strerror(errno));
		strvfree(&files);
		return -1;
	}
	dirhashstart(&d);
	for (size_t i = 0; i < files.n && ret == 0; i++) {
		const char *f = files.v[i];
		char *src = pathjoin(path, f);
		char *dst = dest && !answerfile(f) ? pathjoin(dest, f) : NULL;
		int special = !strchr(f, '/') && (!strcmp(f, "task.json") || (!r->input && !strncmp(f, "input", 5))
		                                  || (!r->expected && answerfile(f)));
		hash fh, seen;
		if (dst && strchr(f, '/')) {
			char *dir = dirname_of(dst);
			mkdirs(dir, 0755);
			free(dir);
		}
		if (!special) {
			if (copyhash(src, dst, &fh) < 0) {
				*err = xasprintf("%s: cannot %s: %s", src, dst ? "copy" : "read", strerror(errno));
				ret = -1;
			}
			seen = fh;
		} else {
			size_t len;
			char *text = readfile(src, &len);
			if (!text) {
				*err = xasprintf("%s: cannot read: %s", src, strerror(errno));
				ret = -1;
			} else {
				fh = seen = hashbytes(text, len);
				int had = 0;
				char *view = NULL;
				if (!strcmp(f, "task.json")) {
					view = withoutanswers(text, len, &had);
					if (had)
						seen = hashbytes(view, strlen(view));
				}
				if (dst && writefile(dst, had ? view : text, had ? strlen(view) : len) < 0) {
					*err = xasprintf("cannot write %s: %s", dst, strerror(errno));
					ret = -1;
				}
				free(view);
				char **keep = !strcmp(f, "task.json") ? &r->taskjson : answerfile(f) ? &r->expected : &r->input;
				free(*keep);
				*keep = text;
			}
		}
		if (ret == 0)
			dirhashadd(&d, f, fh, seen);
		free(src);
		free(dst);
	}
	strvfree(&files);
	r->full = hashend(&d.full);
	r->view = hashend(&d.view);
	if (ret < 0) {
		free(r->input);
		free(r->expected);
		free(r->taskjson);
		memset(r, 0, sizeof(*r));
	}
	return ret;
}

static int loaddir(struct task *t, char **err)
{
	struct dirread r;
	cJSON *fields = NULL;

	if (readdirtask(t->path, NULL, &r, err) < 0)
		return -1;
	/* what is loaded must be what was hashed: the memoized prompt hash and
	 * the keys were computed from that */
	if (!hasheq(r.full, t->full)) {
		*err = xasprintf("%s: changed since its hash was taken; run again", t->path);
		goto fail;
	}
	if (r.taskjson) {
		fields = cJSON_Parse(r.taskjson);
		if (!cJSON_IsObject(fields)) {
			*err = xasprintf("%s/task.json: expected one JSON object", t->path);
			cJSON_Delete(fields);
			goto fail;
		}
	}
	free(r.taskjson);
	if (!fields)
		fields = cJSON_CreateObject();
	loadfields(t, fields);
	if (r.input) {
		free(t->input);
		cJSON_Delete(t->messages);
		t->messages = NULL;
		t->input = r.input;
		cJSON_DeleteItemFromObjectCaseSensitive(fields, "input");
		cJSON_AddStringToObject(fields, "input", r.input);
	}
	if (r.expected) {
		strvfree(&t->expected);
		strvadd(&t->expected, r.expected);
		cJSON_DeleteItemFromObjectCaseSensitive(fields, "expected");
		cJSON_AddStringToObject(fields, "expected", r.expected);
		free(r.expected);
	}
	return 0;
fail:
	free(r.input);
	free(r.expected);
	free(r.taskjson);
	return -1;
}

int loadtask(struct task *t, char **err)
{
	*err = NULL;
	if (t->loaded)
		return 0;
	if (t->kind == TASK_DIR) {
		if (loaddir(t, err) < 0)
			return -1;
	} else {
		size_t len;
		char *text = t->kind == TASK_JSONL ? t->text : readfile(t->path, &len);
		if (!text) {
			*err = xasprintf("%s: cannot read: %s", t->path, strerror(errno));
			return -1;
		}
		if (text != t->text && !hasheq(hashbytes(text, len), t->full)) {
			*err = xasprintf("%s: changed since its hash was taken; run again", t->path);
			free(text);
			return -1;
		}
		cJSON *o = cJSON_Parse(text);
		if (text != t->text)
			free(text);
		if (!cJSON_IsObject(o)) {
			if (t->line)
				*err = xasprintf("%s:%d: expected one JSON object per line", t->path, t->line);
			else
				*err = xasprintf("%s: expected one JSON object%s", t->path, o ? "" : " (the file is not valid JSON)");
			cJSON_Delete(o);
			return -1;
		}
		loadfields(t, o);
	}
	if (!cJSON_GetObjectItemCaseSensitive(t->fields, "id"))
		cJSON_AddStringToObject(t->fields, "id", t->id);
	if (!t->input)
		t->input = xstrdup("");
	t->loaded = 1;
	return 0;
}

static void unload(struct task *t)
{
	free(t->input);
	cJSON_Delete(t->messages);
	strvfree(&t->expected);
	cJSON_Delete(t->fields);
	t->input = NULL;
	t->messages = t->fields = NULL;
	t->loaded = 0;
}

int rehashtask(struct task *t, struct state *st, char **err)
{
	*err = NULL;
	unload(t);
	if (t->kind == TASK_JSON) {
		forgetfile(st, t->path);
		if (filehash(st, t->path, &t->full) < 0) {
			*err = xasprintf("%s: cannot read: %s", t->path, strerror(errno));
			return -1;
		}
		return jsonfileview(st, t->path, t->full, &t->content, err);
	}
	if (t->kind != TASK_DIR) {
		*err = xasprintf("%s: a .jsonl task cannot be rehashed alone", t->path);
		return -1;
	}
	struct tasklist one = {0};
	if (dirtask(&one, t->path, st, err) < 0) {
		freetasks(&one);
		return -1;
	}
	t->content = one.v[0].content;
	t->full = one.v[0].full;
	freetasks(&one);
	return 0;
}

char *taskjson(const struct task *t, int withanswer)
{
	cJSON *o = t->fields ? cJSON_Duplicate(t->fields, 1) : cJSON_CreateObject();

	for (size_t i = 0; !withanswer && i < LEN(expectedkeys); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, expectedkeys[i]);
	char *s = cJSON_PrintUnformatted(o);
	char *r = xstrdup(s ? s : "{}");

	cJSON_free(s);
	cJSON_Delete(o);
	return r;
}

int snapshottask(const struct task *t, const char *dest, char **err)
{
	struct dirread r;

	*err = NULL;
	if (t->kind != TASK_DIR)
		return 0;
	if (readdirtask(t->path, dest, &r, err) < 0)
		return -1;
	free(r.input);
	free(r.expected);
	free(r.taskjson);
	if (!hasheq(r.full, t->full) || !hasheq(r.view, t->content)) {
		*err = xasprintf("%s changed since the cell was planned; not run", t->path);
		return -1;
	}
	return 0;
}

const char *firstexpected(const struct task *t)
{
	return t->expected.n ? t->expected.v[0] : "";
}

void freetasks(struct tasklist *tl)
{
	for (size_t i = 0; i < tl->n; i++) {
		struct task *t = &tl->v[i];
		free(t->id);
		free(t->path);
		free(t->text);
		unload(t);
	}
	free(tl->v);
	memset(tl, 0, sizeof(*tl));
}
