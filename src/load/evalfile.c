/* evalfile: the Evalfile's YAML, read with libyaml's document loader into a
 * small tree that keeps each node's line and column, then checked key by key
 * against the schema below. The first error wins: it is formatted as
 * "FILE:LINE:COL: where: what was expected" and unwinds with longjmp to
 * loadevalfile(), which frees the half-built result.
 *
 * The loader runs in the Evalfile's directory (main changes there first), so
 * globs and paths are plain relative paths. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "load/evalfile.h"
#include "load/dataset.h"
#include "load/glob.h"
#include "core/seen.h"
#include "core/util.h"

enum { YSCALAR, YSEQ, YMAP };

struct ynode {
	int type;
	char *val;            /* scalars */
	int plain;            /* unquoted scalar: may be a number or a bool */
	int line, col;        /* 1-based */
	struct ynode **keys;  /* maps: key scalars, parallel to kids */
	struct ynode **kids;
	size_t n;
};

struct ctx {
	const char *file;
	char *err;
	jmp_buf jb;
	struct ynode **merged;  /* nodes merge() made: freed (shallowly) at the end */
	size_t nmerged, mergedcap;
	const char *cache;      /* the cache folder: never an input */
	struct ignore *ignore;  /* the top-level .gitignore, read at the first deps */
	int ignoreread;
	char *top;              /* the Evalfile's folder, resolved (realpath) */
	int lazy;               /* leave the task globs unexpanded */
};

void strvadd(struct strv *sv, const char *s)
{
	xgrow(&sv->v, &sv->cap, sv->n + 2, sizeof(*sv->v));
	sv->v[sv->n++] = xstrdup(s);
	sv->v[sv->n] = NULL;
}

void strvfree(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

__attribute__((format(printf, 3, 4)))
static _Noreturn void fail(struct ctx *c, const struct ynode *at, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (at)
		bufaddf(&b, "%s:%d:%d: %s", c->file, at->line, at->col, msg ? msg : "error");
	else
		bufaddf(&b, "%s: %s", c->file, msg ? msg : "error");
	free(msg);
	c->err = bufdetach(&b);
	longjmp(c->jb, 1);
}

static void freenode(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		freenode(n->kids[i]);
		if (n->keys)
			freenode(n->keys[i]);
	}
	free(n->kids);
	free(n->keys);
	free(n->val);
	free(n);
}

/* Aliases are references in libyaml's document, but copies in our tree: a
 * few nested anchors (each alias repeated ten times, nine levels: "billion
 * laughs") would expand to 10^9 nodes. `check` reads Evalfiles from pull
 * requests, so the copies are counted and capped, and so is the depth (an
 * anchor may even hold an alias of itself). Legitimate reuse (defaults,
 * `<<: *common` in each suite) stays far below the cap. */
#define MAXALIASED 100000   /* nodes made by expanding aliases, in all */
#define MAXDEPTH 64

struct conv {
	yaml_document_t *doc;
	unsigned char *seen;          /* per document node: converted before */
	size_t aliased;
	const yaml_node_t *alias;     /* the outermost repeat being expanded */
	const yaml_node_t *failat;    /* the node where a cap was reached */
	const char *why;
};

static struct ynode *convert(struct conv *cv, yaml_node_t *yn, int depth);

/* map's value for a scalar key, or NULL */
static struct ynode *lookup(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->type == YSCALAR && !strcmp(map->keys[i]->val, key))
			return map->kids[i];
	return NULL;
}

/* add the pairs of a merge key's value (`<<: *m` or `<<: [*a, *b]`) that
 * n lacks, as YAML 1.1 specifies: n's own keys win, then earlier maps */
static void mergekey(struct conv *cv, struct ynode *n, size_t *cap, yaml_node_t *v, int depth)
{
	yaml_node_item_t *items = NULL, one;
	size_t cnt = 1;

	if (v->type == YAML_SEQUENCE_NODE) {
		items = v->data.sequence.items.start;
		cnt = (size_t)(v->data.sequence.items.top - items);
	} else {
		one = (yaml_node_item_t)(v - cv->doc->nodes.start + 1);
		items = &one;
	}
	for (size_t i = 0; i < cnt && !cv->why; i++) {
		yaml_node_t *m = yaml_document_get_node(cv->doc, items[i]);
		if (m->type != YAML_MAPPING_NODE) {
			cv->failat = m;
			cv->why = "'<<' (a merge key): expected a mapping or a list of mappings";
			return;
		}
		/* converted whole, so that its own merge keys apply too */
		struct ynode *src = convert(cv, m, depth + 1);
		for (size_t j = 0; src->type == YMAP && j < src->n; j++) {
			struct ynode *k = src->keys[j], *kv = src->kids[j];
			if (k->type == YSCALAR && lookup(n, k->val)) {
				freenode(k);
				freenode(kv);
				continue;
			}
			if (n->n == *cap) {
				*cap = *cap * 2 + 4;
				n->kids = xrealloc(n->kids, *cap * sizeof(*n->kids));
				n->keys = xrealloc(n->keys, *cap * sizeof(*n->keys));
			}
			n->keys[n->n] = k;
			n->kids[n->n++] = kv;
		}
		if (src->type == YMAP) /* its pairs were moved or freed */
			src->n = 0;
		freenode(src);
	}
}

static struct ynode *convert(struct conv *cv, yaml_node_t *yn, int depth)
{
	struct ynode *n = xcalloc(1, sizeof(*n));
	size_t idx = (size_t)(yn - cv->doc->nodes.start);
	const yaml_node_t *outer = cv->alias;

	n->line = (int)yn->start_mark.line + 1;
	n->col = (int)yn->start_mark.column + 1;
	if (cv->seen[idx]) {
		if (!cv->alias)
			cv->alias = yn;
		if (++cv->aliased > MAXALIASED && !cv->why) {
			cv->failat = cv->alias;
			cv->why = "aliases of this anchor expand to more than 100000 nodes: expected an Evalfile of "
			          "reasonable size (aliases nested in aliases multiply)";
		}
	}
	cv->seen[idx] = 1;
	if (depth > MAXDEPTH && !cv->why) {
		cv->failat = yn;
		cv->why = "nested more than 64 levels deep (an anchor that holds an alias of itself?)";
	}
	if (cv->why) {
		/* stop building: the caller reports cv->why */
		n->type = YSCALAR;
		n->val = xstrdup("");
		cv->alias = outer;
		return n;
	}
	switch (yn->type) {
	case YAML_SCALAR_NODE:
		n->type = YSCALAR;
		n->val = xstrndup((char *)yn->data.scalar.value, yn->data.scalar.length);
		n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		break;
	case YAML_SEQUENCE_NODE: {
		n->type = YSEQ;
		size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
		n->kids = xcalloc(cnt, sizeof(*n->kids));
		for (size_t i = 0; i < cnt; i++)
			n->kids[n->n++] = convert(cv, yaml_document_get_node(cv->doc, yn->data.sequence.items.start[i]), depth + 1);
		break;
	}
	case YAML_MAPPING_NODE: {
		n->type = YMAP;
		size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start), cap = cnt;
		n->kids = xcalloc(cnt, sizeof(*n->kids));
		n->keys = xcalloc(cnt, sizeof(*n->keys));
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_pair_t *p = &yn->data.mapping.pairs.start[i];
			yaml_node_t *k = yaml_document_get_node(cv->doc, p->key);
			if (k->type == YAML_SCALAR_NODE && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			    k->data.scalar.length == 2 && !memcmp(k->data.scalar.value, "<<", 2))
				continue; /* merged below, once n's own keys are in */
			n->keys[n->n] = convert(cv, k, depth + 1);
			n->kids[n->n++] = convert(cv, yaml_document_get_node(cv->doc, p->value), depth + 1);
		}
		for (size_t i = 0; i < cnt && !cv->why; i++) {
			yaml_node_pair_t *p = &yn->data.mapping.pairs.start[i];
			yaml_node_t *k = yaml_document_get_node(cv->doc, p->key);
			if (k->type == YAML_SCALAR_NODE && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			    k->data.scalar.length == 2 && !memcmp(k->data.scalar.value, "<<", 2))
				mergekey(cv, n, &cap, yaml_document_get_node(cv->doc, p->value), depth);
		}
		break;
	}
	default:
		n->type = YSCALAR;
		n->val = xstrdup("");
		n->plain = 1;
	}
	cv->alias = outer;
	return n;
}

/* where flow brackets ([ and {, outside quotes and comments) nest deeper
 * than limit, or 0. libyaml's scanner takes time quadratic in that depth
 * (100,000 levels: minutes), and the tree may not be deeper than MAXDEPTH
 * anyway, so such a file is refused before libyaml sees it. */
