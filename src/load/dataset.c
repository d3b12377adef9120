/* dataset: see dataset.h. A dataset file is read whole (decompressed in
 * memory, up to MAXDATA bytes) and split into records; each record keeps
 * its own JSON text, so a task is loaded later from its record alone and
 * its content hash covers only its own row. Expected workload: files of a
 * few thousand to a few hundred thousand rows, read when they change. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "load/dataset.h"
#include "core/regex.h"
#include "core/seen.h"
#include "core/util.h"

#define MAXDATA ((size_t)1 << 30) /* decompressed bytes of one file */

const char *const expectedkeys[4] = {"expected", "ideal", "target", "answer"};

static int endswith(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && !memcmp(s + len - n, suffix, n);
}

/* the length of path without a .gz or .zst suffix */
static size_t baselen(const char *path)
{
	size_t len = strlen(path);

	if (endswith(path, len, ".gz"))
		return len - 3;
	if (endswith(path, len, ".zst"))
		return len - 4;
	return len;
}

int isdataset(const char *path)
{
	size_t len = strlen(path), n = baselen(path);

	if (endswith(path, n, ".jsonl") || endswith(path, n, ".csv") || endswith(path, n, ".tsv"))
		return 1;
	return n != len && endswith(path, n, ".json");
}

static char *readgz(const char *path, size_t *len, char **err)
{
	seenpath(path, 1);
	gzFile z = gzopen(path, "rb");
	struct buf b = {.max = MAXDATA};
	char chunk[65536];
	int n, e;

	if (!z) {
		*err = xasprintf("%s: cannot read: %s", path, strerror(errno ? errno : ENOMEM));
		return NULL;
	}
	while ((n = gzread(z, chunk, sizeof(chunk))) > 0) {
		if (gzdirect(z)) { /* zlib would read a plain file as it is */
			*err = xasprintf("%s: not a valid gzip file: no gzip header", path);
			goto fail;
		}
		if (bufadd(&b, chunk, (size_t)n) < 0) {
			*err = xasprintf("%s: more than %zu bytes uncompressed", path, MAXDATA);
			goto fail;
		}
	}
	const char *msg = gzerror(z, &e); /* a truncated stream ends with 0 and Z_BUF_ERROR */
	if (n < 0 || (e != Z_OK && e != Z_STREAM_END)) {
		*err = xasprintf("%s: not a valid gzip file: %s", path, e == Z_ERRNO ? strerror(errno) : msg);
		goto fail;
	}
	gzclose(z);
	bufadds(&b, "");
	*len = b.len;
	return bufdetach(&b);
fail:
	gzclose(z);
	buffree(&b);
	return NULL;
}

static char *readzst(const char *path, size_t *len, char **err)
{
	size_t zlen, r = 0;
	char *z = readfile(path, &zlen);
	struct buf b = {.max = MAXDATA};
	ZSTD_DStream *ds;
	char chunk[65536];

	if (!z) {
		*err = xasprintf("%s: cannot read: %s", path, filewhy(errno));
		return NULL;
	}
	ds = ZSTD_createDStream();
	ZSTD_initDStream(ds);
	ZSTD_inBuffer in = {z, zlen, 0};
	while (in.pos < in.size) {
		ZSTD_outBuffer out = {chunk, sizeof(chunk), 0};
		r = ZSTD_decompressStream(ds, &out, &in);
		if (ZSTD_isError(r)) {
			*err = xasprintf("%s: not a valid zstd file: %s", path, ZSTD_getErrorName(r));
			goto fail;
		}
		if (bufadd(&b, chunk, out.pos) < 0) {
			*err = xasprintf("%s: more than %zu bytes uncompressed", path, MAXDATA);
			goto fail;
		}
		if (!out.pos && !r)
			break;
	}
	/* the input may end while the decoder still holds output */
	for (int i = 0; r && i < 1 << 20; i++) {
		ZSTD_outBuffer out = {chunk, sizeof(chunk), 0};
		r = ZSTD_decompressStream(ds, &out, &in);
		if (ZSTD_isError(r) || (!out.pos && r)) {
			*err = xasprintf("%s: truncated zstd file", path);
			goto fail;
		}
		if (bufadd(&b, chunk, out.pos) < 0) {
			*err = xasprintf("%s: more than %zu bytes uncompressed", path, MAXDATA);
			goto fail;
		}
	}
	ZSTD_freeDStream(ds);
	free(z);
	bufadds(&b, "");
	*len = b.len;
	return bufdetach(&b);
fail:
	ZSTD_freeDStream(ds);
	free(z);
	buffree(&b);
	return NULL;
}

