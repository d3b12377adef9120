/* choices: see choices.h. The shuffle is a Fisher-Yates walk driven by
 * splitmix64 from an xxHash of (task id, iteration), so it is the same on
 * every machine and independent of anything else in the suite. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load/choices.h"
#include "core/hash.h"
#include "core/util.h"

int getchoices(const cJSON *fields, struct choices *c, char **err)
{
	const cJSON *f = fields ? cJSON_GetObjectItemCaseSensitive(fields, "choices") : NULL;

	memset(c, 0, sizeof(*c));
	*err = NULL;
	if (!f || cJSON_IsNull(f))
		return 0;
	const cJSON *labels = NULL;
	if (cJSON_IsObject(f)) { /* ARC: {"text": [...], "label": [...]} */
		labels = cJSON_GetObjectItemCaseSensitive(f, "label");
		f = cJSON_GetObjectItemCaseSensitive(f, "text");
	}
	if (!cJSON_IsArray(f)) {
		*err = xstrdup("'choices' must be a list (or an object with a 'text' list)");
		return -1;
	}
	if (cJSON_GetArraySize(f) > MAXCHOICES) {
		*err = xasprintf("'choices' has %d items: at most %d (A to Z)", cJSON_GetArraySize(f), MAXCHOICES);
		return -1;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, f) {
		if (cJSON_IsString(it)) {
			c->v[c->n] = it->valuestring;
		} else {
			char *s = cJSON_PrintUnformatted(it);
			c->own[c->n] = xstrdup(s ? s : "");
			cJSON_free(s);
			c->v[c->n] = c->own[c->n];
		}
		const cJSON *l = cJSON_GetArrayItem(labels, c->n);
		c->label[c->n] = cJSON_IsString(l) ? l->valuestring : NULL;
		c->perm[c->n] = c->n;
		c->n++;
	}
	return 0;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void shufflechoices(struct choices *c, const char *taskid, int iteration)
{
	struct hasher h;

	hashstart(&h, "shuffle_choices");
	hashaddstr(&h, taskid);
	hashaddu64(&h, (uint64_t)iteration);
	uint64_t s = hashend(&h).low64;
	for (int i = 0; i < c->n; i++)
		c->perm[i] = i;
	for (int i = c->n - 1; i > 0; i--) {
		int j = (int)(splitmix(&s) % (uint64_t)(i + 1));
		int t = c->perm[i];
		c->perm[i] = c->perm[j];
		c->perm[j] = t;
	}
}

char *renderchoices(const struct choices *c)
{
	struct buf b = {0};

	bufadds(&b, "");
	for (int i = 0; i < c->n; i++)
		bufaddf(&b, "%s%c) %s", i ? "\n" : "", 'A' + i, c->v[c->perm[i]]);
	return bufdetach(&b);
}

/* the shown position of original choice i */
static int shown(const struct choices *c, int i)
{
	for (int p = 0; p < c->n; p++)
		if (c->perm[p] == i)
			return p;
	return i;
}

int expectedchoice(const struct choices *c, const char *expected)
{
	int max = c->n ? c->n : MAXCHOICES;
	char *e = xstrdup(expected), *t = trim(e);
	size_t len = strlen(t);
	int r = -1;

	/* the dataset's own label */
	for (int i = 0; i < c->n; i++)
		if (c->label[i] && !strcmp(c->label[i], t)) {
			r = shown(c, i);
			goto done;
		}
	/* a letter: "B", "b", "(B)", "B)", "B." */
	if (len >= 2 && t[0] == '(' && t[len - 1] == ')') {
		t[--len] = '\0';
		t++;
		len--;
	} else if (len == 2 && (t[1] == ')' || t[1] == '.')) {
		len = 1;
	}
	if (len == 1 && isalpha((unsigned char)t[0]) && toupper((unsigned char)t[0]) - 'A' < max) {
		int i = toupper((unsigned char)t[0]) - 'A';
		r = c->n ? shown(c, i) : i;
		goto done;
	}
	/* an index: a JSON number or a digit string, 0-based */
	t = trim(strcpy(e, expected));
	if (*t && strspn(t, "0123456789") == strlen(t) && strlen(t) < 4 && atoi(t) < max) {
		r = c->n ? shown(c, atoi(t)) : atoi(t);
		goto done;
	}
	/* a choice's text, exactly, then without case or surrounding space */
	for (int i = 0; i < c->n && r < 0; i++)
		if (!strcmp(c->v[i], expected))
			r = shown(c, i);
	for (int i = 0; i < c->n && r < 0; i++) {
		char *v = xstrdup(c->v[i]);
		if (!strcasecmp(trim(v), t))
			r = shown(c, i);
		free(v);
	}
done:
	free(e);
	return r;
}

void freechoices(struct choices *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->own[i]);
	memset(c, 0, sizeof(*c));
}
