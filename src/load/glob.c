/* glob: see glob.h. Globs are matched component by component with
 * fnmatch(3); `**` is the only thing fnmatch does not know. Expansion walks
 * the file system the way glob(3) does (a literal component is one lstat,
 * a wildcard one readdir), so patterns glob(3) handled expand to the same
 * paths, spelt the same way: a deps file's name is part of a key. Workload:
 * a few globs per suite at load; a task glob may match 100,000 entries of
 * one folder, which costs one readdir and no stat. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/seen.h"
#include "load/glob.h"
#include "core/util.h"

#define MAXBRACES 4096   /* alternatives one glob may expand to */
#define MAXDEPTH 64      /* folders a walk or `**` goes down */

struct ignrule {
	char *pat;
	int neg, dironly, anchored;
};

struct ignore {
	struct ignrule *v;
	size_t n, cap;
};

/* the alternatives of a glob's first {a,b} group, expanded recursively */
static void braces(const char *pat, struct strv *out, int depth)
{
	for (size_t i = 0; pat[i] && depth < 16 && out->n < MAXBRACES; i++) {
		if (pat[i] == '\\' && pat[i + 1]) {
			i++;
			continue;
		}
		if (pat[i] != '{')
			continue;
		size_t j;
		int d = 0;
		for (j = i; pat[j]; j++) {
			if (pat[j] == '\\' && pat[j + 1])
				j++;
			else if (pat[j] == '{')
				d++;
			else if (pat[j] == '}' && --d == 0)
				break;
		}
		if (!pat[j])
			break; /* no closing brace: a literal '{' */
		size_t start = i + 1;
		d = 0;
		for (size_t k = i + 1; k <= j; k++) {
			if (pat[k] == '\\' && k + 1 < j) {
				k++;
				continue;
			}
			if (pat[k] == '{')
				d++;
			else if (pat[k] == '}' && d)
				d--;
			else if ((pat[k] == ',' && !d) || k == j) {
				char *alt = xasprintf("%.*s%.*s%s", (int)i, pat, (int)(k - start), pat + start, pat + j + 1);
				braces(alt, out, depth + 1);
				free(alt);
				start = k + 1;
			}
		}
		return;
	}
	if (out->n < MAXBRACES)
		strvadd(out, pat);
}

/* split a path or glob at '/', dropping "." and empty components; an
 * absolute one starts with an empty component */
static void split(const char *s, struct strv *out)
{
	if (s[0] == '/')
		strvadd(out, "");
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "/");
		if (n && !(n == 1 && p[0] == '.')) {
			char *c = xstrndup(p, n);
			strvadd(out, c);
			free(c);
		}
		p += n;
		while (*p == '/')
			p++;
	}
}

static int compmagic(const char *c)
{
	for (; *c; c++) {
		if (*c == '\\' && c[1])
			c++;
		else if (strchr("*?[", *c))
			return 1;
	}
	return 0;
}

int globmagic(const char *pat)
{
	return compmagic(pat) || strchr(pat, '{');
}

/* pattern components against path components; lead: a path that runs
 * out first matches too; period: wildcards do not match a leading '.' */
static int matchcomps(char **pc, size_t np, char **xc, size_t nx, int lead, int period)
{
	int flags = period ? FNM_PERIOD : 0;

	while (np && strcmp(pc[0], "**")) {
		if (!nx)
			return lead;
		if (fnmatch(pc[0], xc[0], flags))
			return 0;
		pc++, np--, xc++, nx--;
	}
	if (!np)
		return !nx;
	if (lead)
		return 1;
	if (np == 1) { /* a trailing `**`: everything below */
		for (size_t i = 0; i < nx; i++)
			if (period && xc[i][0] == '.')
				return 0;
		return nx > 0;
	}
	for (size_t k = 0; k <= nx; k++) {
		if (matchcomps(pc + 1, np - 1, xc + k, nx - k, 0, period))
			return 1;
		if (k < nx && period && xc[k][0] == '.')
			return 0;
	}
	return 0;
}