static size_t flowtoodeep(const char *s, size_t n, int limit)
{
	int depth = 0;
	char quote = 0;

	for (size_t i = 0; i < n; i++) {
		if (quote) {
			if (s[i] == '\\' && quote == '"')
				i++;
			else if (s[i] == quote)
				quote = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			quote = s[i];
		} else if (s[i] == '#' && (i == 0 || isspace((unsigned char)s[i - 1]))) {
			while (i < n && s[i] != '\n')
				i++;
		} else if (s[i] == '[' || s[i] == '{') {
			if (++depth > limit)
				return i + 1;
		} else if ((s[i] == ']' || s[i] == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

/* parse the file into a tree; fails through c on a syntax error */
static struct ynode *parse(struct ctx *c, const char *path)
{
	yaml_parser_t p;
	yaml_document_t doc;
	size_t len;
	char *text = readfile(path, &len);
	struct ynode *root = NULL;

	if (!text) {
		char *msg = xasprintf("%s: cannot read: %s", c->file, strerror(errno));
		c->err = msg;
		longjmp(c->jb, 1);
	}
	size_t deep = flowtoodeep(text, len, 2 * MAXDEPTH);
	if (deep) {
		int line = 1, col = 1;
		for (size_t i = 0; i + 1 < deep; i++, col++)
			if (text[i] == '\n')
				line++, col = 0;
		free(text);
		c->err = xasprintf("%s:%d:%d: nested more than %d levels deep", c->file, line, col, MAXDEPTH);
		longjmp(c->jb, 1);
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		struct ynode at = {.line = (int)p.problem_mark.line + 1, .col = (int)p.problem_mark.column + 1};
		char *msg = p.context
			? xasprintf("invalid YAML: %s %s that starts at line %d, column %d", p.problem ? p.problem : "syntax error",
			            p.context, (int)p.context_mark.line + 1, (int)p.context_mark.column + 1)
			: xasprintf("invalid YAML: %s", p.problem ? p.problem : "syntax error");
		yaml_parser_delete(&p);
		free(text);
		struct buf b = {0};
		bufaddf(&b, "%s:%d:%d: %s", c->file, at.line, at.col, msg);
		free(msg);
		c->err = bufdetach(&b);
		longjmp(c->jb, 1);
	}
	yaml_node_t *yr = yaml_document_get_root_node(&doc);
	struct conv cv = {.doc = &doc};
	/* a second document (after ---) would be ignored: refuse it */
	yaml_document_t more;
	if (yr && yaml_parser_load(&p, &more)) {
		yaml_node_t *mr = yaml_document_get_root_node(&more);
		if (mr && mr->type == YAML_SCALAR_NODE && !mr->data.scalar.length)
			mr = NULL; /* a '---' with nothing after it */
		int line = mr ? (int)mr->start_mark.line + 1 : 0;
		yaml_document_delete(&more);
		if (mr) {
			yaml_document_delete(&doc);
			yaml_parser_delete(&p);
			free(text);
			c->err = xasprintf("%s:%d: a second YAML document (after '---'): expected one", c->file, line);
			longjmp(c->jb, 1);
		}
	}
	if (yr) {
		cv.seen = xcalloc((size_t)(doc.nodes.top - doc.nodes.start), 1);
		root = convert(&cv, yr, 0);
		free(cv.seen);
	}
	if (cv.why) {
		struct buf b = {0};
		bufaddf(&b, "%s:%d:%d: %s", c->file, (int)cv.failat->start_mark.line + 1,
		        (int)cv.failat->start_mark.column + 1, cv.why);
		c->err = bufdetach(&b);
		freenode(root);
		yaml_document_delete(&doc);
		yaml_parser_delete(&p);
		free(text);
		longjmp(c->jb, 1);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	free(text);
	return root;
}

static const char *typename(const struct ynode *n)
{
	return n->type == YMAP ? "a mapping" : n->type == YSEQ ? "a list" : "a scalar";
}

static struct ynode *get(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i]->val ? map->keys[i]->val : "", key))
			return map->kids[i];
	return NULL;
}

/* every key of map must be in known; suggests the closest one */
static void checkkeys(struct ctx *c, const struct ynode *map, const char *where, const char *const *known)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->keys[i];
		const char *best = NULL;
		int bestd = 3, found = 0;

		if (k->type != YSCALAR)
			fail(c, k, "%s: expected a key name, got %s", where, typename(k));
		for (const char *const *kn = known; *kn; kn++) {
			if (!strcmp(*kn, k->val)) {
				found = 1;
				break;
			}
			int d = editdist(*kn, k->val);
			if (d < bestd) {
				bestd = d;
				best = *kn;
			}
		}
		if (found)
			continue;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(map->keys[j]->val, k->val))
				fail(c, k, "%s: duplicate key '%s'", where, k->val);
		if (best)
			fail(c, k, "%s: unknown key '%s' (did you mean '%s'?)", where, k->val, best);
		struct buf b = {0};
		for (const char *const *kn = known; *kn; kn++)
			bufaddf(&b, "%s%s", kn == known ? "" : ", ", *kn);
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", b.s);
		buffree(&b);
		fail(c, k, "%s: unknown key '%s' (expected one of: %s)", where, k->val, msg);
	}
	for (size_t i = 0; i < map->n; i++)
		for (size_t j = i + 1; j < map->n; j++)
			if (!strcmp(map->keys[i]->val, map->keys[j]->val))
				fail(c, map->keys[j], "%s: duplicate key '%s'", where, map->keys[j]->val);
}

static const char *str(struct ctx *c, const struct ynode *n, const char *where)
{
	if (n->type != YSCALAR)
		fail(c, n, "%s: expected a string, got %s", where, typename(n));
	/* `command: ~` is YAML's null, not a program named "~" */
	if (n->plain && (!strcmp(n->val, "~") || !strcmp(n->val, "null") || !strcmp(n->val, "Null") || !strcmp(n->val, "NULL")))
		fail(c, n, "%s: expected a string, got null", where);
	if (!n->val[0])
		fail(c, n, "%s: expected a non-empty string", where);
	return n->val;
}

static double num(struct ctx *c, const struct ynode *n, const char *where, double lo, double hi)
{
	char *end;
	double v;

	if (n->type != YSCALAR)
		fail(c, n, "%s: expected a number, got %s", where, typename(n));
	v = strtod(n->val, &end);
	if (end == n->val || *end || v != v)
		fail(c, n, "%s: expected a number, got '%s'", where, n->val);
	if (v < lo || v > hi)
		fail(c, n, "%s: expected a number from %g to %g, got %s", where, lo, hi, n->val);
	return v;
}

static int integer(struct ctx *c, const struct ynode *n, const char *where, long lo, long hi)
{
	char *end;
	long v;

	if (n->type != YSCALAR)
		fail(c, n, "%s: expected an integer, got %s", where, typename(n));
	v = strtol(n->val, &end, 10);
	if (end == n->val || *end)
		fail(c, n, "%s: expected an integer, got '%s'", where, n->val);
	if (v < lo || v > hi)
		fail(c, n, "%s: expected an integer from %ld to %ld, got %s", where, lo, hi, n->val);
	return (int)v;
}

static int boolean(struct ctx *c, const struct ynode *n, const char *where)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "on"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "off"};

	if (n->type == YSCALAR) {
		for (size_t i = 0; i < LEN(yes); i++) {
			if (!strcmp(n->val, yes[i]))
				return 1;
			if (!strcmp(n->val, no[i]))
				return 0;
		}
	}
	fail(c, n, "%s: expected true or false", where);
}

static void needmap(struct ctx *c, const struct ynode *n, const char *where)
{
	if (n->type != YMAP)
		fail(c, n, "%s: expected a mapping, got %s", where, typename(n));
}

static int isfile(const char *path)
{
	struct stat st;
	int rc = stat(path, &st);

	seenstat(path, 1, rc, &st);
	return rc == 0 && S_ISREG(st.st_mode);
}

/* why path is not a file a template can be read from, in words (a
 * static buffer: fail() does not return to free it) */
static const char *notfile(const char *path)
{
	static char why[512];
	struct stat st;

	if (stat(path, &st) < 0)
		snprintf(why, sizeof(why), errno == ENOENT ? "no such file '%s'" : "'%s': cannot read it", path);
	else if (S_ISDIR(st.st_mode))
		snprintf(why, sizeof(why), "'%s' is a directory, not a file", path);
	else
		snprintf(why, sizeof(why), "'%s' is not a regular file (a FIFO or a device)", path);
	return why;
}

/* the globs of n: a string or a non-empty list of them, each kept in pats */
static size_t globlist(struct ctx *c, const struct ynode *n, const char *where, struct strv *pats)
{
	if (n->type == YSEQ) {
		if (!n->n)
			fail(c, n, "%s: expected a glob or a non-empty list of globs", where);
	} else if (n->type != YSCALAR) {
		fail(c, n, "%s: expected a glob or a list of globs, got %s", where, typename(n));
	}
	for (size_t i = 0; i < (n->type == YSEQ ? n->n : 1); i++)
		strvadd(pats, str(c, n->type == YSEQ ? n->kids[i] : n, where));
	return n->type == YSEQ ? n->n : 1;
}

