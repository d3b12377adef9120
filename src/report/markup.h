/* markup: text from agents made safe for the formats CI systems and
 * browsers read. Agent output is arbitrary bytes: invalid UTF-8 would make
 * an XML reader reject the whole JUnit file, and "</script" inside data
 * would end an HTML page's script early. Every writer of XML, HTML,
 * Markdown or embedded JSON goes through these. */
#ifndef MARKUP_H
#define MARKUP_H

#include <stddef.h>

#include "core/util.h"

/* append n bytes of s as XML/HTML text, or an attribute value when attr:
 * & < > " ' escaped, CR (and in attributes tab and newline) as character
 * references, other control characters and invalid UTF-8 as U+FFFD */
void bufaddxml(struct buf *b, const char *s, size_t n, int attr);
/* append n bytes of s as valid UTF-8: invalid sequences become U+FFFD */
void bufaddutf8(struct buf *b, const char *s, size_t n);
/* append s as one Markdown table cell's text: '|', '\' and '`' escaped,
 * line breaks as spaces, HTML special characters as entities */
void bufaddmdcell(struct buf *b, const char *s);
/* append JSON text for a <script> element: every '<' (only ever inside a
 * string) as \u003c, so no "</script" or "<!--" can appear */
void bufaddscriptjson(struct buf *b, const char *json);
/* a copy of s fit to print anywhere: declared keys redacted, invalid
 * UTF-8 as U+FFFD */
char *cleantext(const char *s);
/* make every string (values and keys) of a cJSON tree fit for a JSON
 * writer: declared keys redacted, invalid UTF-8 as U+FFFD (cJSON copies
 * bytes as they are, and one bad byte makes the whole text invalid JSON) */
void cleanjson(void *tree);
/* the first n bytes of s (or up to its NUL), cut back to a whole UTF-8
 * character; a copy */
char *utf8cut(const char *s, size_t n);

#endif