static int matchmode(const char *pat, const char *path, int lead, int period)
{
	struct strv alts = {0}, xc = {0};
	int r = 0;

	braces(pat, &alts, 0);
	split(path, &xc);
	for (size_t i = 0; i < alts.n && !r; i++) {
		struct strv pc = {0};
		split(alts.v[i], &pc);
		r = matchcomps(pc.v, pc.n, xc.v, xc.n, lead, period);
		strvfree(&pc);
	}
	strvfree(&alts);
	strvfree(&xc);
	return r;
}

int globmatch(const char *pat, const char *path)
{
	return matchmode(pat, path, 0, 1);
}

int globleads(const char *pat, const char *path)
{
	return matchmode(pat, path, 1, 1);
}

int globjunk(const char *name)
{
	return !strcmp(name, ".git") || !strcmp(name, "__pycache__") || editorjunk(name);
}

/* path without its leading "./" components */
static const char *norm(const char *p)
{
	while (p[0] == '.' && p[1] == '/') {
		p += 2;
		while (*p == '/')
			p++;
	}
	return p;
}

struct walker {
	const struct globskip *skip;
	struct strv *out, *dirs;
	size_t n;
};

static char *join(const char *base, const char *name)
{
	size_t l = strlen(base);

	if (!l)
		return xstrdup(name);
	return xasprintf(base[l - 1] == '/' ? "%s%s" : "%s/%s", base, name);
}

static void add(struct walker *w, const char *path)
{
	strvadd(w->out, path);
	w->n++;
}

static void adddir(struct walker *w, const char *dir)
{
	if (w->dirs)
		strvadd(w->dirs, dir[0] ? dir : ".");
}

/* is the folder or file at path, found by a wildcard, left out? */
static int skipped(struct walker *w, const char *path, const char *name, int isdir, int useignore)
{
	const struct globskip *s = w->skip;

	if (!s)
		return 0;
	if (s->junk && globjunk(name))
		return 1;
	if (s->cache && !strcmp(norm(path), norm(s->cache)))
		return 1;
	if (useignore && s->ignore && path[0] != '/' && ignored(s->ignore, norm(path), isdir))
		return 1;
	return 0;
}

static int isrealdir(const char *path)
{
	struct stat st;
	int rc = lstat(path, &st);

	seenstat(path, 0, rc, &st);
	return rc == 0 && S_ISDIR(st.st_mode);
}

static int isdirat(const char *path)
{
	struct stat st;
	int rc = stat(path, &st);

	seenstat(path, 1, rc, &st);
	return rc == 0 && S_ISDIR(st.st_mode);
}

/* a trailing `**`: every entry below base that is not hidden */
static void everything(struct walker *w, const char *base, int depth)
{
	DIR *d = opendirseen(base[0] ? base : ".");
	struct dirent *e;

	adddir(w, base);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *p = join(base, e->d_name);
		int dir = isrealdir(p);
		if (!skipped(w, p, e->d_name, dir, 1)) {
			add(w, p);
			if (dir && depth < MAXDEPTH)
				everything(w, p, depth + 1);
		}
		free(p);
	}
	if (d)
		closedir(d);
}

static char *unescape(const char *c)
{
	char *s = xmalloc(strlen(c) + 1), *o = s;

	for (; *c; c++) {
		if (*c == '\\' && c[1])
			c++;
		*o++ = *c;
	}
	*o = '\0';
	return s;
}