/* expand a suite's task globs (every match is a task; each glob must
 * match); -1 and the index of the glob that matched nothing */
static int expandsuite(struct suite *s, const char *cache, size_t *bad)
{
	struct globskip skip = {.cache = cache};

	for (size_t i = 0; i < s->taskglobs.n; i++)
		if (!globexpand(s->taskglobs.v[i], &skip, &s->taskpaths, &s->taskdirs)) {
			*bad = i;
			return -1;
		}
	strvsortuniq(&s->taskpaths);
	strvsortuniq(&s->taskdirs);
	return 0;
}

/* task globs, kept with where they were written, expanded now unless the
 * load is lazy */
static void taskglobs(struct ctx *c, const struct ynode *n, const char *where, struct suite *s)
{
	size_t cnt = globlist(c, n, where, &s->taskglobs), bad;

	s->taskglobat = xcalloc(2 * cnt, sizeof(int));
	for (size_t i = 0; i < cnt; i++) {
		const struct ynode *at = n->type == YSEQ ? n->kids[i] : n;
		s->taskglobat[2 * i] = at->line;
		s->taskglobat[2 * i + 1] = at->col;
	}
	s->taskwhere = xstrdup(where);
	if (!c->lazy && expandsuite(s, c->cache, &bad) < 0)
		fail(c, n->type == YSEQ ? n->kids[bad] : n, "%s: '%s' matches no file or directory", where,
		     s->taskglobs.v[bad]);
}

int expandtasks(struct evalfile *ef, char **err)
{
	size_t bad;

	*err = NULL;
	if (!ef->lazytasks)
		return 0;
	ef->lazytasks = 0;
	for (size_t i = 0; i < ef->nsuites; i++) {
		struct suite *s = &ef->suites[i];
		if (expandsuite(s, ef->cache, &bad) < 0) {
			*err = xasprintf("%s:%d:%d: %s: '%s' matches no file or directory", ef->path, s->taskglobat[2 * bad],
			                 s->taskglobat[2 * bad + 1], s->taskwhere, s->taskglobs.v[bad]);
			return -1;
		}
	}
	return 0;
}

/* deps globs: each match that is a file is an input, each folder every
 * file under it; a glob that yields no file is an error */
static void depglobs(struct ctx *c, const struct ynode *n, const char *where, struct strv *pats, struct strv *out,
                     struct strv *dirs)
{
	size_t first = pats->n, cnt = globlist(c, n, where, pats);

	if (!c->ignoreread) {
		c->ignore = loadignore(".gitignore");
		c->ignoreread = 1;
	}
	struct globskip skip = {.cache = c->cache, .ignore = c->ignore, .junk = 1};
	for (size_t i = 0; i < cnt; i++) {
		const char *pat = pats->v[first + i];
		size_t folders, files = globdeps(pat, &skip, out, dirs, &folders);
		if (!files)
			fail(c, n->type == YSEQ ? n->kids[i] : n, "%s: '%s' matches no file%s", where, pat,
			     folders ? " (the folders it matches hold none)" : "");
	}
	strvsortuniq(out);
	strvsortuniq(dirs);
}

/* the project file a command's word names: a relative path or one under
 * the Evalfile's folder, of an existing regular file; NULL otherwise */
static char *projectfile(struct ctx *c, const char *word)
{
	struct stat st;
	char *rp, *r = NULL;

	if (!word[0])
		return NULL;
	int rc = stat(word, &st);
	seenstat(word, 1, rc, &st);
	if (rc < 0 || !S_ISREG(st.st_mode))
		return NULL;
	/* the folders on its way: a symbolic link among them, retargeted, can
	 * move the very same file (a hard link, a bind mount) in or out of
	 * the project, which stat(word) cannot tell */
	char *d = seenrecording() ? xstrdup(word) : NULL;
	for (char *s = d ? strchr(d + 1, '/') : NULL; s; s = strchr(s + 1, '/')) {
		if (s[-1] == '/')
			continue;
		*s = '\0';
		/* not the project's folder itself ("./x.sh"): it is no link to
		 * retarget, and every file made beside the Evalfile changes it */
		const char *last = strrchr(d, '/') ? strrchr(d, '/') + 1 : d;
		if (strcmp(last, ".") || strspn(d, "./") != strlen(d))
			seenpath(d, 0);
		*s = '/';
	}
	free(d);
	if (!(rp = realpath(word, NULL)))
		return NULL;
	if (!c->top && !(c->top = realpath(".", NULL)))
		c->top = xstrdup("/");
	size_t tl = strlen(c->top);
	if (tl == 1 || (!strncmp(rp, c->top, tl) && rp[tl] == '/')) {
		/* named as deps globs name it: relative, without "./" */
		const char *w = word[0] == '/' ? rp + (tl == 1 ? 1 : tl + 1) : word;
		while (w[0] == '.' && w[1] == '/')
			for (w += 2; *w == '/'; w++)
				;
		r = xstrdup(w);
	}
	free(rp);
	return r;
}

/* add path to files unless it is there already, under any name (by
 * inode: "./x.sh" and "x.sh" are one file) */
static void addfile(struct strv *files, const char *path)
{
	struct stat st, o;

	int rc = stat(path, &st);
	seenstat(path, 1, rc, &st);
	if (rc < 0)
		return;
	for (size_t j = 0; j < files->n; j++) {
		rc = stat(files->v[j], &o);
		seenstat(files->v[j], 1, rc, &o);
		if (rc == 0 && o.st_dev == st.st_dev && o.st_ino == st.st_ino)
			return;
	}
	strvadd(files, path);
}

/* add the project files a command names to files (see shellwords for
 * how it is split) */
static void commandfiles(struct ctx *c, const char *command, struct strv *files)
{
	struct strv words = {0};

	shellwords(command, &words);
	for (size_t i = 0; i < words.n; i++) {
		const char *eq = strchr(words.v[i], '=');
		for (int k = 0; k < 2; k++) {
			/* the word, and what follows '=' in NAME=path or --opt=path */
			char *f = projectfile(c, k ? (eq ? eq + 1 : "") : words.v[i]);
			if (f)
				addfile(files, f);
			free(f);
		}
	}
	strvfree(&words);
}

