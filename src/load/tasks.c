/* tasks: listing and loading tasks. See tasks.h for the formats. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load/tasks.h"
#include "load/dataset.h"
#include "core/seen.h"
#include "core/util.h"

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* every regular file under dir, relative to it, sorted; -1 and *bad (a
 * message) at a file that is not regular (a FIFO would block its reader,
 * a link to /dev/zero never end) */
static int walk(const char *dir, const char *rel, struct strv *out, char **bad)
{
	char *path = rel[0] ? pathjoin(dir, rel) : xstrdup(dir);
	DIR *d = opendirseen(path);
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
		int rc = stat(full, &st);
		seenstat(full, 1, rc, &st);
		if (rc == 0 && !*bad) {
			if (S_ISDIR(st.st_mode))
				walk(dir, sub, out, bad);
			else if (S_ISREG(st.st_mode))
				strvadd(out, sub);
			else
				*bad = xasprintf("%s: is %s, not a regular file", full, filekind(st.st_mode));
		}
		free(full);
		free(sub);
	}
	closedir(d);
	free(path);
	if (*bad)
		return -1;
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

/* the top-level field a suite's mapping names as the expected answer, when
 * it is not one of the default answer fields (which are always hidden), or
 * NULL: the agent must not see it either. A dotted path hides its whole
 * first field. In a static buffer, valid until the next call. */
static const char *answerkey(const struct fieldmap *m)
{
	static char key[256];

	if (!m || !m->expected)
		return NULL;
	size_t n = strcspn(m->expected, ".");
	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	memcpy(key, m->expected, n);
	key[n] = '\0';
	for (size_t i = 0; i < LEN(expectedkeys); i++)
		if (!strcmp(key, expectedkeys[i]))
			return NULL;
	return key;
}

/* is rel (relative to a task folder) one of its expected answers? */
static int answerfile(const char *rel)
{
	return !strncmp(rel, "expected", 8) && !strchr(rel, '/');
}

/* the text of a JSON object without its answer fields, printed unformatted
 * (what EVAL_TASK_JSON shows); NULL when text is not a JSON object.
 * *had: it had an answer field */