static void expand(struct walker *w, const char *base, char **pc, size_t np, int depth)
{
	const char *c = pc[0];

	if (!np) {
		add(w, base);
		return;
	}
	if (depth > MAXDEPTH)
		return;
	if (!strcmp(c, "**")) {
		if (np == 1) {
			everything(w, base, depth);
			return;
		}
		adddir(w, base);
		expand(w, base, pc + 1, np - 1, depth + 1); /* zero folders */
		DIR *d = opendirseen(base[0] ? base : ".");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char *p = join(base, e->d_name);
			if (isrealdir(p) && !skipped(w, p, e->d_name, 1, 1))
				expand(w, p, pc, np, depth + 1);
			free(p);
		}
		if (d)
			closedir(d);
		return;
	}
	if (!compmagic(c)) {
		char *lit = unescape(c);
		char *p = base[0] || c[0] ? join(base, lit) : xstrdup("/");
		struct stat st;
		adddir(w, base);
		if (np == 1) {
			int rc = lstat(p, &st);
			seenstat(p, 0, rc, &st);
			if (rc == 0)
				add(w, p);
		} else if (isdirat(p)) {
			expand(w, p, pc + 1, np - 1, depth + 1);
		}
		free(p);
		free(lit);
		return;
	}
	adddir(w, base);
	DIR *d = opendirseen(base[0] ? base : ".");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || fnmatch(c, e->d_name, FNM_PERIOD))
			continue;
		char *p = join(base, e->d_name);
		if (np == 1) {
			if (!skipped(w, p, e->d_name, 0, 0)) /* no stat: a folder may hold 100,000 tasks */
				add(w, p);
		} else if (isdirat(p) && !skipped(w, p, e->d_name, 1, 0)) {
			expand(w, p, pc + 1, np - 1, depth + 1);
		}
		free(p);
	}
	if (d)
		closedir(d);
}

size_t globexpand(const char *pat, const struct globskip *skip, struct strv *out, struct strv *dirs)
{
	struct walker w = {skip, out, dirs, 0};
	struct strv alts = {0};

	braces(pat, &alts, 0);
	for (size_t i = 0; i < alts.n; i++) {
		struct strv pc = {0};
		split(alts.v[i], &pc);
		if (!pc.n) /* "." */
			add(&w, alts.v[i]);
		else if (pc.v[0][0])
			expand(&w, alts.v[i][0] == '.' && alts.v[i][1] == '/' ? "." : "", pc.v, pc.n, 0);
		else
			expand(&w, "/", pc.v + 1, pc.n - 1, 0);
		strvfree(&pc);
	}
	strvfree(&alts);
	return w.n;
}

static void walk(struct walker *w, const char *dir, int depth)
{
	DIR *d = opendirseen(dir);
	struct dirent *e;

	adddir(w, dir);
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = join(dir, e->d_name);
		struct stat st;
		int rc = lstat(p, &st);
		seenstat(p, 0, rc, &st);
		if (rc < 0) {
			st.st_mode = 0;
		} else if (S_ISLNK(st.st_mode)) {
			rc = stat(p, &st);
			seenstat(p, 1, rc, &st);
			if (rc < 0 || S_ISDIR(st.st_mode))
				st.st_mode = 0; /* a link to a folder is not followed, a broken one not read */
		}
		int isdir = S_ISDIR(st.st_mode);
		if ((isdir || S_ISREG(st.st_mode)) && !skipped(w, p, e->d_name, isdir, 1)) {
			if (!isdir)
				add(w, p);
			else if (depth < MAXDEPTH)
				walk(w, p, depth + 1);
		}
		free(p);
	}
	if (d)
		closedir(d);
}

size_t globwalk(const char *dir, const struct globskip *skip, struct strv *out, struct strv *dirs)
{
	struct walker w = {skip, out, dirs, 0};

	walk(&w, dir, 0);
	return w.n;
}

size_t globdeps(const char *pat, const struct globskip *skip, struct strv *out, struct strv *dirs, size_t *folders)
{
	struct strv m = {0};
	size_t files = 0;

	if (folders)
		*folders = 0;
	globexpand(pat, skip, &m, dirs);
	for (size_t j = 0; j < m.n; j++) {
		struct stat st;
		int rc = stat(m.v[j], &st);
		seenstat(m.v[j], 1, rc, &st);
		if (rc < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (folders)
				(*folders)++;
			files += globwalk(m.v[j], skip, out, dirs);
		} else if (S_ISREG(st.st_mode)) {
			strvadd(out, m.v[j]);
			files++;
		}
	}
	strvfree(&m);
	return files;
}