/* env_inputs: a list of variable names */
static void envinputs(struct ctx *c, const struct ynode *n, const char *where, struct strv *out)
{
	if (n->type != YSEQ)
		fail(c, n, "%s: expected a list of environment variable names, got %s", where, typename(n));
	for (size_t i = 0; i < n->n; i++) {
		const char *v = str(c, n->kids[i], where);
		if (!isalpha((unsigned char)v[0]) && v[0] != '_')
			fail(c, n->kids[i], "%s: '%s' is not an environment variable name", where, v);
		for (const char *p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				fail(c, n->kids[i], "%s: '%s' is not an environment variable name", where, v);
		if (!strncmp(v, "EVAL_", 5))
			fail(c, n->kids[i], "%s: '%s' is set by evalmake, not an input you may declare", where, v);
		strvadd(out, v);
	}
	strvsortuniq(out);
}

/* canonical JSON: keys sorted, no spaces, plain scalars that are JSON
 * literals kept as they are: the form agent and grader configs are hashed in */
static void canon(struct buf *b, const struct ynode *n)
{
	if (n->type == YSCALAR) {
		char *end;
		if (n->plain && (!strcmp(n->val, "true") || !strcmp(n->val, "false") || !strcmp(n->val, "null"))) {
			bufadds(b, n->val);
			return;
		}
		if (n->plain && n->val[0] && (strtod(n->val, &end), !*end) && !isspace((unsigned char)n->val[0])
		    && strspn(n->val, "0123456789+-.eE") == strlen(n->val)) {
			bufadds(b, n->val);
			return;
		}
		bufaddjson(b, n->val, strlen(n->val));
		return;
	}
	if (n->type == YSEQ) {
		bufaddc(b, '[');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				bufaddc(b, ',');
			canon(b, n->kids[i]);
		}
		bufaddc(b, ']');
		return;
	}
	size_t *order = xcalloc(n->n, sizeof(*order));
	for (size_t i = 0; i < n->n; i++)
		order[i] = i;
	for (size_t i = 1; i < n->n; i++)
		for (size_t j = i; j > 0 && strcmp(n->keys[order[j - 1]]->val, n->keys[order[j]]->val) > 0; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	bufaddc(b, '{');
	for (size_t i = 0; i < n->n; i++) {
		if (i)
			bufaddc(b, ',');
		bufaddjson(b, n->keys[order[i]]->val, strlen(n->keys[order[i]]->val));
		bufaddc(b, ':');
		canon(b, n->kids[order[i]]);
	}
	bufaddc(b, '}');
	free(order);
}

static char *canonstr(const struct ynode *n)
{
	struct buf b = {0};

	canon(&b, n);
	return bufdetach(&b);
}

/* the canonical form of an agent or grader section, without the settings
 * that change how fast cells run but not what they produce */
static char *canonconfig(const struct ynode *n)
{
	/* a grader's name and weight say how its score is shown and
	 * combined, not what it is */
	static const char *const skip[] = {"max_connections", "retries", "name", "weight"};
	struct ynode m = *n;
	struct ynode **keys = xcalloc(n->n + 1, sizeof(*keys)), **kids = xcalloc(n->n + 1, sizeof(*kids));

	m.n = 0;
	for (size_t i = 0; i < n->n; i++) {
		int drop = 0;
		for (size_t k = 0; k < LEN(skip); k++)
			drop |= n->keys[i]->val && !strcmp(n->keys[i]->val, skip[k]);
		if (drop)
			continue;
		keys[m.n] = n->keys[i];
		kids[m.n++] = n->kids[i];
	}
	m.keys = keys;
	m.kids = kids;
	char *s = canonstr(&m);
	free(keys);
	free(kids);
	return s;
}

/* a shallow copy of over, with base's keys added where over lacks them;
 * nested mappings are merged the same way, one level down. The new nodes
 * borrow their children from the tree and are listed in c to be freed. */
static struct ynode *merge(struct ctx *c, const struct ynode *base, const struct ynode *over, int depth)
{
	struct ynode *m;

	if (!base || base->type != YMAP || !over || over->type != YMAP)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	xgrow(&c->merged, &c->mergedcap, c->nmerged + 1, sizeof(*c->merged));
	c->merged[c->nmerged++] = m;
	m->type = YMAP;
	m->line = over->line;
	m->col = over->col;
	m->kids = xcalloc(base->n + over->n, sizeof(*m->kids));
	m->keys = xcalloc(base->n + over->n, sizeof(*m->keys));
	for (size_t i = 0; i < over->n; i++) {
		const struct ynode *bk = over->keys[i]->val ? get(base, over->keys[i]->val) : NULL;
		struct ynode *sub = depth < 1 ? merge(c, bk, over->kids[i], depth + 1) : NULL;
		m->keys[m->n] = over->keys[i];
		m->kids[m->n++] = sub ? sub : over->kids[i];
	}
	for (size_t i = 0; i < base->n; i++) {
		if (base->keys[i]->type == YSCALAR && get(over, base->keys[i]->val))
			continue;
		/* a suite's graders replace the defaults' grader, and its grader
		 * the defaults' graders */
		if (depth == 0 && base->keys[i]->type == YSCALAR
		    && ((!strcmp(base->keys[i]->val, "grader") && get(over, "graders"))
		        || (!strcmp(base->keys[i]->val, "graders") && get(over, "grader"))))
			continue;
		m->keys[m->n] = base->keys[i];
		m->kids[m->n++] = base->kids[i];
	}
	return m;
}

static void freemerged(struct ctx *c)
{
	for (size_t i = 0; i < c->nmerged; i++) {
		free(c->merged[i]->kids);
		free(c->merged[i]->keys);
		free(c->merged[i]);
	}
	free(c->merged);
	c->merged = NULL;
	c->nmerged = c->mergedcap = 0;
}

static const char *const topkeys[] = {"cache", "jobs", "keep_going", "remote", "defaults", "suites", "pricing", "executor", "slurm", NULL};
static const char *const remotekeys[] = {"url", "upload", "token_env", "timeout", "required", NULL};
static const char *const suitekeys[] = {"tasks", "prompt", "iterations", "timeout", "agent", "grader", "graders", "threshold",
                                        "fields", "expected_pattern", "shuffle_choices", "reduce", "cluster", "executor", NULL};
static const char *const slurmkeys[] = {"partition", "max_parallel", "time", "sbatch_args", "shards", NULL};
static const char *const fieldkeys[] = {"id", "input", "expected", "choices", "columns", NULL};
static const char *const agentkeys[] = {"command", "deps", "env", "env_inputs", "provider", "model", "base_url",
                                        "api_key_env", "system", "params", "max_connections", "retries", "sandbox",
                                        NULL};
static const char *const graderkeys[] = {"type", "trim", "ignore_case", "pattern", "tolerance", "relative", "command",
                                         "deps", "env_inputs", "rubric", "provider", "model", "base_url", "api_key_env",
                                         "system", "params", "max_connections", "retries", "choices", "output_pattern",
                                         "sandbox", "name", "weight", NULL};
static const char *const sandboxkeys[] = {"network", "writable", NULL};
/* in the order of enum gradertype */
const char *const gradertypes[] = {"exact", "contains", "regex", "numeric", "command", "judge", "choice", NULL};

/* what is wrong with a base_url, or NULL: http or https, a host, an
 * optional numeric port, no blanks, no fragment (never sent: the API's
 * path would be lost), only whole %-escapes. A wrong one would otherwise fail
 * every cell, each after its retries; file: would read local files.
 * (libcurl, which parses URLs, is loaded only when the first call is made.) */
static const char *badurl(const char *u)
{
	const char *h, *end, *at, *host, *hend;

	if (!strncasecmp(u, "https://", 8))
		h = u + 8;
	else if (!strncasecmp(u, "http://", 7))
		h = u + 7;
	else
		return "expected a URL starting with http:// or https://";
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "expected a URL without blanks or control characters";
	if (strchr(u, '#'))
		return "expected no '#' in the URL (a fragment is never sent to the server)";
	for (const char *p = strchr(u, '%'); p; p = strchr(p + 1, '%'))
		if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
			return "expected '%' to start an escape of two hex digits (%20) in the URL";
	end = h + strcspn(h, "/?#");
	at = memrchr(h, '@', (size_t)(end - h));
	host = at ? at + 1 : h;
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (!rb || rb == host + 1)
			return "expected a host in the URL ([IPv6] needs its closing bracket)";
		hend = rb + 1;
	} else {
		hend = memchr(host, ':', (size_t)(end - host));
		if (!hend)
			hend = end;
		if (hend == host)
			return "expected a host in the URL, as in http://127.0.0.1:8080/v1";
	}
	if (hend < end) {
		long port = 0;
		if (*hend != ':' || hend + 1 == end)
			return "expected a port number after ':' in the URL";
		for (const char *p = hend + 1; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				return "expected a port number after ':' in the URL";
			if ((port = port * 10 + (*p - '0')) > 65535)
				return "expected a port number from 1 to 65535 in the URL";
		}
		if (port == 0)
			return "expected a port number from 1 to 65535 in the URL";
	}
	return NULL;
}