static char *withoutanswers(const char *text, size_t len, const char *xkey, int *had)
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
		if (xkey && cJSON_GetObjectItemCaseSensitive(o, xkey)) {
			cJSON_DeleteItemFromObjectCaseSensitive(o, xkey);
			*had = 1;
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
static hash jsonview(const char *text, size_t len, const char *xkey)
{
	int had;
	char *v = withoutanswers(text, len, xkey, &had);
	hash h = v && had ? hashbytes(v, strlen(v)) : hashbytes(text, len);

	free(v);
	return h;
}

/* jsonview of the file at path whose content hash is full, kept with the
 * file's stat data so that a no-op run reads nothing (a memo line per
 * task would grow the state that every run reads); -1 and *err when
 * unreadable or changed since it was hashed */
static int jsonfileview(struct state *st, const char *path, hash full, const char *xkey, hash *view, char **err)
{
	/* the kept view hides the default answer fields; a suite mapping
	 * another field as the answer computes its own (reading the file) */
	if (!xkey && derivedget(st, path, full, view) == 0)
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
	*view = jsonview(text, len, xkey);
	free(text);
	if (!xkey)
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

	char *bad = NULL;
	if (walk(path, "", &files, &bad) < 0) {
		*err = bad ? bad : xasprintf("%s: cannot read directory: %s", path, filewhy(errno));
		strvfree(&files);
		return -1;
	}
	dirhashstart(&d);
	for (size_t i = 0; i < files.n; i++) {
		char *full = pathjoin(path, files.v[i]);
		hash fh, seen;
		if (filehash(st, full, &fh) < 0) {
			*err = xasprintf("%s: cannot read: %s", full, filewhy(errno));
			free(full);
			hashend(&d.full);
			hashend(&d.view);
			strvfree(&files);
			return -1;
		}
		seen = fh;
		if (!strcmp(files.v[i], "task.json") && jsonfileview(st, full, fh, NULL, &seen, err) < 0) {
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
static int scanview(const char *p, size_t n, const char *xkey, hash *out)
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
		if (xkey && !answer)
			answer = ke - ks - 2 == strlen(xkey) && !memcmp(p + ks + 1, xkey, ke - ks - 2);
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

/* Validation. What cannot be right is refused when a task is read, naming
 * FILE:LINE and the field, rather than turning up later as a cut string,
 * a lock file that does not read back or an invalid report. */

/* s shown in an error message: quoted, control bytes and invalid UTF-8
 * escaped, long values cut */
static char *shown(const char *s)
{
	struct buf b = {0};
	size_t n = strlen(s);
	const unsigned char *u = (const unsigned char *)s;

	bufaddc(&b, '\'');
	for (size_t i = 0; i < n && b.len < 80;) {
		uint32_t cp;
		size_t k = utf8dec(u + i, n - i, &cp);
		if ((k == 1 && u[i] >= 0x80) || u[i] < 0x20 || u[i] == 0x7f)
			bufaddf(&b, "\\x%02x", u[i]);
		else
			bufadd(&b, u + i, k);
		i += k;
	}
	bufadds(&b, b.len >= 80 ? "...'" : "'");
	return bufdetach(&b);
}

/* why id cannot name a cell (SUITE/TASK#K, a line of the lock, a line of
 * the cache's index), or NULL when it can */
static const char *badid(const char *id)
{
	size_t n = strlen(id);

	if (!n)
		return "is empty";
	if (!utf8valid(id, n))
		return "is not valid UTF-8";
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "holds a control character (a line break, a tab)";
		if (*p == '#')
			return "holds '#', which ends the task's part of a cell's name (SUITE/TASK#K)";
	}
	return NULL;
}

/* the line of text where "key": first appears (1 when not found): a
 * .json task's field is named by the line it is on */
static int keyline(const char *text, size_t n, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text, *end = text + n; (p = memmem(p, (size_t)(end - p), key, kl)); p += kl) {
		if (p == text || p[-1] != '"' || p + kl >= end || p[kl] != '"')
			continue;
		const char *q = p + kl + 1;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q < end && *q == ':') {
			int line = 1;
			for (const char *c = text; c < p; c++)
				line += *c == '\n';
			return line;
		}
	}
	return 1;
}

/* the first key that appears twice in one object, anywhere in v */
static const char *dupkey(const cJSON *v)
{
	for (const cJSON *a = v ? v->child : NULL; a; a = a->next) {
		if (cJSON_IsObject(v))
			for (const cJSON *b = a->next; b; b = b->next)
				if (a->string && b->string && !strcmp(a->string, b->string))
					return a->string;
		const char *d = dupkey(a);
		if (d)
			return d;
	}
	return NULL;
}

static int isanswer(const cJSON *v)
{
	return cJSON_IsString(v) || (cJSON_IsNumber(v) && isfinite(v->valuedouble));
}

/* why a field of a task object is wrong (its name in *field), or NULL */
static const char *badfield(const cJSON *o, const char **field)
{
	const cJSON *v;

	*field = "id";
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "id")) && !cJSON_IsNull(v)) {
		if (cJSON_IsNumber(v)) {
			double d = v->valuedouble;
			if (!(d == floor(d) && fabs(d) <= 9007199254740992.0))
				return "expected a non-empty string or an integer, got a number that is not an integer";
		} else if (cJSON_IsString(v) && !v->valuestring[0]) {
			return "expected a non-empty string or an integer, got an empty string";
		} else if (!cJSON_IsString(v)) {
			return cJSON_IsBool(v) ? "expected a non-empty string or an integer, got a boolean"
			       : cJSON_IsArray(v) ? "expected a non-empty string or an integer, got a list"
			                          : "expected a non-empty string or an integer, got an object";
		}
	}
	*field = "input";
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "input")) && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		if (!cJSON_IsArray(v))
			return "expected a string or a list of chat messages {role, content}";
		const cJSON *m;
		cJSON_ArrayForEach(m, v) {
			if (!cJSON_IsObject(m) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "role"))
			    || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "content")))
				return "expected a string or a list of chat messages {role, content} (both strings)";
		}
	}
	for (size_t i = 0; i < LEN(expectedkeys); i++) {
		*field = expectedkeys[i];
		if (!(v = cJSON_GetObjectItemCaseSensitive(o, expectedkeys[i])))
			continue;
		if (cJSON_IsNull(v) || isanswer(v))
			return NULL;
		if (!cJSON_IsArray(v))
			return cJSON_IsNumber(v) ? "expected a string, a finite number or a list of them, got a number out of range"
			                         : "expected a string, a number or a list of them";
		const cJSON *e;
		cJSON_ArrayForEach(e, v) {
			if (!isanswer(e))
				return "expected a string, a number or a list of them (a list of strings and finite numbers)";
		}
		return NULL;
	}
	return NULL;
}