struct ignore *loadignore(const char *path)
{
	char *text = readfile(path, NULL);
	struct ignore *ig;

	if (!text)
		return NULL;
	ig = xcalloc(1, sizeof(*ig));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		size_t n = strlen(line);
		struct ignrule r = {0};
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		while (n && line[n - 1] == ' ' && !(n > 1 && line[n - 2] == '\\'))
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if (line[0] == '!') {
			r.neg = 1;
			line++, n--;
		} else if (line[0] == '\\' && (line[1] == '#' || line[1] == '!')) {
			line++, n--;
		}
		if (n && line[n - 1] == '/') {
			r.dironly = 1;
			line[--n] = '\0';
		}
		if (!n)
			continue;
		r.anchored = strchr(line, '/') != NULL;
		r.pat = xstrdup(line[0] == '/' ? line + 1 : line);
		xgrow(&ig->v, &ig->cap, ig->n + 1, sizeof(*ig->v));
		ig->v[ig->n++] = r;
	}
	free(text);
	return ig;
}

int ignored(const struct ignore *ig, const char *path, int isdir)
{
	const char *base = strrchr(path, '/');
	int r = 0;

	base = base ? base + 1 : path;
	for (size_t i = 0; ig && i < ig->n; i++) {
		const struct ignrule *x = &ig->v[i];
		if (x->dironly && !isdir)
			continue;
		if (x->anchored ? matchmode(x->pat, path, 0, 0) : fnmatch(x->pat, base, 0) == 0)
			r = !x->neg;
	}
	return r;
}

void freeignore(struct ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++)
		free(ig->v[i].pat);
	free(ig->v);
	free(ig);
}

/* is word the command tee (whose arguments are files it writes)? */
static int istee(const char *word)
{
	const char *base = strrchr(word, '/');

	return !strcmp(base ? base + 1 : word, "tee");
}

static void words(const char *cmd, struct strv *out, int depth)
{
	struct buf w = {0};
	int inword = 0, output = 0, tee = 0, first = 1; /* first: a command's first word */

	for (const char *p = cmd;; p++) {
		if (!*p || strchr(" \t\n|&;()<>", *p)) {
			if (inword) {
				char *s = bufdetach(&w);
				if (!output && !tee) {
					strvadd(out, s);
					if (strpbrk(s, " \t\n") && depth < 4)
						words(s, out, depth + 1);
					/* `| tee log.txt` writes log.txt: an input
					 * only until the first run rewrites it
					 * (tee the command, not `--mode tee x`) */
					tee = first && istee(s);
				}
				if (!output)
					first = 0;
				free(s);
				output = inword = 0;
			}
			if (!*p)
				break;
			if (*p == '>')
				output = 1;
			else if (*p == '<' || *p == '|' || *p == ';')
				output = 0;
			if (strchr("\n|&;()<", *p))
				tee = 0; /* the end of tee's command, or its stdin */
			if (strchr("\n|&;()", *p))
				first = 1;
			continue;
		}
		inword = 1;
		if (*p == '\'' && strchr(p + 1, '\'')) {
			const char *e = strchr(p + 1, '\'');
			bufadd(&w, p + 1, (size_t)(e - p - 1));
			p = e;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				bufaddc(&w, *p);
			}
			if (!*p)
				p--;
		} else if (*p == '\\' && p[1]) {
			bufaddc(&w, *++p);
		} else {
			bufaddc(&w, *p);
		}
	}
	buffree(&w);
}

void shellwords(const char *cmd, struct strv *out)
{
	words(cmd, out, 0);
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strvsortuniq(struct strv *sv)
{
	size_t k = 0;

	if (!sv->n)
		return;
	qsort(sv->v, sv->n, sizeof(*sv->v), cmpstr);
	for (size_t i = 0; i < sv->n; i++) {
		if (k && !strcmp(sv->v[k - 1], sv->v[i])) {
			free(sv->v[i]);
			continue;
		}
		sv->v[k++] = sv->v[i];
	}
	sv->n = k;
	sv->v[k] = NULL;
}