char *readdata(const char *path, size_t *len, char **err)
{
	size_t plen = strlen(path), n = 0;
	char *text;

	*err = NULL;
	if (endswith(path, plen, ".gz")) {
		text = readgz(path, &n, err);
	} else if (endswith(path, plen, ".zst")) {
		text = readzst(path, &n, err);
	} else {
		text = readfile(path, &n);
		if (!text)
			*err = xasprintf("%s: cannot read: %s", path, filewhy(errno));
	}
	/* a NUL would cut a field short: refuse, never cut */
	size_t off;
	if (text && hasnul(text, n, &off)) {
		*err = xasprintf("%s:%d: a NUL byte (expected text)", path, lineat(text, off));
		free(text);
		return NULL;
	}
	*len = n;
	return text;
}

cJSON *parsejson(const char *s, size_t n, size_t *erroff)
{
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(s, n, &end, 0);

	if (!o) {
		end = cJSON_GetErrorPtr();
		if (erroff)
			*erroff = end >= s && end <= s + n ? (size_t)(end - s) : 0;
		return NULL;
	}
	while (end < s + n && isspace((unsigned char)*end))
		end++;
	if (end < s + n) {
		cJSON_Delete(o);
		if (erroff)
			*erroff = (size_t)(end - s);
		return NULL;
	}
	return o;
}

static void addrecord(struct recordlist *rl, int line, char *text, size_t len)
{
	xgrow(&rl->v, &rl->cap, rl->n + 1, sizeof(*rl->v));
	rl->v[rl->n] = (struct record){line, (int)rl->n + 1, text, len};
	rl->n++;
}

static int countlines(const char *p, const char *end)
{
	int n = 0;

	for (; p < end; p++)
		n += *p == '\n';
	return n;
}

int parsejsonl(const char *file, const char *text, size_t len, struct recordlist *out, char **err)
{
	const char *p, *end;
	int line = 0;

	*err = NULL;
	for (p = text; p < text + len; p = end + 1) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			end = text + len;
		line++;
		size_t n = (size_t)(end - p);
		if (n && p[n - 1] == '\r')
			n--;
		size_t sp = 0;
		while (sp < n && isspace((unsigned char)p[sp]))
			sp++;
		if (sp == n)
			continue;
		cJSON *o = parsejson(p, n, NULL);
		if (!o || !cJSON_IsObject(o)) {
			*err = xasprintf("%s:%d: expected one JSON object per line%s", file, line,
			                 o ? "" : " (this line is not valid JSON)");
			cJSON_Delete(o);
			return -1;
		}
		cJSON_Delete(o);
		addrecord(out, line, xstrndup(p, n), n);
	}
	return 0;
}