/* check a task object o parsed from the n bytes of text; at is "FILE:LINE"
 * of a .jsonl line, or NULL for a whole file (then path names it, and the
 * line is the field's) */
static int checkfields(const cJSON *o, const char *text, size_t n, const char *path, int line, char **err)
{
	const char *field, *why;

	if (jsonnul(text, n)) {
		if (!line) {
			const char *at = memmem(text, n, "\\u0000", 6);
			line = 1;
			for (const char *c = text; at && c < at; c++)
				line += *c == '\n';
		}
		*err = xasprintf("%s:%d: a string holds \\u0000 (a NUL character), which would cut it short", path, line);
		return -1;
	}
	if ((why = dupkey(o))) {
		*err = xasprintf("%s:%d: key '%s' appears twice in one object", path, line ? line : keyline(text, n, why), why);
		return -1;
	}
	if ((why = badfield(o, &field))) {
		*err = xasprintf("%s:%d: field '%s': %s", path, line ? line : keyline(text, n, field), field, why);
		return -1;
	}
	return 0;
}

/* the tasks of a file of many (load/dataset.c reads every format): a task
 * per record, its id from the suite's mapping, else its position */
static int datasettasks(struct tasklist *tl, const struct suite *s, const char *path, char **err)
{
	struct recordlist rl = {0};
	const char *ext = NULL;
	for (const char *q = path; (q = strstr(q, ".jsonl")); q++)
		ext = q;
	int jsonl = ext && (!ext[6] || !strcmp(ext + 6, ".gz") || !strcmp(ext + 6, ".zst"));

	if (readdataset(path, &s->fields.columns, &rl, err) < 0) {
		freerecords(&rl);
		return -1;
	}
	for (size_t i = 0; i < rl.n; i++) {
		struct record *r = &rl.v[i];
		cJSON *o = cJSON_ParseWithLength(r->text, r->len);
		/* .jsonl keeps its line numbers as ids; other files number their rows */
		char *id;
		int posid = 0;
		if (rl.whole) { /* one object in a .json.gz: named by the file, x.json.gz is x */
			id = basename_of(path, 1);
			if (strrchr(id, '.'))
				*strrchr(id, '.') = '\0';
		} else if ((id = mappedid(&s->fields, o, "")) && !id[0]) {
			free(id);
			id = xasprintf("%d", jsonl ? r->line : r->ordinal);
			posid = 1;
		}
		if (checkfields(o, r->text, r->len, path, r->line, err) < 0) {
			cJSON_Delete(o);
			free(id);
			freerecords(&rl);
			return -1;
		}
		cJSON_Delete(o);
		if (!id) {
			*err = xasprintf("%s:%d: no id field '%s' (the suite's fields.id)", path, r->line, s->fields.id);
			freerecords(&rl);
			return -1;
		}
		struct task *t = addtask(tl);
		t->kind = TASK_JSONL;
		t->path = xstrdup(path);
		t->line = rl.whole ? 0 : r->line;
		t->id = id;
		t->posid = posid;
		t->text = r->text;
		t->full = hashbytes(r->text, r->len);
		if (scanview(r->text, r->len, answerkey(&s->fields), &t->content) < 0)
			t->content = jsonview(r->text, r->len, answerkey(&s->fields));
		r->text = NULL;
	}
	freerecords(&rl);
	return 0;
}

