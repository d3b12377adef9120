/* html: `evalmake report --html FILE [TARGET...]`, one self-contained page
 * of the cached state (nothing is run): per suite a summary, the score
 * over time from CACHE/history (an inline SVG plot), and a grid of tasks x
 * iterations coloured by score; a click on a cell shows its prompt,
 * output, transcript, expected answer, grade reason or error. The data is
 * JSON inside the page, every '<' escaped; the CSS and JS are inline; the
 * page loads nothing, so it can be opened offline or attached to a CI run.
 * FILE#cell=SUITE/TASK%23K opens a cell directly. */
#ifndef HTML_H
#define HTML_H

#include "cmd/project.h"

/* the report command */
int cmdreport(struct opts *o);

/* the live view (watch --serve): the page of plan p, its data as JSON
 * with "live": true and no cell texts (a click fetches them), and one
 * cell's texts (prompt, output, transcript, reason or error, expected) as
 * a JSON object. Each returns a string the caller frees. */
char *htmlpage(struct plan *p, const char *evalfile, const char *cache);
char *htmldata(struct plan *p, const char *evalfile, const char *cache);
char *htmlcell(struct plan *p, struct cell *c);

#endif