static const char *skipws(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

int parsejsonarray(const char *file, const char *text, size_t len, struct recordlist *out, char **err)
{
	const char *end = text + len, *p = text, *at = text;
	int line = 1;

	*err = NULL;
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	p = skipws(p, end);
	if (p < end && *p == '{') {
		size_t off = 0;
		cJSON *o = parsejson(p, (size_t)(end - p), &off);
		if (!cJSON_IsObject(o)) {
			*err = xasprintf("%s:%d: expected one JSON object or an array of objects (the file is not valid JSON)",
			                 file, lineat(text, (size_t)(p - text) + off));
			cJSON_Delete(o);
			return -1;
		}
		cJSON_Delete(o);
		addrecord(out, 1, xstrndup(p, (size_t)(end - p)), (size_t)(end - p));
		out->whole = 1;
		return 0;
	}
	if (p >= end || *p != '[') {
		*err = xasprintf("%s: expected one JSON object or an array of objects", file);
		return -1;
	}
	p = skipws(p + 1, end);
	if (p < end && *p == ']')
		return 0;
	for (;;) {
		const char *pe = NULL;
		line += countlines(at, p);
		at = p;
		cJSON *o = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &pe, 0);
		if (!cJSON_IsObject(o)) {
			*err = xasprintf("%s:%d: expected a JSON object (item %zu of the array)%s", file, line, out->n + 1,
			                 o ? "" : ": not valid JSON");
			cJSON_Delete(o);
			return -1;
		}
		cJSON_Delete(o);
		addrecord(out, line, xstrndup(p, (size_t)(pe - p)), (size_t)(pe - p));
		p = skipws(pe, end);
		if (p < end && *p == ',') {
			p = skipws(p + 1, end);
			continue;
		}
		if (p < end && *p == ']' && skipws(p + 1, end) == end)
			return 0;
		line += countlines(at, p);
		*err = xasprintf("%s:%d: expected ',' or the closing ']' of the array", file, line);
		return -1;
	}
}

/* one CSV row from *pp: its fields into row, lines counted in *line; 0 at
 * the end of the text, 1 for a row, -1 and *err on a bad quote */
static int csvrow(const char *file, const char **pp, const char *end, int delim, int *line, struct strv *row,
                  char **err)
{
	const char *p = *pp;
	struct buf f = {0};

	if (p >= end)
		return 0;
	for (;;) {
		f.len = 0;
		bufadds(&f, "");
		if (p < end && *p == '"') {
			int qline = *line;
			for (p++;; p++) {
				if (p >= end) {
					*err = xasprintf("%s:%d: a quoted field is not closed (no closing '\"')", file, qline);
					buffree(&f);
					return -1;
				}
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"') {
						bufaddc(&f, '"');
						p++;
						continue;
					}
					p++;
					break;
				}
				if (*p == '\n')
					(*line)++;
				bufaddc(&f, *p);
			}
			if (p < end && *p != delim && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
				*err = xasprintf("%s:%d: expected '%s' or the end of the line after a closing quote", file, *line,
				                 delim == '\t' ? "\\t" : ",");
				buffree(&f);
				return -1;
			}
		} else {
			while (p < end && *p != delim && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n'))
				bufaddc(&f, *p++);
		}
		strvadd(row, f.s);
		if (p < end && *p == delim) {
			p++;
			continue;
		}
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
		(*line)++;
		break;
	}
	buffree(&f);
	*pp = p;
	return 1;
}

int parsecsv(const char *file, const char *text, size_t len, int delim, const struct strv *columns,
             struct recordlist *out, char **err)
{
	const char *p = text, *end = text + len;
	struct strv header = {0}, row = {0};
	int line = 1, headerline = 0, r;

