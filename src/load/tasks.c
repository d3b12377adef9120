/* tasks: listing and loading tasks. See tasks.h for the formats. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int dirtask(struct tasklist *tl, const char *path, struct state *st, char **err)
{
	struct strv files = {0};
	struct hasher h;
	struct task *t;

	if (walk(path, "", &files) < 0) {
		*err = xasprintf("%s: cannot read directory: %s", path, strerror(errno));
		return -1;
	}
	hashstart(&h, "taskdir");
	for (size_t i = 0; i < files.n; i++) {
		char *full = pathjoin(path, files.v[i]);
		hash fh;
		if (filehash(st, full, &fh) < 0) {
			*err = xasprintf("%s: cannot read: %s", full, strerror(errno));
			free(full);
			hashend(&h);
			strvfree(&files);
			return -1;
		}
		hashaddstr(&h, files.v[i]);
		hashaddhash(&h, fh);
		free(full);
	}
	strvfree(&files);
	t = addtask(tl);
	t->kind = TASK_DIR;
	t->path = xstrdup(path);
	t->id = basename_of(path, 0);
	t->content = hashend(&h);
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
		t->content = hashbytes(p, n);
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
			hash h;
			if (filehash(st, path, &h) == 0) {
				struct task *t = addtask(out);
				t->kind = TASK_JSON;
				t->path = xstrdup(path);
				t->id = basename_of(path, 1);
				t->content = h;
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

static int loaddir(struct task *t, char **err)
{
	struct strv files = {0};
	char *input = NULL, *expected = NULL;
	cJSON *fields = NULL;

	walk(t->path, "", &files);
	for (size_t i = 0; i < files.n; i++) {
		const char *f = files.v[i];
		char *full = pathjoin(t->path, f);
		if (!strcmp(f, "task.json")) {
			char *text = readfile(full, NULL);
			fields = text ? cJSON_Parse(text) : NULL;
			free(text);
			if (!cJSON_IsObject(fields)) {
				*err = xasprintf("%s: expected one JSON object", full);
				cJSON_Delete(fields);
				free(full);
				free(input);
				free(expected);
				strvfree(&files);
				return -1;
			}
		} else if (!input && !strncmp(f, "input", 5) && !strchr(f, '/')) {
			input = readfile(full, NULL);
		} else if (!expected && !strncmp(f, "expected", 8) && !strchr(f, '/')) {
			expected = readfile(full, NULL);
		}
		free(full);
	}
	strvfree(&files);
	if (!fields)
		fields = cJSON_CreateObject();
	loadfields(t, fields);
	if (input) {
		free(t->input);
		cJSON_Delete(t->messages);
		t->messages = NULL;
		t->input = input;
		cJSON_DeleteItemFromObjectCaseSensitive(fields, "input");
		cJSON_AddStringToObject(fields, "input", input);
	}
	if (expected) {
		strvfree(&t->expected);
		strvadd(&t->expected, expected);
		cJSON_DeleteItemFromObjectCaseSensitive(fields, "expected");
		cJSON_AddStringToObject(fields, "expected", expected);
		free(expected);
	}
	return 0;
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
		char *text = t->kind == TASK_JSONL ? t->text : readfile(t->path, NULL);
		if (!text) {
			*err = xasprintf("%s: cannot read: %s", t->path, strerror(errno));
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
		if (filehash(st, t->path, &t->content) < 0) {
			*err = xasprintf("%s: cannot read: %s", t->path, strerror(errno));
			return -1;
		}
		return 0;
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
	freetasks(&one);
	return 0;
}

char *taskjson(const struct task *t, int withanswer)
{
	cJSON *o = t->fields;

	if (o && !withanswer) {
		o = cJSON_Duplicate(t->fields, 1);
		for (size_t i = 0; i < LEN(expectedkeys); i++)
			cJSON_DeleteItemFromObjectCaseSensitive(o, expectedkeys[i]);
	}
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	char *r = xstrdup(s ? s : "{}");

	cJSON_free(s);
	if (o != t->fields)
		cJSON_Delete(o);
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
