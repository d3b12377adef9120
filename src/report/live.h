/* live: the live view of `evalmake watch --serve`. Serves the HTML
 * report's page of the watcher's current plan on the one loop, and pushes
 * every change to it as server-sent events:
 *   GET /          the page (the report's, without cell texts)
 *   GET /events    a stream: first the whole report ({"full": true, ...}),
 *                  then, per change, the suites with only the tasks whose
 *                  cells changed ({"suites": [{..., "tasks": [...]}]})
 *   GET /cell?id=SUITE/TASK%23K   one cell's texts, fetched on a click */
#ifndef LIVE_H
#define LIVE_H

#include "core/loop.h"
#include "plan/plan.h"

struct live;

/* listen as serve.h's mkserver does (spec "" for 127.0.0.1 and a free
 * port); *pp is the watcher's current plan (NULL while there is none),
 * read at every request. NULL and *err set when it cannot listen */
struct live *mklive(struct loop *l, const char *spec, struct plan **pp, const char *evalfile, const char *cache,
                    char **err);
/* the page's URL */
const char *liveurl(struct live *lv);
/* is it reachable from other machines? */
int livepublic(struct live *lv);
/* push what changed since the last push to every open page; at most a
 * few times a second unless now is set (a timer sends the rest) */
void livepush(struct live *lv, int now);
void freelive(struct live *lv);

#endif