	*err = NULL;
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3; /* the byte order mark spreadsheets write */
	if (columns && columns->n) {
		for (size_t i = 0; i < columns->n; i++)
			strvadd(&header, columns->v[i]);
		headerline = -1;
	}
	for (;;) {
		int rowline = line;
		strvfree(&row);
		if ((r = csvrow(file, &p, end, delim, &line, &row, err)) <= 0)
			break;
		if (row.n == 1 && !row.v[0][0])
			continue; /* a blank line */
		if (!headerline) {
			headerline = rowline;
			for (size_t i = 0; i < row.n; i++)
				for (size_t j = 0; j < i; j++)
					if (row.v[i][0] && !strcmp(row.v[i], row.v[j])) {
						*err = xasprintf("%s:%d: column '%s' appears twice in the header", file, rowline, row.v[i]);
						r = -1;
						goto done;
					}
			header = row;
			memset(&row, 0, sizeof(row));
			continue;
		}
		if (row.n != header.n) {
			char *names = headerline > 0 ? xasprintf("the header (line %d)", headerline)
			                             : xstrdup("the suite's fields.columns");
			*err = xasprintf("%s:%d: %zu field%s, but %s has %zu columns", file, rowline, row.n,
			                 row.n == 1 ? "" : "s", names, header.n);
			free(names);
			r = -1;
			break;
		}
		cJSON *o = cJSON_CreateObject();
		for (size_t i = 0; i < row.n; i++)
			if (header.v[i][0] && row.v[i][0]) /* an unnamed column (pandas' index) or an empty cell: no field */
				cJSON_AddStringToObject(o, header.v[i], row.v[i]);
		char *s = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		addrecord(out, rowline, xstrdup(s), strlen(s));
		cJSON_free(s);
	}
	if (r == 0 && !headerline)
		*err = xasprintf("%s: expected a header row naming the columns", file);
done:
	strvfree(&row);
	strvfree(&header);
	return *err ? -1 : 0;
}

int readdataset(const char *path, const struct strv *columns, struct recordlist *out, char **err)
{
	size_t len, n = baselen(path);
	char *text = readdata(path, &len, err);
	int r;

	if (!text)
		return -1;
	if (endswith(path, n, ".csv"))
		r = parsecsv(path, text, len, ',', columns, out, err);
	else if (endswith(path, n, ".tsv"))
		r = parsecsv(path, text, len, '\t', columns, out, err);
	else if (endswith(path, n, ".json"))
		r = parsejsonarray(path, text, len, out, err);
	else
		r = parsejsonl(path, text, len, out, err);
	free(text);
	return r;
}

void freerecords(struct recordlist *rl)
{
	for (size_t i = 0; i < rl->n; i++)
		free(rl->v[i].text);
	free(rl->v);
	memset(rl, 0, sizeof(*rl));
}

/* a JSON value as a list item: strings as they are, others as JSON text */
static cJSON *itemstring(const cJSON *v)
{
	if (cJSON_IsString(v))
		return cJSON_CreateString(v->valuestring);
	char *s = cJSON_PrintUnformatted(v);
	cJSON *r = cJSON_CreateString(s ? s : "");
	cJSON_free(s);
	return r;
}

/* the code point of a \xNN, \uNNNN or \UNNNNNNNN escape (p at its x, u
 * or U) as UTF-8 into b, p past it; -1 for a NUL, a surrogate or past
 * U+10FFFF, which no text holds */
