/* remote: a cache of results shared by a team and its CI, on a server
 * that speaks the Bazel HTTP cache protocol (nginx with WebDAV PUT,
 * bazel-remote, ...) or on S3 (and MinIO, R2, GCS's S3 interoperability).
 *
 * Layout, the same over HTTP and S3:
 *   {url}/ac/{64 hex}   an action record: a small JSON object naming the
 *                       blobs of one run or grade entry by SHA-256, with
 *                       the run's record (output hash, exit, seconds) or
 *                       the grade (score, reason)
 *   {url}/cas/{sha256}  a blob: a run entry packed (store.h packrun), a
 *                       command agent's artifacts folder (store/archive.h),
 *                       a grader's log
 * The action record of a run key is at the SHA-256 of "evalmake-remote 1
 * run KEYHEX" (a grade key's: "... grade KEYHEX"): results are used only
 * under the exact key they were made for. Blobs are written before the
 * record that names them, and checked against their SHA-256 and size when
 * read: a bad one is ignored (one warning) and the cell runs here.
 *
 * What travels: successful run entries and the grades of expensive graders
 * (command, judge) only; errors are never stored, so never sent; entries
 * hold no secrets (they were redacted before they were stored).
 *
 * Faults (the server down, slow, refusing, failing) are one warning line
 * per run, after which the remote is left alone and the run goes on
 * locally; with required they are errors (the caller exits 2).
 * Requests go through core/http.h on the one loop, at most REMOTE_INFLIGHT
 * at once, connections reused. */
#ifndef REMOTE_H
#define REMOTE_H

#include "core/hash.h"
#include "core/loop.h"
#include "store/store.h"

#define REMOTE_INFLIGHT 64

struct remoteopts {
	const char *url;        /* http(s)://... or s3://bucket/prefix?region=&endpoint= */
	int upload;
	const char *token_env;  /* a bearer token's variable (HTTP), or NULL */
	double timeout;         /* seconds per request, and for the last uploads */
	int required;
};

struct remote;

/* the remote cache of o->url (checked by badremoteurl); nothing is sent
 * until there is something to fetch or upload */
struct remote *mkremote(const struct remoteopts *o, struct store *s, struct loop *l);
/* the URL as it may be printed: credentials replaced by *** */
const char *remotename(const struct remote *r);
/* does this run upload? */
int remoteuploads(const struct remote *r);

/* what a lookup found: the entry is stored locally now (or, looking only,
 * is there); not there; or not found for a fault or a bad blob */
enum { REMOTE_HIT, REMOTE_MISS, REMOTE_FAULT };
typedef void (*remotedone)(void *arg, int status);
/* fetch the run entry of key into the store (look: only ask whether the
 * remote has it); done is called once, from the loop or at once */
void remotegetrun(struct remote *r, hash key, int look, remotedone done, void *arg);
/* fetch the grade of key (an expensive grader's) into the store */
void remotegetgrade(struct remote *r, hash key, remotedone done, void *arg);
/* upload the stored run entry, or grade, of key (nothing unless upload is
 * on); goes out in the background as the loop runs */
void remoteputrun(struct remote *r, hash key);
void remoteputgrade(struct remote *r, hash key);
/* run the loop until every request is done (or the run is interrupted) */
void remotewait(struct remote *r);
/* run the loop until every upload is done, within the timeout; those left
 * are abandoned with a warning */
void remoteflush(struct remote *r);
/* did a fault happen on a remote that is required? (then exit 2) */
int remotefailed(const struct remote *r);
void freeremote(struct remote *r);

#endif