/* is the .json file with content hash h an array of tasks? Memoized, so a
 * no-op run reads no .json task */
static int jsonarray(struct state *st, const char *path, hash h, char **err)
{
	struct hasher hr;
	hash key, val[2];
	size_t len;

	hashstart(&hr, "json-array-v1");
	hashaddhash(&hr, h);
	key = hashend(&hr);
	if (memoget(st, key, val) == 0)
		return val[0].low64 == 2;
	char *text = readdata(path, &len, err);
	if (!text)
		return -1;
	const char *p = text;
	if (!strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3; /* a byte order mark */
	while (*p && strchr(" \t\r\n", *p))
		p++;
	val[0] = (hash){*p == '[' ? 2 : 1, 0};
	val[1] = (hash){0, 0};
	free(text);
	memoput(st, key, val);
	return val[0].low64 == 2;
}

/* a file's name without its folder and its suffixes: data/law.csv.gz is law */
static char *stem(const char *path)
{
	char *b = basename_of(path, 0);
	static const char *const sfx[] = {".gz", ".zst", ".jsonl", ".json", ".csv", ".tsv", NULL};

	for (int i = 0; sfx[i]; i++) {
		size_t n = strlen(b), k = strlen(sfx[i]);
		if (n > k && !strcmp(b + n - k, sfx[i]))
			b[n - k] = '\0';
	}
	return b;
}

/* ids that are line or row numbers repeat from one file to the next: when
 * a suite's tasks come from several such files (one CSV per subject, as
 * MMLU's and many Hugging Face exports are), each of those ids is prefixed
 * with its file's stem, law/3; with one file they stay as they are */
static void prefixpositions(struct tasklist *tl, size_t first)
{
	const char *one = NULL;
	int several = 0;

	for (size_t i = first; i < tl->n && !several; i++) {
		if (!tl->v[i].posid)
			continue;
		if (!one)
			one = tl->v[i].path;
		else if (strcmp(one, tl->v[i].path))
			several = 1;
	}
	if (!several)
		return;
	for (size_t i = first; i < tl->n; i++) {
		struct task *t = &tl->v[i];
		if (!t->posid)
			continue;
		char *st = stem(t->path), *id = xasprintf("%s/%s", st, t->id);
		free(st);
		free(t->id);
		t->id = id;
		t->posid = 0;
	}
}

struct task *keptjsontask(struct tasklist *tl, const struct suite *s, const char *id, const char *path, hash full,
                          hash content)
{
	struct task *t = addtask(tl);

	t->kind = TASK_JSON;
	t->id = xstrdup(id);
	t->path = xstrdup(path);
	t->full = full;
	t->content = content;
	t->map = &s->fields;
	return t;
}

int jsonholdslist(struct state *st, const char *path, hash h, char **err)
{
	return jsonarray(st, path, h, err);
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
				int arr = jsonarray(st, path, h, err);
				if (arr < 0)
					return -1;
				if (arr) {
					if (datasettasks(out, s, path, err) < 0)
						return -1;
					continue;
				}
				if (jsonfileview(st, path, h, answerkey(&s->fields), &v, err) < 0)
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
				*err = xasprintf("%s: cannot read: %s", path, filewhy(errno));
				return -1;
			}
		}
		int rc = stat(path, &sb);
		seenstat(path, 1, rc, &sb);
		if (rc < 0) {
			*err = xasprintf("%s: cannot read: %s", path, filewhy(errno));
			return -1;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (dirtask(out, path, st, err) < 0)
				return -1;
		} else if (isdataset(path)) {
			if (datasettasks(out, s, path, err) < 0)
				return -1;
		} else {
			*err = xasprintf("%s: suite '%s': a task is a directory, a .json, .jsonl, .csv or .tsv file (also .gz or .zst)",
			                 path, s->name);
			return -1;
		}
	}
	for (size_t i = first; i < out->n; i++)
		out->v[i].map = &s->fields;
	prefixpositions(out, first);
	/* ids must be unique within a suite: a cell is named SUITE/TASK#K */
	struct htab *seen = mkhtab(out->n - first);
	for (size_t i = first; i < out->n; i++) {
		struct task *t = &out->v[i];
		const char *why = badid(t->id);
		if (why) {
			char *id = shown(t->id);
			*err = t->line ? xasprintf("%s:%d: task id %s %s", t->path, t->line, id, why)
			               : xasprintf("%s: task id %s (the file's name) %s", t->path, id, why);
			free(id);
			htabfree(seen, NULL);
			return -1;
		}
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

/* "FILE:LINE" of a task, or its path; caller frees */
static char *taskwhere(const struct task *t)
{
	return t->line ? xasprintf("%s:%d", t->path, t->line) : xstrdup(t->path);
}

static int loadfields(struct task *t, cJSON *o, char **err)
{
	const cJSON *in;
	cJSON *exp;
	char *where = taskwhere(t);
	int r = mapfields(t->map, o, where, &in, &exp, err);

	free(where);
	t->fields = o;
	if (r < 0)
		return -1;
	setinput(t, in);
	t->hasinput = in != NULL;
	addexpected(t, exp);
	cJSON_Delete(exp);
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
	char *bad = NULL;
	if (walk(path, "", &files, &bad) < 0) {
		*err = bad ? bad : xasprintf("%s: cannot read directory: %s", path, strerror(errno));
		strvfree(&files);
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
			size_t off = 0;
			if (!text) {
				*err = xasprintf("%s: cannot read: %s", src, strerror(errno));
				ret = -1;
			} else if (hasnul(text, len, &off)) {
				/* {{input}} and task.json's fields would end at it */
				*err = xasprintf("%s:%d: a NUL byte (expected text)", src, lineat(text, off));
				free(text);
				ret = -1;
			} else {
				fh = seen = hashbytes(text, len);
				int had = 0;
				char *view = NULL;
				if (!strcmp(f, "task.json")) {
					view = withoutanswers(text, len, NULL, &had);
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
		size_t eoff = 0;
		fields = parsejson(r.taskjson, strlen(r.taskjson), &eoff);
		if (!cJSON_IsObject(fields)) {
			if (!fields)
				*err = xasprintf("%s/task.json:%d: expected one JSON object (the file is not valid JSON)", t->path,
				                 lineat(r.taskjson, eoff));
			else
				*err = xasprintf("%s/task.json: expected one JSON object", t->path);
			cJSON_Delete(fields);
			goto fail;
		}
		char *where = pathjoin(t->path, "task.json");
		int bad = checkfields(fields, r.taskjson, strlen(r.taskjson), where, 0, err) < 0;
		free(where);
		if (bad) {
			cJSON_Delete(fields);
			goto fail;
		}
	}
	free(r.taskjson);
	r.taskjson = NULL;
	if (!fields)
		fields = cJSON_CreateObject();
	if (loadfields(t, fields, err) < 0)
		goto fail;
	if (r.input) {
		t->hasinput = 1;
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
			*err = xasprintf("%s: cannot read: %s", t->path, filewhy(errno));
			return -1;
		}
		if (text != t->text && !hasheq(hashbytes(text, len), t->full)) {
			*err = xasprintf("%s: changed since its hash was taken; run again", t->path);
			free(text);
			return -1;
		}
		/* a NUL would end the text early: name it, and a syntax error's line */
		size_t off = 0, tl = text == t->text ? strlen(text) : len;
		if (text != t->text && hasnul(text, len, &off)) {
			*err = xasprintf("%s:%d: a NUL byte (expected text)", t->path, lineat(text, off));
			free(text);
			return -1;
		}
		size_t eoff = 0;
		cJSON *o = parsejson(text, tl, &eoff);
		int errline = o ? 0 : lineat(text, eoff);
		if (cJSON_IsObject(o) && checkfields(o, text, strlen(text), t->path, t->line, err) < 0) {
			cJSON_Delete(o);
			if (text != t->text)
				free(text);
			return -1;
		}
		if (text != t->text)
			free(text);
		if (!cJSON_IsObject(o)) {
			if (t->line)
				*err = xasprintf("%s:%d: expected one JSON object per line", t->path, t->line);
			else
			if (errline)
				*err = xasprintf("%s:%d: expected one JSON object (the file is not valid JSON)", t->path, errline);
			else
				*err = xasprintf("%s: expected one JSON object%s", t->path, o ? "" : " (the file is not valid JSON)");
			cJSON_Delete(o);
			return -1;
		}
		if (loadfields(t, o, err) < 0)
			return -1;
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
			*err = xasprintf("%s: cannot read: %s", t->path, filewhy(errno));
			return -1;
		}
		return jsonfileview(st, t->path, t->full, answerkey(t->map), &t->content, err);
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

int checktask(const struct task *t, int needinput, char **err)
{
	const struct fieldmap *m = t->map;

	*err = NULL;
	if (needinput && !t->hasinput) {
		char *where = taskwhere(t);
		*err = xasprintf("%s: task '%s' has no input (field '%s'); name its field with the suite's "
		                 "fields: {input: FIELD}, or give a prompt template that uses other fields",
		                 where, t->id, m && m->input ? m->input : "input");
		free(where);
		return -1;
	}
	if (m && m->needexpected && !t->expected.n) {
		char *where = taskwhere(t);
		if (m->expected)
			*err = xasprintf("%s: task '%s' has no expected answer (field '%s'), which the suite's grader needs",
			                 where, t->id, m->expected);
		else
			*err = xasprintf("%s: task '%s' has no expected answer (field 'expected', 'ideal', 'target' or "
			                 "'answer'), which the suite's grader needs; name its field with fields: {expected: FIELD}",
			                 where, t->id);
		free(where);
		return -1;
	}
	return 0;
}

char *taskjson(const struct task *t, int withanswer)
{
	cJSON *o = t->fields ? cJSON_Duplicate(t->fields, 1) : cJSON_CreateObject();
	const char *xkey = answerkey(t->map);

	for (size_t i = 0; !withanswer && i < LEN(expectedkeys); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, expectedkeys[i]);
	if (!withanswer && xkey)
		cJSON_DeleteItemFromObjectCaseSensitive(o, xkey);
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

/* is v (a string, a number or a list of strings) exactly the answers? */
static int sameanswers(const cJSON *v, const struct strv *ans)
{
	if (cJSON_IsArray(v)) {
		size_t i = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, v) {
			if (!cJSON_IsString(e) || i >= ans->n || strcmp(e->valuestring, ans->v[i]))
				return 0;
			i++;
		}
		return i == ans->n;
	}
	if (ans->n != 1)
		return 0;
	if (cJSON_IsString(v))
		return !strcmp(v->valuestring, ans->v[0]);
	char *p = cJSON_IsNumber(v) ? cJSON_PrintUnformatted(v) : NULL;
	int same = p && !strcmp(p, ans->v[0]);
	cJSON_free(p);
	return same;
}

hash hiddenanswers(const struct task *t)
{
	const char *xkey = answerkey(t->map);
	const cJSON *one = NULL;
	struct hasher h;
	int n = 0;

	hashstart(&h, "hidden");
	for (size_t i = 0; i <= LEN(expectedkeys); i++) {
		const char *k = i < LEN(expectedkeys) ? expectedkeys[i] : xkey;
		const cJSON *v = k ? cJSON_GetObjectItemCaseSensitive(t->fields, k) : NULL;
		if (!v)
			continue;
		char *p = cJSON_PrintUnformatted(v);
		hashaddstr(&h, k);
		hashaddstr(&h, p ? p : "");
		cJSON_free(p);
		one = v;
		n++;
	}
	hash r = hashend(&h);
	if (!n || (n == 1 && !(t->map && t->map->expected_pattern) && sameanswers(one, &t->expected)))
		memset(&r, 0, sizeof(r));
	return r;
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