const char *badremoteurl(const char *u)
{
	if (strncasecmp(u, "s3://", 5)) {
		if (badurl(u))
			return "expected http://HOST[:PORT]/PATH, https://... or s3://BUCKET/PREFIX";
		/* ac/ and cas/ are appended to the path: a query or a fragment
		 * would send every request to one resource */
		if (strpbrk(u, "?#"))
			return "expected no '?' or '#' in an http(s) remote URL (ac/ and cas/ are added to its path)";
		return NULL;
	}
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "expected a URL without blanks or control characters";
	const char *b = u + 5;
	size_t blen = strcspn(b, "/?");
	if (!blen)
		return "expected a bucket name after s3://";
	for (size_t i = 0; i < blen; i++)
		if (!isalnum((unsigned char)b[i]) && b[i] != '-' && b[i] != '.' && b[i] != '_')
			return "expected a bucket name of letters, digits, '-', '.' and '_' after s3://";
	const char *q = strchr(u, '?');
	if (q && strchr(q, '#'))
		return "expected no '#' in an s3:// URL";
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		size_t n = strcspn(p, "&");
		if (n > 7 && !strncmp(p, "region=", 7)) {
			for (size_t i = 7; i < n; i++)
				if (!isalnum((unsigned char)p[i]) && p[i] != '-')
					return "expected a region of letters, digits and '-' (region=eu-west-1)";
		} else if (n > 9 && !strncmp(p, "endpoint=", 9)) {
			char *ep = xstrndup(p + 9, n - 9);
			const char *bad = badurl(ep);
			free(ep);
			if (bad)
				return "expected endpoint=http(s)://HOST[:PORT]";
		} else {
			return "expected only region=... and endpoint=... after '?' in an s3:// URL";
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return NULL;
}

static void loadremote(struct ctx *c, const struct ynode *n, struct remotecfg *r)
{
	const struct ynode *v;

	needmap(c, n, "remote");
	checkkeys(c, n, "remote", remotekeys);
	if (!(v = get(n, "url")))
		fail(c, n, "remote: expected a url (http://HOST:PORT/PATH or s3://BUCKET/PREFIX)");
	const char *bad = badremoteurl(str(c, v, "remote: url"));
	if (bad)
		fail(c, v, "remote: url: %s", bad);
	r->url = xstrdup(v->val);
	if ((v = get(n, "upload")))
		r->upload = boolean(c, v, "remote: upload");
	if ((v = get(n, "required")))
		r->required = boolean(c, v, "remote: required");
	if ((v = get(n, "timeout")))
		r->timeout = num(c, v, "remote: timeout", 0.1, 3600);
	if ((v = get(n, "token_env"))) {
		const char *name = str(c, v, "remote: token_env");
		for (const char *p = name; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				fail(c, v, "remote: token_env: expected the name of an environment variable, got '%s'", name);
		r->token_env = xstrdup(name);
	}
}

/* the HTTP part of an agent section (also a judge grader's model) */
static void loadhttp(struct ctx *c, const struct ynode *n, const char *where, struct agent *a)
{
	const struct ynode *v;
	char w[256];

	a->kind = AGENT_HTTP;
	v = get(n, "provider");
	snprintf(w, sizeof(w), "%s.provider", where);
	a->provider = xstrdup(str(c, v, w));
	if (strcmp(a->provider, "openai") && strcmp(a->provider, "anthropic"))
		fail(c, v, "%s: expected 'openai' or 'anthropic', got '%s'", w, a->provider);
	snprintf(w, sizeof(w), "%s.model", where);
	if (!(v = get(n, "model")))
		fail(c, n, "%s: a provider needs a 'model'", where);
	a->model = xstrdup(str(c, v, w));
	snprintf(w, sizeof(w), "%s.base_url", where);
	if ((v = get(n, "base_url"))) {
		const char *why;
		a->base_url = xstrdup(str(c, v, w));
		if ((why = badurl(a->base_url)))
			fail(c, v, "%s: %s, got '%s'", w, why, a->base_url);
	} else
		a->base_url = xstrdup(!strcmp(a->provider, "openai") ? "https://api.openai.com/v1" : "https://api.anthropic.com");
	snprintf(w, sizeof(w), "%s.api_key_env", where);
	if ((v = get(n, "api_key_env"))) {
		a->api_key_env = xstrdup(str(c, v, w));
		for (const char *p = a->api_key_env; *p; p++)
			if (!(isalpha((unsigned char)*p) || *p == '_' || (p > a->api_key_env && isdigit((unsigned char)*p))))
				fail(c, v, "%s: '%s' is not an environment variable name (letters, digits and '_')", w,
				     a->api_key_env);
	} else
		a->api_key_env = xstrdup(!strcmp(a->provider, "openai") ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY");
	snprintf(w, sizeof(w), "%s.system", where);
	if ((v = get(n, "system"))) {
		a->system = xstrdup(str(c, v, w));
		/* a system prompt file's content is part of the key, like deps */
		if (isfile(a->system))
			strvadd(&a->deps, a->system);
	}
	snprintf(w, sizeof(w), "%s.params", where);
	if ((v = get(n, "params"))) {
		needmap(c, v, w);
		/* what the tool cannot honour is refused, not silently ignored */
		const struct ynode *p;
		char ws[300];
		snprintf(ws, sizeof(ws), "%s.stream", w);
		if ((p = get(v, "stream")) && boolean(c, p, ws))
			fail(c, p, "%s.stream: evalmake reads whole responses: remove 'stream' (or set it to false)", w);
		if ((p = get(v, "n")) && !(p->type == YSCALAR && !strcmp(p->val, "1")))
			fail(c, p, "%s.n: evalmake grades one answer per call: remove 'n' (use iterations for more samples)", w);
		a->params = canonstr(v);
	}
	snprintf(w, sizeof(w), "%s.max_connections", where);
	a->max_connections = (v = get(n, "max_connections")) ? integer(c, v, w, 1, 100000) : 32;
	snprintf(w, sizeof(w), "%s.retries", where);
	a->retries = (v = get(n, "retries")) ? integer(c, v, w, 0, 100) : 5;
	for (const char *const *k = (const char *const[]){"command", "deps", "env", NULL}; *k; k++)
		if ((v = get(n, *k)))
			fail(c, v, "%s: '%s' is for command agents, not with 'provider'", where, *k);
}

/* sandbox: true, false or {network: BOOL, writable: [PATH, ...]}. Its
 * text is in the section's canon, and so in the run or grade key: what the
 * command may touch changes what it does. A writable path must exist (the
 * sandbox binds it) and be outside the cache, which stays hidden. */
static void loadsandbox(struct ctx *c, const struct ynode *n, const char *where, struct sandbox *sb)
{
	const struct ynode *v;
	char w[300];

	if (n->type != YMAP) {
		sb->on = boolean(c, n, where);
		return;
	}
	checkkeys(c, n, where, sandboxkeys);
	sb->on = 1;
	snprintf(w, sizeof(w), "%s.network", where);
	if ((v = get(n, "network")))
		sb->network = boolean(c, v, w);
	snprintf(w, sizeof(w), "%s.writable", where);
	if (!(v = get(n, "writable")))
		return;
	if (v->type == YMAP)
		fail(c, v, "%s: expected a path or a list of paths, got %s", w, typename(v));
	size_t k = v->type == YSEQ ? v->n : 1;
	for (size_t i = 0; i < k; i++) /* fail() longjmps: type errors before cache is held */
		str(c, v->type == YSEQ ? v->kids[i] : v, w);
	char *cache = realpath(c->cache, NULL);
	for (size_t i = 0; i < k; i++) {
		const struct ynode *e = v->type == YSEQ ? v->kids[i] : v;
		const char *path = str(c, e, w);
		char *abs = realpath(path, NULL);
		size_t cl = cache ? strlen(cache) : 0;
		int incache = abs && cache && !strncmp(abs, cache, cl) && (abs[cl] == '/' || !abs[cl]);
		if (abs && !incache) {
			strvadd(&sb->writable, abs);
			free(abs);
			continue;
		}
		int err = errno;
		free(abs);
		free(cache);
		if (incache)
			fail(c, e, "%s: '%s' is in the cache folder, which the sandbox hides", w, path);
		fail(c, e, "%s: cannot use '%s': %s (the sandbox binds an existing folder or file)", w, path,
		     strerror(err));
	}
	free(cache);
}

static void loadagent(struct ctx *c, const struct ynode *n, const char *where, struct agent *a)
{
	const struct ynode *v;
	char w[256];

	needmap(c, n, where);
	checkkeys(c, n, where, agentkeys);
	a->canon = canonconfig(n);
	snprintf(w, sizeof(w), "%s.env_inputs", where);
	if ((v = get(n, "env_inputs")))
		envinputs(c, v, w, &a->envinputs);
	snprintf(w, sizeof(w), "%s.sandbox", where);
	if ((v = get(n, "sandbox"))) {
		if (get(n, "provider"))
			fail(c, v, "%s: is for command agents (a model call runs no code here)", w);
		loadsandbox(c, v, w, &a->sandbox);
	}
	if (get(n, "provider")) {
		if ((v = get(n, "command")))
			fail(c, v, "%s: give either 'command' or 'provider', not both", where);
		loadhttp(c, n, where, a);
		return;
	}
	a->kind = AGENT_COMMAND;
	if (!(v = get(n, "command")))
		fail(c, n, "%s: expected 'command' (a program to run) or 'provider' (a model API)", where);
	snprintf(w, sizeof(w), "%s.command", where);
	a->command = xstrdup(str(c, v, w));
	snprintf(w, sizeof(w), "%s.deps", where);
	if ((v = get(n, "deps")))
		depglobs(c, v, w, &a->depglobs, &a->deps, &a->depdirs);
	/* what it runs is what it observes: files named on its command line */
	commandfiles(c, a->command, &a->deps);
	strvsortuniq(&a->deps);
	snprintf(w, sizeof(w), "%s.env", where);
	if ((v = get(n, "env"))) {
		needmap(c, v, w);
		for (size_t i = 0; i < v->n; i++) {
			const char *k = v->keys[i]->val;
			if (v->kids[i]->type != YSCALAR)
				fail(c, v->kids[i], "%s.%s: expected a string, got %s", w, k, typename(v->kids[i]));
			if (!k[0] || strchr(k, '=') || !strncmp(k, "EVAL_", 5))
				fail(c, v->keys[i], "%s: '%s' is not a variable name you may set", w, k);
			char *kv = xasprintf("%s=%s", k, v->kids[i]->val);
			strvadd(&a->env, kv);
			free(kv);
		}
	}
	/* retries: a failed attempt (an exit status, a timeout) runs again;
	 * like a model agent's, not part of the run key (canonconfig) */
	snprintf(w, sizeof(w), "%s.retries", where);
	a->retries = (v = get(n, "retries")) ? integer(c, v, w, 0, 100) : 0;
	for (const char *const *k = (const char *const[]){"model", "base_url", "api_key_env", "system", "params",
	                                                   "max_connections", NULL}; *k; k++)
		if ((v = get(n, *k)))
			fail(c, v, "%s: '%s' needs 'provider' (a model API), not 'command'", where, *k);
}

static void loadgrader(struct ctx *c, const struct ynode *n, const char *where, struct grader *g)
{
	const struct ynode *v;
	char w[256];
	int type = -1;

	g->trim = 1;
	g->tolerance = 1e-6;
	g->weight = -1;
	if (!n) {
		g->type = GRADE_EXACT;
		g->name = xstrdup("exact");
		g->canon = xstrdup("{\"type\":\"exact\"}");
		return;
	}
	needmap(c, n, where);
	checkkeys(c, n, where, graderkeys);
	g->canon = canonconfig(n);
	snprintf(w, sizeof(w), "%s.type", where);
	if (!(v = get(n, "type")))
		fail(c, n, "%s: expected a 'type': exact, contains, regex, numeric, choice, command or judge", where);
	for (int i = 0; gradertypes[i]; i++)
		if (!strcmp(str(c, v, w), gradertypes[i]))
			type = i;
	if (type < 0)
		fail(c, v, "%s: expected exact, contains, regex, numeric, choice, command or judge, got '%s'", w, v->val);
	g->type = (enum gradertype)type;
	snprintf(w, sizeof(w), "%s.name", where);
	if ((v = get(n, "name"))) {
		const char *nm = str(c, v, w);
		/* a name is a column, a JSON key and a JUnit property */
		if (!nm[0] || strlen(nm) > 64 || strspn(nm, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(nm))
			fail(c, v, "%s: expected a name of up to 64 letters, digits, '_', '-' and '.', got '%s'", w, nm);
		g->name = xstrdup(nm);
	} else {
		g->name = xstrdup(gradertypes[type]);
	}
	snprintf(w, sizeof(w), "%s.weight", where);
	if ((v = get(n, "weight")))
		g->weight = num(c, v, w, 0, 1e6);
	snprintf(w, sizeof(w), "%s.trim", where);
	if ((v = get(n, "trim")))
		g->trim = boolean(c, v, w);
	snprintf(w, sizeof(w), "%s.ignore_case", where);
	if ((v = get(n, "ignore_case")))
		g->ignore_case = boolean(c, v, w);
	snprintf(w, sizeof(w), "%s.tolerance", where);
	if ((v = get(n, "tolerance")))
		g->tolerance = num(c, v, w, 0, 1e300);
	snprintf(w, sizeof(w), "%s.relative", where);
	if ((v = get(n, "relative")))
		g->relative = boolean(c, v, w);
	snprintf(w, sizeof(w), "%s.pattern", where);
	if ((v = get(n, "pattern"))) {
		char *e;
		g->pattern = xstrdup(str(c, v, w));
		if (!(g->re = regexcompile(g->pattern, g->ignore_case, &e))) {
			char msg[300];
			snprintf(msg, sizeof(msg), "%s", e);
			free(e);
			fail(c, v, "%s: invalid regular expression: %s", w, msg);
		}
	}
	snprintf(w, sizeof(w), "%s.output_pattern", where);
	if ((v = get(n, "output_pattern"))) {
		char *e;
		g->output_pattern = xstrdup(str(c, v, w));
		if (g->type == GRADE_COMMAND || g->type == GRADE_JUDGE)
			fail(c, v, "%s: is for exact, contains, regex, numeric and choice graders (a %s grader sees the whole output)",
			     w, gradertypes[g->type]);
		if (!(g->outre = regexcompile(g->output_pattern, g->ignore_case, &e))) {
			char msg[300];
			snprintf(msg, sizeof(msg), "%s", e);
			free(e);
			fail(c, v, "%s: invalid regular expression: %s", w, msg);
		}
	}
	if (g->type == GRADE_COMMAND) {
		snprintf(w, sizeof(w), "%s.command", where);
		if (!(v = get(n, "command")))
			fail(c, n, "%s: a command grader needs a 'command'", where);
		g->command = xstrdup(str(c, v, w));
		/* the program's own file is part of the grade key */
		char *prog = xstrndup(g->command, strcspn(g->command, " \t"));
		if (strchr(prog, '/')) {
			if (!isfile(prog)) {
				free(prog);
				fail(c, v, "%s: no such file '%.*s'", w, (int)strcspn(g->command, " \t"), g->command);
			}
			strvadd(&g->files, prog);
		}
		free(prog);
		commandfiles(c, g->command, &g->files);
		snprintf(w, sizeof(w), "%s.deps", where);
		if ((v = get(n, "deps"))) {
			struct strv deps = {0};
			depglobs(c, v, w, &g->depglobs, &deps, &g->depdirs);
			for (size_t i = 0; i < deps.n; i++)
				addfile(&g->files, deps.v[i]);
			strvfree(&deps);
		}
		snprintf(w, sizeof(w), "%s.sandbox", where);
		if ((v = get(n, "sandbox")))
			loadsandbox(c, v, w, &g->sandbox);
	} else if ((v = get(n, "sandbox"))) {
		fail(c, v, "%s: 'sandbox' is for graders of type command", where);
	} else if ((v = get(n, "command"))) {
		fail(c, v, "%s: 'command' is for graders of type command", where);
	} else if ((v = get(n, "deps"))) {
		fail(c, v, "%s: 'deps' is for graders of type command", where);
	}
	snprintf(w, sizeof(w), "%s.env_inputs", where);
	if ((v = get(n, "env_inputs")))
		envinputs(c, v, w, &g->envinputs);
	if (g->type == GRADE_JUDGE) {
		snprintf(w, sizeof(w), "%s.rubric", where);
		if (!(v = get(n, "rubric")))
			fail(c, n, "%s: a judge grader needs a 'rubric' template file", where);
		g->rubric = xstrdup(str(c, v, w));
		if (!isfile(g->rubric))
			fail(c, v, "%s: %s", w, notfile(g->rubric));
		strvadd(&g->files, g->rubric);
		if (!get(n, "provider"))
			fail(c, n, "%s: a judge grader needs a 'provider' and 'model'", where);
		loadhttp(c, n, where, &g->judge);
		g->judge.canon = xstrdup(g->canon);
		for (size_t i = 0; i < g->judge.deps.n; i++)
			strvadd(&g->files, g->judge.deps.v[i]);
		snprintf(w, sizeof(w), "%s.choices", where);
		if ((v = get(n, "choices"))) {
			needmap(c, v, w);
			g->choicescore = xcalloc(v->n + 1, sizeof(double));
			for (size_t i = 0; i < v->n; i++) {
				char cw[300];
				snprintf(cw, sizeof(cw), "%s.%s", w, v->keys[i]->val);
				g->choicescore[i] = num(c, v->kids[i], cw, 0, 1);
				strvadd(&g->choices, v->keys[i]->val);
			}
		}
	} else {
		for (const char *const *k = (const char *const[]){"rubric", "provider", "model", "base_url", "api_key_env",
		                                                   "system", "params", "choices", NULL}; *k; k++)
			if ((v = get(n, *k)))
				fail(c, v, "%s: '%s' is for judge graders", where, *k);
	}
}

/* the suite's `fields` mapping and `expected_pattern` (see struct fieldmap);
 * after the grader, which says whether tasks need an expected answer */
static void loadfieldmap(struct ctx *c, const struct ynode *n, const char *where, struct suite *s)
{
	struct fieldmap *m = &s->fields;
	const struct ynode *v;
	struct buf b = {0};
	char w[256];
	for (size_t i = 0; i < s->ngraders; i++) {
		const struct grader *g = suitegrader(s, i);
		int t = g->type;
		m->needexpected |= t == GRADE_EXACT || t == GRADE_CONTAINS || t == GRADE_NUMERIC || t == GRADE_CHOICE
		                   || (t == GRADE_REGEX && !g->pattern);
	}
	snprintf(w, sizeof(w), "%s.fields", where);
	if ((v = get(n, "fields"))) {
		needmap(c, v, w);
		checkkeys(c, v, w, fieldkeys);
		char fw[300];
		const struct ynode *f;
		snprintf(fw, sizeof(fw), "%s.id", w);
		if ((f = get(v, "id")))
			m->id = xstrdup(str(c, f, fw));
		snprintf(fw, sizeof(fw), "%s.input", w);
		if ((f = get(v, "input")))
			m->input = xstrdup(str(c, f, fw));
		snprintf(fw, sizeof(fw), "%s.expected", w);
		if ((f = get(v, "expected")))
			m->expected = xstrdup(str(c, f, fw));
		snprintf(fw, sizeof(fw), "%s.choices", w);
		if ((f = get(v, "choices"))) {
			if (f->type == YSEQ) {
				if (!f->n)
					fail(c, f, "%s: expected a field or a non-empty list of columns", fw);
				for (size_t i = 0; i < f->n; i++)
					strvadd(&m->choices, str(c, f->kids[i], fw));
				m->choicecols = 1;
			} else {
				strvadd(&m->choices, str(c, f, fw));
			}
		}
		snprintf(fw, sizeof(fw), "%s.columns", w);
		if ((f = get(v, "columns"))) {
			if (f->type != YSEQ || !f->n)
				fail(c, f, "%s: expected a list of column names (for a CSV file without a header row)", fw);
			for (size_t i = 0; i < f->n; i++)
				strvadd(&m->columns, str(c, f->kids[i], fw));
		}
	}
	snprintf(w, sizeof(w), "%s.expected_pattern", where);
	/* the canonical text is built after the last fail(): a fail() would
	 * leak it (found by the bad-input catalogue under LeakSanitizer) */
	const struct ynode *ep = get(n, "expected_pattern");
	if (ep) {
		char *e;
		m->expected_pattern = xstrdup(str(c, ep, w));
		if (!(m->re = compilepattern(m->expected_pattern, &e))) {
			char msg[300];
			snprintf(msg, sizeof(msg), "%s", e);
			free(e);
			fail(c, ep, "%s: invalid regular expression: %s", w, msg);
		}
	}
	if ((v = get(n, "fields")))
		canon(&b, v);
	if (ep)
		bufaddf(&b, "\npattern:%s", m->expected_pattern);
	bufaddf(&b, "\nneedexpected:%d", m->needexpected);
	m->canon = bufdetach(&b);
}

/* the suite's `grader:` (one), or `graders:` (a list: the first decides
 * the score unless every one gives a weight) */
static void loadgraders(struct ctx *c, const struct ynode *n, const char *where, struct suite *s)
{
	const struct ynode *v = get(n, "graders"), *one = get(n, "grader");
	char w[256];
	size_t weights = 0;
	double total = 0;

	s->ngraders = 1;
	if (!v) {
		snprintf(w, sizeof(w), "%s.grader", where);
		loadgrader(c, one, w, &s->grader);
		return;
	}
	snprintf(w, sizeof(w), "%s.graders", where);
	if (one)
		fail(c, one, "%s: has both 'grader' and 'graders': give one", where);
	if (v->type != YSEQ || !v->n)
		fail(c, v, "%s: expected a non-empty list of graders ({name: ..., type: ...})", w);
	if (v->n > 64)
		fail(c, v, "%s: %zu graders, past the limit of 64", w, v->n);
	s->others = xcalloc(v->n, sizeof(*s->others));
	for (size_t i = 0; i < v->n; i++) {
		char gw[300];
		snprintf(gw, sizeof(gw), "%s[%zu]", w, i);
		struct grader *g = i ? &s->others[i - 1] : &s->grader;
		s->ngraders = i + 1; /* freed from here on, even when it fails */
		loadgrader(c, v->kids[i], gw, g);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(suitegrader(s, j)->name, g->name))
				fail(c, v->kids[i], "%s: a second grader named '%s' (give each a distinct 'name')", gw, g->name);
		weights += g->weight >= 0;
		total += g->weight >= 0 ? g->weight : 0;
	}
	if (weights && weights < v->n)
		fail(c, v, "%s: some graders give a 'weight' and some do not: give every one a weight, or none", w);
	if (weights && !(total > 0))
		fail(c, v, "%s: the weights add up to 0", w);
	s->weighted = weights > 0;
}

struct grader *suitegrader(const struct suite *s, size_t i)
{
	return i ? &s->others[i - 1] : (struct grader *)&s->grader;
}

/* reduce: and cluster:, which change how scores are reported and nothing
 * else (no key holds them). pass@K and pass^K need K iterations of each
 * task: a K past the suite's iterations is refused here, on its line. */
static void loadreduce(struct ctx *c, const struct ynode *n, const char *where, struct suite *s)
{
	static const char *const names[] = {"mean", "max", "min", "median"};
	const struct ynode *v;
	char w[192];

	snprintf(w, sizeof(w), "%s.reduce", where);
	if ((v = get(n, "reduce"))) {
		const char *r = str(c, v, w);
		size_t i;
		for (i = 0; i < LEN(names) && strcmp(r, names[i]); i++)
			;
		if (i < LEN(names)) {
			s->reduce = (enum reducekind)i;
		} else if (!strncmp(r, "pass@", 5) || !strncmp(r, "pass^", 5)) {
			char *end;
			errno = 0;
			long k = strtol(r + 5, &end, 10);
			if (!isdigit((unsigned char)r[5]) || *end || errno || k < 1 || k > MAX_ITERATIONS)
				fail(c, v, "%s: expected pass@K or pass^K with K a whole number from 1 to %d, got '%s'", w,
				     MAX_ITERATIONS, r);
			s->reduce = r[4] == '@' ? REDUCE_PASSAT : REDUCE_PASSALL;
			s->reducek = (int)k;
			if (k > s->iterations)
				fail(c, v, "%s: %s needs at least %ld iterations of each task, the suite has %d (set "
				     "iterations: %ld or more, or a smaller K)", w, r, k, s->iterations, k);
		} else {
			fail(c, v, "%s: expected mean, max, min, median, pass@K or pass^K, got '%s'", w, r);
		}
	}
	snprintf(w, sizeof(w), "%s.cluster", where);
	if ((v = get(n, "cluster"))) {
		const char *f = str(c, v, w);
		if (!strncmp(f, "task.", 5))
			f += 5;
		if (!*f)
			fail(c, v, "%s: expected a task field, e.g. 'passage' or 'task.passage'", w);
		s->cluster = xstrdup(f);
	}
}

/* executor: local or slurm */
static enum executor executor(struct ctx *c, const struct ynode *n, const char *where)
{
	const char *v = str(c, n, where);

	if (!strcmp(v, "local"))
		return EXEC_LOCAL;
	if (!strcmp(v, "slurm"))
		return EXEC_SLURM;
	fail(c, n, "%s: expected local or slurm, got '%s'", where, v);
}

/* the top level's slurm: mapping */
static void loadslurm(struct ctx *c, const struct ynode *n, struct slurmconf *sc)
{
	const struct ynode *v;

	needmap(c, n, "slurm");
	checkkeys(c, n, "slurm", slurmkeys);
	if ((v = get(n, "partition")))
		sc->partition = xstrdup(str(c, v, "slurm.partition"));
	if ((v = get(n, "max_parallel")))
		sc->max_parallel = integer(c, v, "slurm.max_parallel", 1, 1000000);
	if ((v = get(n, "time")))
		sc->time = xstrdup(str(c, v, "slurm.time"));
	if ((v = get(n, "shards")))
		sc->shards = integer(c, v, "slurm.shards", 1, 1000000);
	if ((v = get(n, "sbatch_args"))) {
		if (v->type != YSEQ)
			fail(c, v, "slurm.sbatch_args: expected a list of sbatch options, one word each (e.g. [--mem=4G, "
			        "--cpus-per-task=2]), got %s", typename(v));
		for (size_t i = 0; i < v->n; i++) {
			const char *a = str(c, v->kids[i], "slurm.sbatch_args");
			/* evalmake's own: the array and its output are what it waits on */
			if (!strncmp(a, "--array", 7) || !strncmp(a, "-a", 2) || !strncmp(a, "--parsable", 10) ||
			    !strncmp(a, "--output", 8) || !strncmp(a, "--error", 7) || !strncmp(a, "--wrap", 6))
				fail(c, v->kids[i], "slurm.sbatch_args: '%s' is evalmake's to set (the array, its output files)", a);
			strvadd(&sc->sbatch_args, a);
		}
	}
}

static void loadsuite(struct ctx *c, const char *name, const struct ynode *keynode, const struct ynode *n, struct suite *s)
{
	const struct ynode *v;
	char where[128], w[192];

	snprintf(where, sizeof(where), "suites.%s", name);
	s->name = xstrdup(name);
	s->where = xasprintf("%s:%d:%d", c->file, keynode->line, keynode->col);
	s->iterations = 1;
	s->timeout = 120;
	s->threshold = -1;
	needmap(c, n, where);
	checkkeys(c, n, where, suitekeys);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
			fail(c, keynode, "%s: a suite name may hold letters, digits, '_', '-' and '.'", where);
	snprintf(w, sizeof(w), "%s.tasks", where);
	if (!(v = get(n, "tasks")))
		fail(c, keynode, "%s: expected 'tasks' (a glob or a list of globs)", where);
	taskglobs(c, v, w, s);
	snprintf(w, sizeof(w), "%s.prompt", where);
	if ((v = get(n, "prompt"))) {
		s->prompt = xstrdup(str(c, v, w));
		if (!isfile(s->prompt))
			fail(c, v, "%s: %s", w, notfile(s->prompt));
	}
	snprintf(w, sizeof(w), "%s.iterations", where);
	if ((v = get(n, "iterations")))
		s->iterations = integer(c, v, w, 1, MAX_ITERATIONS);
	snprintf(w, sizeof(w), "%s.timeout", where);
	if ((v = get(n, "timeout")))
		s->timeout = num(c, v, w, 0.001, 1e7);
	snprintf(w, sizeof(w), "%s.threshold", where);
	if ((v = get(n, "threshold")))
		s->threshold = num(c, v, w, 0, 1);
	loadreduce(c, n, where, s);
	snprintf(w, sizeof(w), "%s.shuffle_choices", where);
	if ((v = get(n, "shuffle_choices")))
		s->shuffle_choices = boolean(c, v, w);
	snprintf(w, sizeof(w), "%s.executor", where);
	if ((v = get(n, "executor")))
		s->executor = executor(c, v, w);
	snprintf(w, sizeof(w), "%s.agent", where);
	if (!(v = get(n, "agent")))
		fail(c, keynode, "%s: expected an 'agent' (a command or a provider)", where);
	loadagent(c, v, w, &s->agent);
	loadgraders(c, n, where, s);
	loadfieldmap(c, n, where, s);
	for (size_t i = 0; i < s->ngraders; i++)
		suitegrader(s, i)->shuffle = s->shuffle_choices;
	if (s->shuffle_choices && !s->prompt)
		fail(c, get(n, "shuffle_choices"), "%s.shuffle_choices: needs a 'prompt' template showing {{choices}}", where);
}

/* pricing: {MODEL: {input: USD per 1M tokens, output: USD per 1M}} */
static void loadpricing(struct ctx *c, const struct ynode *n, struct evalfile *ef)
{
	static const char *const keys[] = {"input", "output", NULL};
	char w[300];

	needmap(c, n, "pricing");
	ef->prices = xcalloc(n->n + 1, sizeof(*ef->prices));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *m = n->kids[i], *v;
		if (k->type != YSCALAR || !k->val[0])
			fail(c, k, "pricing: expected a model name");
		snprintf(w, sizeof(w), "pricing.%s", k->val);
		needmap(c, m, w);
		checkkeys(c, m, w, keys);
		struct price *p = &ef->prices[ef->nprices++];
		p->model = xstrdup(k->val);
		for (int side = 0; side < 2; side++) {
			snprintf(w, sizeof(w), "pricing.%s.%s", k->val, keys[side]);
			if (!(v = get(m, keys[side])))
				fail(c, m, "%s: expected a price in USD per million tokens", w);
			*(side ? &p->output : &p->input) = num(c, v, w, 0, 1e9);
		}
	}
}

const struct price *findprice(const struct evalfile *ef, const char *model)
{
	for (size_t i = 0; model && i < ef->nprices; i++)
		if (!strcmp(ef->prices[i].model, model))
			return &ef->prices[i];
	return NULL;
}

double tokencost(const struct evalfile *ef, const char *model, const char *fallback, long long in, long long out,
                 int *priced)
{
	const struct price *p = findprice(ef, model && model[0] ? model : fallback);

	if (!p && model && model[0])
		p = findprice(ef, fallback); /* the API named a dated version of it */
	*priced = p != NULL;
	if (!p)
		return 0;
	return ((double)(in > 0 ? in : 0) * p->input + (double)(out > 0 ? out : 0) * p->output) / 1e6;
}

static void load(struct ctx *c, struct evalfile *ef, struct ynode *root)
{
	const struct ynode *v, *suites, *defaults;

	if (!root || root->type != YMAP)
		fail(c, root, "expected a mapping with 'suites' at the top level");
	checkkeys(c, root, "top level", topkeys);
	ef->jobs = 0;
	if ((v = get(root, "cache")))
		ef->cache = xstrdup(str(c, v, "cache"));
	else
		ef->cache = xstrdup("cache");
	c->cache = ef->cache;
	if ((v = get(root, "jobs")))
		ef->jobs = integer(c, v, "jobs", 1, 10000);
	if ((v = get(root, "keep_going")))
		ef->keepgoing = boolean(c, v, "keep_going");
	ef->remote.timeout = 10;
	if ((v = get(root, "remote")))
		loadremote(c, v, &ef->remote);
	if ((v = get(root, "pricing")))
		loadpricing(c, v, ef);
	if ((v = get(root, "executor")))
		ef->executor = executor(c, v, "executor");
	if ((v = get(root, "slurm")))
		loadslurm(c, v, &ef->slurm);
	defaults = get(root, "defaults");
	if (defaults) {
		needmap(c, defaults, "defaults");
		checkkeys(c, defaults, "defaults", suitekeys);
	}
	if (!(suites = get(root, "suites")))
		fail(c, root, "expected 'suites' at the top level");
	needmap(c, suites, "suites");
	if (!suites->n)
		fail(c, suites, "suites: expected at least one suite");
	ef->suites = xcalloc(suites->n, sizeof(*ef->suites));
	for (size_t i = 0; i < suites->n; i++) {
		const struct ynode *k = suites->keys[i];
		if (k->type != YSCALAR || !k->val[0])
			fail(c, k, "suites: expected a suite name");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(suites->keys[j]->val, k->val))
				fail(c, k, "suites: duplicate suite '%s'", k->val);
		struct ynode *m = NULL;
		if (defaults && suites->kids[i]->type == YMAP)
			m = merge(c, defaults, suites->kids[i], 0);
		ef->nsuites++;
		loadsuite(c, k->val, k, m ? m : suites->kids[i], &ef->suites[i]);
	}
}

char *findevalfile(const char *path)
{
	if (path)
		return xstrdup(path);
	if (access("Evalfile", F_OK) == 0)
		return xstrdup("Evalfile");
	if (access("evalfile", F_OK) == 0)
		return xstrdup("evalfile");
	return NULL;
}

static struct evalfile *loadwith(const char *path, int lazy, char **err)
{
	struct evalfile *ef = xcalloc(1, sizeof(*ef));
	/* on the heap: what the loader changes must survive the longjmp */
	struct ctx *c = xcalloc(1, sizeof(*c));
	struct ynode *volatile root = NULL;
	struct evalfile *ret = ef;

	c->file = path;
	c->lazy = lazy;
	ef->path = xstrdup(path);
	ef->dir = dirname_of(path);
	*err = NULL;
	if (setjmp(c->jb)) {
		freeevalfile(ef);
		*err = c->err;
		ret = NULL;
	} else {
		root = parse(c, path);
		load(c, ef, root);
		ef->lazytasks = lazy;
	}
	freemerged(c);
	freenode(root);
	freeignore(c->ignore);
	free(c->top);
	free(c);
	return ret;
}

static void freeagent(struct agent *a)
{
	free(a->command);
	strvfree(&a->depglobs);
	strvfree(&a->deps);
	strvfree(&a->depdirs);
	strvfree(&a->env);
	strvfree(&a->envinputs);
	free(a->provider);
	free(a->model);
	free(a->base_url);
	free(a->api_key_env);
	free(a->system);
	free(a->params);
	free(a->canon);
	strvfree(&a->sandbox.writable);
}

void freeevalfile(struct evalfile *ef)
{
	if (!ef)
		return;
	for (size_t i = 0; i < ef->nsuites; i++) {
		struct suite *s = &ef->suites[i];
		free(s->name);
		free(s->where);
		free(s->cluster);
		strvfree(&s->taskglobs);
		free(s->taskglobat);
		free(s->taskwhere);
		strvfree(&s->taskpaths);
		strvfree(&s->taskdirs);
		free(s->prompt);
		freeagent(&s->agent);
		for (size_t k = 0; k < s->ngraders || k == 0; k++) {
			struct grader *g = suitegrader(s, k);
			free(g->name);
			free(g->pattern);
			regexfree(g->re);
			free(g->output_pattern);
			regexfree(g->outre);
			free(g->command);
			free(g->rubric);
			freeagent(&g->judge);
			strvfree(&g->choices);
			free(g->choicescore);
			strvfree(&g->files);
			strvfree(&g->depglobs);
			strvfree(&g->depdirs);
			strvfree(&g->envinputs);
			free(g->canon);
			strvfree(&g->sandbox.writable);
		}
		free(s->others);
		free(s->fields.id);
		free(s->fields.input);
		free(s->fields.expected);
		strvfree(&s->fields.choices);
		strvfree(&s->fields.columns);
		free(s->fields.expected_pattern);
		freepattern(s->fields.re);
		free(s->fields.canon);
	}
	free(ef->suites);
	for (size_t i = 0; i < ef->nprices; i++)
		free(ef->prices[i].model);
	free(ef->prices);
	free(ef->slurm.partition);
	free(ef->slurm.time);
	strvfree(&ef->slurm.sbatch_args);
	free(ef->path);
	free(ef->dir);
	free(ef->cache);
	free(ef->remote.url);
	free(ef->remote.token_env);
	free(ef);
}

struct suite *findsuite(struct evalfile *ef, const char *name)
{
	for (size_t i = 0; i < ef->nsuites; i++)
		if (!strcmp(ef->suites[i].name, name))
			return &ef->suites[i];
	return NULL;
}

struct evalfile *loadevalfile(const char *path, char **err)
{
	return loadwith(path, 0, err);
}

struct evalfile *loadevalfilelazy(const char *path, char **err)
{
	return loadwith(path, 1, err);
}
