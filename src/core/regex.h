/* regex: the one regular-expression dialect of the Evalfile: Perl/Python
 * syntax through PCRE2 (\d, \s, \w, (?i), lazy quantifiers, named groups
 * (?P<name>...)), as people write patterns for Python's re and Inspect.
 * Matching follows Python's defaults: ^ and $ anchor at the whole text's
 * ends, . does not match a newline. Text is UTF-8; invalid bytes never
 * match but are no error. */
#ifndef REGEX_H
#define REGEX_H

struct regex;

/* compile pattern (icase: without case); NULL and *err (the reason and
 * the offset in the pattern) when it is invalid */
struct regex *regexcompile(const char *pattern, int icase, char **err);
/* does re match anywhere in s? */
int regexmatch(const struct regex *re, const char *s);
/* the answer re extracts from s: the text of its first group that took
 * part in the match (the whole match when it has no group), at the first
 * match, or at the last one when last is set; NULL when nothing matches.
 * Caller frees. */
char *regexextract(const struct regex *re, const char *s, int last);
/* how many capture groups the pattern has */
int regexgroups(const struct regex *re);
void regexfree(struct regex *re);

#endif