static int pyhexescape(const char **pp, struct buf *b)
{
	const char *p = *pp;
	int n = *p == 'x' ? 2 : *p == 'u' ? 4 : 8;
	uint32_t cp = 0;

	for (int i = 1; i <= n; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return -1;
		cp = cp * 16 + (uint32_t)(isdigit((unsigned char)p[i]) ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	}
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return -1;
	if (cp < 0x80) {
		bufaddc(b, (char)cp);
	} else if (cp < 0x800) {
		bufaddc(b, (char)(0xC0 | cp >> 6));
		bufaddc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		bufaddc(b, (char)(0xE0 | cp >> 12));
		bufaddc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
		bufaddc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		bufaddc(b, (char)(0xF0 | cp >> 18));
		bufaddc(b, (char)(0x80 | (cp >> 12 & 0x3F)));
		bufaddc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
		bufaddc(b, (char)(0x80 | (cp & 0x3F)));
	}
	*pp = p + n;
	return 0;
}

/* one quoted Python string at *pp (its quote char first) into b, with the
 * escapes Python's repr() writes: pandas' to_csv writes a character that
 * str.isprintable() rejects (a no-break space, a C1 control of mojibake)
 * as \xa0, \u200b or \U0001f600 */
static int pystring(const char **pp, struct buf *b)
{
	const char *p = *pp;
	char q = *p++;

	for (; *p && *p != q; p++) {
		if (*p != '\\') {
			bufaddc(b, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 'n': bufaddc(b, '\n'); break;
		case 't': bufaddc(b, '\t'); break;
		case 'r': bufaddc(b, '\r'); break;
		case '\\': case '\'': case '"': bufaddc(b, *p); break;
		case 'x': case 'u': case 'U':
			if (pyhexescape(&p, b) < 0)
				return -1;
			break;
		case '\0': return -1;
		default: bufaddc(b, '\\'); bufaddc(b, *p);
		}
	}
	if (*p != q)
		return -1;
	*pp = p + 1;
	return 0;
}

cJSON *parselist(const char *s)
{
	const char *p = s;
	cJSON *a;

	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[')
		return NULL;
	a = cJSON_Parse(p);
	if (cJSON_IsArray(a)) {
		cJSON *r = cJSON_CreateArray(), *e;
		cJSON_ArrayForEach(e, a) cJSON_AddItemToArray(r, itemstring(e));
		cJSON_Delete(a);
		return r;
	}
	cJSON_Delete(a);
	/* a Python (or numpy) list literal of strings, numbers and constants */
	a = cJSON_CreateArray();
	for (p++;;) {
		while (isspace((unsigned char)*p) || *p == ',')
			p++;
		if (*p == ']')
			break;
		struct buf b = {0};
		bufadds(&b, "");
		if (*p == '\'' || *p == '"') {
			if (pystring(&p, &b) < 0) {
				buffree(&b);
				goto bad;
			}
		} else if (*p && strchr("-+.0123456789TFN", *p)) {
			while (*p && !isspace((unsigned char)*p) && *p != ',' && *p != ']')
				bufaddc(&b, *p++);
		} else {
			buffree(&b);
			goto bad;
		}
		cJSON_AddItemToArray(a, cJSON_CreateString(b.s));
		buffree(&b);
		if (!isspace((unsigned char)*p) && *p != ',' && *p != ']')
			goto bad;
	}
	for (p++; isspace((unsigned char)*p); p++)
		;
	if (*p)
		goto bad;
	return a;
bad:
	cJSON_Delete(a);
	return NULL;
}

const cJSON *fieldat(const cJSON *o, const char *path)
{
	const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, path) : NULL;

	if (v || !strchr(path, '.'))
		return v;
	char *copy = xstrdup(path), *save = NULL;
	for (char *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(o)) {
			char *end;
			long i = strtol(k, &end, 10);
			o = *end || i < 0 ? NULL : cJSON_GetArrayItem(o, (int)i);
		} else {
			o = cJSON_GetObjectItemCaseSensitive(o, k);
		}
	}
	free(copy);
	return o;
}

/* a present value: JSON null is no value */
static const cJSON *present(const cJSON *v)
{
	return v && !cJSON_IsNull(v) ? v : NULL;
}

char *mappedid(const struct fieldmap *m, const cJSON *o, const char *fallback)
{
	const cJSON *id = present(fieldat(o, m && m->id ? m->id : "id"));

	if (cJSON_IsString(id) && id->valuestring[0])
		return xstrdup(id->valuestring);
	if (cJSON_IsNumber(id))
		return xasprintf("%.17g", id->valuedouble);
	if (m && m->id)
		return NULL;
	return xstrdup(fallback);
}

/* a short, one-line excerpt of s for messages */
static char *excerpt(const char *s)
{
	struct buf b = {0};
	size_t n = strlen(s);
	const char *from = n > 60 ? s + n - 60 : s; /* the end holds the answer */

	bufadds(&b, n > 60 ? "..." : "");
	for (; *from; from++)
		bufaddc(&b, *from == '\n' ? ' ' : *from);
	return bufdetach(&b);
}

/* the expected answer in s through the pattern: its first group (or the
 * whole match), trimmed; NULL when it does not match */
static char *extract(void *re, const char *s)
{
	char *v = regexextract(re, s, 0), *r = NULL;

	if (v)
		r = xstrdup(trim(v));
	free(v);
	return r;
}

static int mapexpected(const struct fieldmap *m, const cJSON *v, const char *where, const char *name, cJSON **out,
                       char **err)
{
	cJSON *r;

	if (!m || !m->re) {
		*out = cJSON_Duplicate(v, 1);
		return 0;
	}
	r = cJSON_IsArray(v) ? cJSON_CreateArray() : NULL;
	const cJSON *e = cJSON_IsArray(v) ? v->child : v;
	for (; e; e = cJSON_IsArray(v) ? e->next : NULL) {
		char *s = cJSON_IsString(e) ? xstrdup(e->valuestring) : cJSON_PrintUnformatted(e);
		char *x = extract(m->re, s ? s : "");
		if (!x) {
			char *ex = excerpt(s ? s : "");
			*err = xasprintf("%s: expected_pattern '%s' does not match field '%s' (\"%s\")", where,
			                 m->expected_pattern, name, ex);
			free(ex);
			free(s);
			cJSON_Delete(r);
			return -1;
		}
		free(s);
		if (r) {
			cJSON_AddItemToArray(r, cJSON_CreateString(x));
		} else {
			r = cJSON_CreateString(x);
		}
		free(x);
	}
	*out = r;
	return 0;
}

static int mapchoices(const struct fieldmap *m, cJSON *o, const char *where, char **err)
{
	cJSON *list = NULL;

	if (m && m->choicecols) {
		list = cJSON_CreateArray();
		for (size_t i = 0; i < m->choices.n; i++) {
			const cJSON *v = present(fieldat(o, m->choices.v[i]));
			if (!v) {
				*err = xasprintf("%s: no field '%s' (one of the suite's choices)", where, m->choices.v[i]);
				cJSON_Delete(list);
				return -1;
			}
			cJSON_AddItemToArray(list, itemstring(v));
		}
	} else {
		const char *path = m && m->choices.n ? m->choices.v[0] : "choices";
		const cJSON *v = present(fieldat(o, path));
		if (!v && m && m->choices.n) {
			/* named by the suite: without it the choice grader would
			 * guess letters, or take a column that happens to be
			 * called "choices" */
			*err = xasprintf("%s: no field '%s' (the suite's choices)", where, path);
			return -1;
		}
		if (!v)
			return 0; /* no choices: the grader says whether it needs them */
		if (cJSON_IsArray(v)) { /* each choice as text, like a CSV's */
			const cJSON *e;
			list = cJSON_CreateArray();
			cJSON_ArrayForEach(e, v) cJSON_AddItemToArray(list, itemstring(e));
		} else if (cJSON_IsString(v))
			list = parselist(v->valuestring);
		if (!list) {
			if (!m || !m->choices.n)
				return 0; /* an unmapped "choices" field that is no list: leave it */
			*err = xasprintf("%s: field '%s' (the choices) is not a list: expected a JSON array or a list "
			                 "literal like ['a', 'b']",
			                 where, path);
			return -1;
		}
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "choices");
	cJSON_AddItemToObject(o, "choices", list);
	return 0;
}

int mapfields(const struct fieldmap *m, cJSON *o, const char *where, const cJSON **input, cJSON **expected, char **err)
{
	const cJSON *v = NULL;
	const char *name = NULL;

	*err = NULL;
	*expected = NULL;
	if (mapchoices(m, o, where, err) < 0)
		return -1;
	*input = present(fieldat(o, m && m->input ? m->input : "input"));
	if (m && m->expected) {
		name = m->expected;
		v = present(fieldat(o, name));
	} else {
		for (size_t i = 0; i < LEN(expectedkeys) && !v; i++)
			if ((v = present(cJSON_GetObjectItemCaseSensitive(o, expectedkeys[i]))))
				name = expectedkeys[i];
	}
	if (v && mapexpected(m, v, where, name, expected, err) < 0)
		return -1;
	return 0;
}

void *compilepattern(const char *pattern, char **err)
{
	*err = NULL;
	return regexcompile(pattern, 0, err);
}

void freepattern(void *re)
{
	regexfree(re);
}
