/* dataset: public eval sets as they are published, read as records, and a
 * suite's field mapping applied to each record.
 *
 * Formats: .jsonl (one object a line), .json (one object, or an array of
 * objects), .csv and .tsv (a header row, RFC 4180 quoting), each also
 * compressed as .gz or .zst. Every record becomes one JSON object (a CSV
 * row: its header's names to its cells; an empty cell is no field) and the
 * line it starts on, so errors name FILE:LINE.
 *
 * The mapping (a suite's `fields` and `expected_pattern`) says which field
 * is the id, the input, the expected answer and the choices; a list-valued
 * cell (a JSON array or the Python list literal pandas writes) is parsed
 * into a list only where the mapping wants one. */
#ifndef DATASET_H
#define DATASET_H

#include <cjson/cJSON.h>

#include "load/evalfile.h"

struct record {
	int line;        /* the line the record starts on (1-based) */
	int ordinal;     /* its position among the file's records (1-based) */
	char *text;      /* the record as one JSON object */
	size_t len;
};

struct recordlist {
	struct record *v;
	size_t n, cap;
	int whole;       /* a .json file holding one object: one task named by the file */
};

/* the fields read as the expected answer when the suite maps none, in
 * order (OpenAI evals: ideal; Inspect: target; GSM8K: answer) */
extern const char *const expectedkeys[4];

/* is path a file of several tasks (.jsonl, .csv, .tsv, or any task file
 * compressed as .gz or .zst)? A plain .json is not: it is listed through
 * the stat cache and read only when it changed */
int isdataset(const char *path);
/* the file's bytes, decompressed by its extension (.gz: zlib, .zst: zstd);
 * NUL-terminated; NULL and *err when unreadable or corrupt */
char *readdata(const char *path, size_t *len, char **err);
/* every record of a dataset file (or a .json file); columns names a CSV's
 * columns when it has no header row (else NULL); -1 and *err naming
 * FILE:LINE on a bad record */
int readdataset(const char *path, const struct strv *columns, struct recordlist *out, char **err);
/* parse CSV (delim ',') or TSV (delim '\t') text into records: the header
 * row names the columns, or columns does when it is given (a file without
 * a header row, as the original MMLU CSVs are); file names errors */
int parsecsv(const char *file, const char *text, size_t len, int delim, const struct strv *columns,
             struct recordlist *out, char **err);
/* parse a JSON array of objects (or one object: out->whole) */
int parsejsonarray(const char *file, const char *text, size_t len, struct recordlist *out, char **err);
/* parse JSON lines; blank lines are skipped */
int parsejsonl(const char *file, const char *text, size_t len, struct recordlist *out, char **err);
void freerecords(struct recordlist *rl);
/* one JSON value filling s[0..n) but for whitespace (cJSON alone stops
 * after the first value: `{...} junk` would pass); NULL when it is not,
 * with *erroff (when not NULL) the offset where it went wrong */
cJSON *parsejson(const char *s, size_t n, size_t *erroff);

/* a list-valued cell: a JSON array, or a Python list literal as pandas
 * writes it ("['a, b', 'c']", also numpy's "['a' 'b']"); each item as a
 * string; NULL when s is neither */
cJSON *parselist(const char *s);
/* the value at a dotted path ("a.b.0"); a key holding the dots itself wins */
const cJSON *fieldat(const cJSON *o, const char *path);

/* the task id of a record under the mapping: the mapped (or "id") field,
 * else fallback; caller frees */
char *mappedid(const struct fieldmap *m, const cJSON *o, const char *fallback);
/* apply the mapping to a task's fields o: *input is its input (NULL when
 * it has none), *expected a new JSON value (a string or a list; through
 * expected_pattern) or NULL when it has none, and o["choices"] becomes the
 * mapped choices as a JSON list. -1 and *err (naming where and the field)
 * when a mapped list is not a list or expected_pattern does not match */
int mapfields(const struct fieldmap *m, cJSON *o, const char *where, const cJSON **input, cJSON **expected, char **err);

/* compile an expected_pattern with core/regex (the Evalfile's one dialect:
 * PCRE2); NULL and *err (a message, no location) when bad */
void *compilepattern(const char *pattern, char **err);
void freepattern(void *re);

#endif
