/*
 * modelserver: a fake LLM API server for evalmake's tests and benchmarks.
 *
 * It speaks just enough of the OpenAI chat-completions API and the Anthropic
 * Messages API for evalmake's model clients to run against it without a
 * network or a real model.  Answers are deterministic functions of the last
 * user message ("REPLY: x" echoes x, anything else yields "hash:" + XXH64),
 * so tests can predict them and caches can be checked.  Faults (429, 500, 400,
 * malformed or truncated bodies, dropped or hung connections) can be queued
 * through a control endpoint or requested inside the prompt, and every API
 * response can be delayed by a fixed latency.  Delays and hangs suspend the
 * connection inside libmicrohttpd and a single timer thread resumes it, so a
 * thousand slow requests in flight cost no thread each.  It binds 127.0.0.1
 * only.
 *
 * Build:
 *   cc -std=c11 -Wall -Wextra -Werror -O2 -o modelserver modelserver.c $(pkg-config --cflags --libs libmicrohttpd libcjson libxxhash) -lpthread
 *
 * Usage:
 *   modelserver [--port N] [--port-file FILE] [--latency-ms N]
 *               [--max-body BYTES] [--threads N]
 *
 * API endpoints (POST): /v1/chat/completions, /chat/completions, /v1/messages
 * Control endpoints (no auth):
 *   GET  /_stats   counters: requests (API POSTs received, faulted ones too),
 *                  ok, faulted, rejected (401/400/413), by_path, by_fault,
 *                  auth_headers (distinct keys seen; keys themselves are never
 *                  shown), queued_faults, latency_ms, with_seed, last_seed,
 *                  with_temperature, last_temperature.
 *   POST /_reset   zeroes counters, empties the fault queue and restores the
 *                  --latency-ms latency.
 *   POST /_faults  {"faults":[{"type":"429","count":2,"retry_after":"1"}, ...],
 *                   "latency_ms":50}: appends to the fault queue (the next
 *                  API requests take them in order) and/or sets the latency.
 *                  Types: 429 500 400 malformed truncated drop hang
 *                  error200 (status 200, an error body whose message
 *                  quotes the request's key, as careless proxies do)
 *                  empty200 (status 200, valid JSON without an answer)
 *                  html (status 200, a text/html page) giant (status 200,
 *                  a 24 MiB answer) drip (a valid answer, one byte per
 *                  100 ms) reset (the connection closed with RST)
 *                  badutf8 (an answer that is not UTF-8) redirect (307 to
 *                  another host).
 *   A prompt containing FAULT:<type> gets that fault on every request.
 *
 * Order of checks for an API request: body size (413), queued fault, auth
 * (401), JSON and fields (400), FAULT:<type> in the prompt, then the answer.
 * Content given as a list of parts is joined with "\n" between text parts.
 * The latency applies to every API answer, injected faults included (a drop
 * closes after it); a hang never answers, and its socket is closed when the
 * client gives up or the server exits.
 */
#define _GNU_SOURCE

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <xxhash.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (8u * 1024u * 1024u)
#define DEFAULT_THREADS 4
#define CONNECTION_LIMIT 4096
#define LISTEN_BACKLOG 4096
#define HANG_POLL_MS 200 /* how often hung connections are checked for a client hang-up */
#define RESUME_BATCH 256
/* MHD clears each connection's memory pool between requests, so its 32 KiB
 * default costs a memset per request; API request headers are small. */
#define CONNECTION_MEMORY (16u * 1024u)

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* A test server has no sensible way to go on without memory. */
static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("modelserver: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Growable byte buffer, always NUL-terminated. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static unsigned long count_words(const char *s)
{
    unsigned long n = 0;
    bool in_word = false;
    for (; *s; s++) {
        bool space = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
                     *s == '\f' || *s == '\v';
        if (!space && !in_word)
            n++;
        in_word = !space;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Routes and faults                                                   */
/* ------------------------------------------------------------------ */

enum api { API_OPENAI, API_ANTHROPIC };

static const struct api_path {
    const char *path;
    enum api api;
} api_paths[] = {
    {"/v1/chat/completions", API_OPENAI},
    {"/chat/completions", API_OPENAI},
    {"/v1/messages", API_ANTHROPIC},
};
#define N_API_PATHS (sizeof api_paths / sizeof api_paths[0])

enum route { R_API, R_STATS, R_RESET, R_FAULTS, R_NOT_FOUND, R_BAD_METHOD };

enum fault { F_NONE, F_429, F_500, F_400, F_MALFORMED, F_TRUNCATED, F_DROP, F_HANG, F_ERROR200, F_EMPTY200,
             F_HTML, F_GIANT, F_DRIP, F_RESET, F_BADUTF8, F_REDIRECT, F_COUNT };

static const char *const fault_names[F_COUNT] = {
    "none", "429", "500", "400", "malformed", "truncated", "drop", "hang", "error200", "empty200",
    "html", "giant", "drip", "reset", "badutf8", "redirect",
};

static enum fault fault_from_name(const char *s)
{
    for (int f = F_NONE + 1; f < F_COUNT; f++)
        if (strcmp(s, fault_names[f]) == 0)
            return (enum fault)f;
    return F_NONE;
}

/* Finds the first "FAULT:<type>" in the prompt; the earliest one wins so that
 * a prompt naming several faults behaves predictably. */
static enum fault fault_in_prompt(const char *text)
{
    for (const char *p = strstr(text, "FAULT:"); p; p = strstr(p + 1, "FAULT:")) {
        const char *name = p + 6;
        for (int f = F_NONE + 1; f < F_COUNT; f++) {
            size_t n = strlen(fault_names[f]);
            if (strncmp(name, fault_names[f], n) == 0)
                return (enum fault)f;
        }
    }
    return F_NONE;
}

/* ------------------------------------------------------------------ */
/* Shared state: counters and the fault queue, under one mutex          */
/* ------------------------------------------------------------------ */

struct queued_fault {
    enum fault type;
    char *retry_after; /* NULL: no Retry-After header */
    unsigned long remaining;
    struct queued_fault *next;
};

static struct {
    pthread_mutex_t mu;
    unsigned long long requests, ok, faulted, rejected;
    unsigned long long by_path[N_API_PATHS];
    unsigned long long by_fault[F_COUNT];
    /* Only hashes of the keys are kept: the stats must never echo a secret. */
    uint64_t *key_hashes;
    size_t n_keys, cap_keys;
    unsigned long long with_seed, with_temperature;
    bool have_seed, have_temperature;
    double last_seed, last_temperature;
    struct queued_fault *queue_head, *queue_tail;
    uint64_t latency_ms;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t cli_latency_ms; /* what /_reset restores */
static size_t max_body = DEFAULT_MAX_BODY;
static atomic_ullong next_id = 1;

static void stats_count_received(size_t path_index)
{
    pthread_mutex_lock(&S.mu);
    S.requests++;
    S.by_path[path_index]++;
    pthread_mutex_unlock(&S.mu);
}

static void stats_count_outcome(enum fault f, bool ok)
{
    pthread_mutex_lock(&S.mu);
    if (f != F_NONE) {
        S.faulted++;
        S.by_fault[f]++;
    } else if (ok) {
        S.ok++;
    } else {
        S.rejected++;
    }
    pthread_mutex_unlock(&S.mu);
}

static void stats_record_key(const char *key)
{
    uint64_t h = XXH64(key, strlen(key), 0);
    pthread_mutex_lock(&S.mu);
    bool seen = false;
    for (size_t i = 0; i < S.n_keys && !seen; i++)
        seen = S.key_hashes[i] == h;
    if (!seen) {
        if (S.n_keys == S.cap_keys) {
            S.cap_keys = S.cap_keys ? 2 * S.cap_keys : 8;
            S.key_hashes = xrealloc(S.key_hashes, S.cap_keys * sizeof *S.key_hashes);
        }
        S.key_hashes[S.n_keys++] = h;
    }
    pthread_mutex_unlock(&S.mu);
}

static void stats_record_params(const cJSON *req)
{
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(req, "seed");
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(req, "temperature");
    pthread_mutex_lock(&S.mu);
    if (cJSON_IsNumber(seed)) {
        S.with_seed++;
        S.have_seed = true;
        S.last_seed = seed->valuedouble;
    }
    if (cJSON_IsNumber(temp)) {
        S.with_temperature++;
        S.have_temperature = true;
        S.last_temperature = temp->valuedouble;
    }
    pthread_mutex_unlock(&S.mu);
}

static uint64_t current_latency(void)
{
    pthread_mutex_lock(&S.mu);
    uint64_t ms = S.latency_ms;
    pthread_mutex_unlock(&S.mu);
    return ms;
}

/* Pops one request's worth of the queued fault at the head.  The caller owns
 * the returned Retry-After copy. */
static enum fault take_queued_fault(char **retry_after)
{
    enum fault f = F_NONE;
    *retry_after = NULL;
    pthread_mutex_lock(&S.mu);
    struct queued_fault *q = S.queue_head;
    if (q) {
        f = q->type;
        if (q->retry_after)
            *retry_after = xstrdup(q->retry_after);
        if (--q->remaining == 0) {
            S.queue_head = q->next;
            if (!S.queue_head)
                S.queue_tail = NULL;
            free(q->retry_after);
            free(q);
        }
    }
    pthread_mutex_unlock(&S.mu);
    return f;
}

static void free_fault_list(struct queued_fault *q)
{
    while (q) {
        struct queued_fault *next = q->next;
        free(q->retry_after);
        free(q);
        q = next;
    }
}

/* Caller holds S.mu. */
static unsigned long long queued_fault_count(void)
{
    unsigned long long n = 0;
    for (struct queued_fault *q = S.queue_head; q; q = q->next)
        n += q->remaining;
    return n;
}

static void reset_state(void)
{
    pthread_mutex_lock(&S.mu);
    free_fault_list(S.queue_head);
    S.queue_head = S.queue_tail = NULL;
    S.requests = S.ok = S.faulted = S.rejected = 0;
    memset(S.by_path, 0, sizeof S.by_path);
    memset(S.by_fault, 0, sizeof S.by_fault);
    S.n_keys = 0;
    S.with_seed = S.with_temperature = 0;
    S.have_seed = S.have_temperature = false;
    S.latency_ms = cli_latency_ms;
    pthread_mutex_unlock(&S.mu);
}

/* ------------------------------------------------------------------ */
/* Timer thread: resumes delayed connections and watches hung ones     */
/* ------------------------------------------------------------------ */

struct delayed {
    uint64_t due;
    struct MHD_Connection *conn;
};

struct hung {
    struct MHD_Connection *conn;
    int fd;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct delayed *heap; /* min-heap on due */
    size_t n, cap;
    struct hung *hung;
    size_t n_hung, cap_hung;
    bool stop;
    pthread_t thread;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void heap_push(struct delayed d)
{
    if (T.n == T.cap) {
        T.cap = T.cap ? 2 * T.cap : 256;
        T.heap = xrealloc(T.heap, T.cap * sizeof *T.heap);
    }
    size_t i = T.n++;
    while (i > 0 && T.heap[(i - 1) / 2].due > d.due) {
        T.heap[i] = T.heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    T.heap[i] = d;
}

static struct delayed heap_pop(void)
{
    struct delayed top = T.heap[0], last = T.heap[--T.n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= T.n)
            break;
        if (c + 1 < T.n && T.heap[c + 1].due < T.heap[c].due)
            c++;
        if (last.due <= T.heap[c].due)
            break;
        T.heap[i] = T.heap[c];
        i = c;
    }
    if (T.n)
        T.heap[i] = last;
    return top;
}

/* Called right after MHD_suspend_connection.  Once the timer has stopped,
 * nobody would resume the connection, so it is resumed at once. */
static void timer_schedule(struct MHD_Connection *conn, uint64_t due)
{
    pthread_mutex_lock(&T.mu);
    if (T.stop) {
        pthread_mutex_unlock(&T.mu);
        MHD_resume_connection(conn);
        return;
    }
    heap_push((struct delayed){due, conn});
    if (T.heap[0].conn == conn)
        pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static void timer_add_hung(struct MHD_Connection *conn, int fd)
{
    pthread_mutex_lock(&T.mu);
    if (T.stop) {
        pthread_mutex_unlock(&T.mu);
        MHD_resume_connection(conn);
        return;
    }
    if (T.n_hung == T.cap_hung) {
        T.cap_hung = T.cap_hung ? 2 * T.cap_hung : 16;
        T.hung = xrealloc(T.hung, T.cap_hung * sizeof *T.hung);
    }
    T.hung[T.n_hung++] = (struct hung){conn, fd};
    if (T.n_hung == 1)
        pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* MHD does not watch a suspended socket, so without this a hung connection
 * whose client gave up would hold its descriptor until the server exits.
 * Moves hung-up connections into batch; caller holds T.mu. */
static void collect_hung_up(struct MHD_Connection **batch, size_t *nb)
{
    struct pollfd *fds = xrealloc(NULL, T.n_hung * sizeof *fds);
    for (size_t i = 0; i < T.n_hung; i++)
        fds[i] = (struct pollfd){.fd = T.hung[i].fd, .events = POLLRDHUP};
    if (poll(fds, T.n_hung, 0) > 0) {
        /* Walk backwards so swap-with-last removal keeps fds[] aligned. */
        for (size_t i = T.n_hung; i-- > 0 && *nb < RESUME_BATCH;) {
            if (!(fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
                continue;
            batch[(*nb)++] = T.hung[i].conn;
            T.hung[i] = T.hung[--T.n_hung];
        }
    }
    free(fds);
}

static void timed_wait_until(uint64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    pthread_cond_timedwait(&T.cv, &T.mu, &ts);
}

static void *timer_main(void *arg)
{
    (void)arg;
    struct MHD_Connection *batch[RESUME_BATCH];
    uint64_t next_hang_check = 0;
    pthread_mutex_lock(&T.mu);
    while (!T.stop) {
        uint64_t now = now_ms();
        size_t nb = 0;
        while (T.n && T.heap[0].due <= now && nb < RESUME_BATCH)
            batch[nb++] = heap_pop().conn;
        if (T.n_hung && now >= next_hang_check) {
            collect_hung_up(batch, &nb);
            next_hang_check = now + HANG_POLL_MS;
        }
        if (nb) {
            /* Resume outside our lock so handlers scheduling new delays
             * are not held up by MHD's own locking. */
            pthread_mutex_unlock(&T.mu);
            for (size_t i = 0; i < nb; i++)
                MHD_resume_connection(batch[i]);
            pthread_mutex_lock(&T.mu);
            continue;
        }
        uint64_t deadline = UINT64_MAX;
        if (T.n)
            deadline = T.heap[0].due;
        if (T.n_hung && next_hang_check < deadline)
            deadline = next_hang_check;
        if (deadline == UINT64_MAX)
            pthread_cond_wait(&T.cv, &T.mu);
        else
            timed_wait_until(deadline);
    }
    pthread_mutex_unlock(&T.mu);
    return NULL;
}

static int timer_start(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* now_ms() is monotonic */
    pthread_cond_init(&T.cv, &attr);
    pthread_condattr_destroy(&attr);
    return pthread_create(&T.thread, NULL, timer_main, NULL);
}

/* MHD_stop_daemon must not meet a suspended connection, so everything the
 * timer still holds is resumed here; handlers then answer or close. */
static void timer_stop_and_resume_all(void)
{
    pthread_mutex_lock(&T.mu);
    T.stop = true;
    pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
    pthread_join(T.thread, NULL);
    for (size_t i = 0; i < T.n; i++)
        MHD_resume_connection(T.heap[i].conn);
    for (size_t i = 0; i < T.n_hung; i++)
        MHD_resume_connection(T.hung[i].conn);
    free(T.heap);
    free(T.hung);
    T.heap = NULL;
    T.hung = NULL;
    T.n = T.n_hung = 0;
    pthread_cond_destroy(&T.cv);
}

/* ------------------------------------------------------------------ */
/* Per-request state                                                   */
/* ------------------------------------------------------------------ */

enum phase { PH_BODY, PH_WAITING, PH_DONE };
enum action { ACT_RESPOND, ACT_DROP, ACT_HANG, ACT_RESET };

struct request {
    enum route route;
    size_t path_index; /* into api_paths, for R_API */
    struct buf body;
    bool too_large;
    enum phase phase;
    enum action action;
    unsigned status;
    struct MHD_Response *resp;
};

static void set_response(struct request *r, unsigned status, struct MHD_Response *resp)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->status = status;
    r->resp = resp;
    r->action = ACT_RESPOND;
}

static void set_json(struct request *r, unsigned status, cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text)
        abort(); /* cJSON fails only on allocation failure */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    set_response(r, status, resp);
}

static void set_raw(struct request *r, unsigned status, const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                        MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    set_response(r, status, resp);
}

/* Each API reports errors in its own shape; clients parse them differently. */
static cJSON *error_json(enum api api, const char *type, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_CreateObject();
    if (api == API_ANTHROPIC) {
        cJSON_AddStringToObject(root, "type", "error");
        cJSON_AddStringToObject(err, "type", type);
        cJSON_AddStringToObject(err, "message", message);
    } else {
        cJSON_AddStringToObject(err, "message", message);
        cJSON_AddStringToObject(err, "type", type);
    }
    cJSON_AddItemToObject(root, "error", err);
    return root;
}

static void set_error(struct request *r, enum api api, unsigned status,
                      const char *type, const char *message)
{
    set_json(r, status, error_json(api, type, message));
}

/* ------------------------------------------------------------------ */
/* Prompt handling and answers                                         */
/* ------------------------------------------------------------------ */

/* Content is a string or a list of parts; text parts are joined with "\n". */
static void append_content(struct buf *out, const cJSON *content)
{
    if (cJSON_IsString(content)) {
        buf_add(out, content->valuestring, strlen(content->valuestring));
        return;
    }
    if (!cJSON_IsArray(content))
        return;
    bool first = true;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(part))
            text = part;
        if (!cJSON_IsString(text))
            continue;
        if (!first)
            buf_add(out, "\n", 1);
        buf_add(out, text->valuestring, strlen(text->valuestring));
        first = false;
    }
}

static char *last_user_text(const cJSON *messages)
{
    struct buf out = {0};
    buf_add(&out, "", 0);
    const cJSON *last = NULL, *m;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
            last = m;
    }
    if (last)
        append_content(&out, cJSON_GetObjectItemCaseSensitive(last, "content"));
    return out.p;
}

static unsigned long prompt_words(const cJSON *system, const cJSON *messages)
{
    struct buf all = {0};
    buf_add(&all, "", 0);
    append_content(&all, system);
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        buf_add(&all, "\n", 1);
        append_content(&all, cJSON_GetObjectItemCaseSensitive(m, "content"));
    }
    unsigned long n = count_words(all.p);
    free(all.p);
    return n;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* "REPLY: x" on a line of its own wins; otherwise a stable hash of the text. */
static char *compute_answer(const char *text)
{
    for (const char *line = text; line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        const char *p = line;
        while (is_blank(*p))
            p++;
        if (strncmp(p, "REPLY:", 6) != 0)
            continue;
        p += 6;
        const char *end = strchr(p, '\n');
        if (!end)
            end = p + strlen(p);
        while (p < end && is_blank(*p))
            p++;
        while (end > p && is_blank(end[-1]))
            end--;
        struct buf out = {0};
        buf_add(&out, p, (size_t)(end - p));
        return out.p;
    }
    char *out = xrealloc(NULL, 5 + 16 + 1);
    snprintf(out, 22, "hash:%016" PRIx64, (uint64_t)XXH64(text, strlen(text), 0));
    return out;
}

static char *served_model(const char *model)
{
    size_t n = strlen(model) + sizeof "-served";
    char *s = xrealloc(NULL, n);
    snprintf(s, n, "%s-served", model);
    return s;
}

static cJSON *openai_reply(const char *model, const char *answer,
                           unsigned long prompt, unsigned long completion)
{
    char id[32], *served = served_model(model);
    snprintf(id, sizeof id, "cmpl-%llu", (unsigned long long)atomic_fetch_add(&next_id, 1));
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "object", "chat.completion");
    cJSON_AddNumberToObject(root, "created", (double)time(NULL));
    cJSON_AddStringToObject(root, "model", served);
    cJSON *choice = cJSON_CreateObject();
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON *msg = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "content", answer);
    cJSON_AddStringToObject(choice, "finish_reason", "stop");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), choice);
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(usage, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(usage, "total_tokens", (double)(prompt + completion));
    free(served);
    return root;
}

static cJSON *anthropic_reply(const char *model, const char *answer,
                              unsigned long prompt, unsigned long completion)
{
    char id[32], *served = served_model(model);
    snprintf(id, sizeof id, "msg_%llu", (unsigned long long)atomic_fetch_add(&next_id, 1));
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "type", "message");
    cJSON_AddStringToObject(root, "role", "assistant");
    cJSON_AddStringToObject(root, "model", served);
    cJSON *block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "type", "text");
    cJSON_AddStringToObject(block, "text", answer);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "content"), block);
    cJSON_AddStringToObject(root, "stop_reason", "end_turn");
    cJSON_AddNullToObject(root, "stop_sequence");
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", (double)prompt);
    cJSON_AddNumberToObject(usage, "output_tokens", (double)completion);
    free(served);
    return root;
}

static cJSON *api_reply(enum api api, const char *model, const char *answer,
                        unsigned long prompt, unsigned long completion)
{
    return api == API_ANTHROPIC ? anthropic_reply(model, answer, prompt, completion)
                                : openai_reply(model, answer, prompt, completion);
}

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

/* A body whose Content-Length promises more than is sent: the reader hands
 * out the first part, then reports an error so MHD closes the socket. */
struct truncated_body {
    char *text;
    size_t sent;
};

static ssize_t truncated_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct truncated_body *t = cls;
    if (pos >= t->sent)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = t->sent - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, t->text + pos, n);
    return (ssize_t)n;
}

static void truncated_free(void *cls)
{
    struct truncated_body *t = cls;
    free(t->text);
    free(t);
}

static void set_truncated(struct request *r, enum api api, const char *model)
{
    cJSON *obj = api_reply(api, model ? model : "unknown", "truncated response", 0, 2);
    struct truncated_body *t = xrealloc(NULL, sizeof *t);
    t->text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!t->text)
        abort();
    size_t full = strlen(t->text);
    t->sent = full / 2;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        full, 4096, truncated_read, t, truncated_free);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    set_response(r, MHD_HTTP_OK, resp);
}

/* giant: a 200 whose body is an answer of GIANT_SIZE bytes, more than any
 * client should buffer (evalmake caps a response at 16 MiB) */
#define GIANT_SIZE (24u << 20)
static const char giant_head[] = "{\"choices\":[{\"message\":{\"content\":\"";
static const char giant_tail[] = "\"}}],\"content\":[{\"text\":\"x\"}]}";

static ssize_t giant_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    uint64_t head = sizeof giant_head - 1, total = head + GIANT_SIZE + sizeof giant_tail - 1;
    size_t n = 0;
    for (; n < max && pos < total; n++, pos++)
        buf[n] = pos < head ? giant_head[pos]
                 : pos < head + GIANT_SIZE ? 'a'
                                           : giant_tail[pos - head - GIANT_SIZE];
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

/* drip: a valid answer sent one byte every 100 ms (a slow or stuck proxy;
 * it blocks the server's thread while it drips: one client at a time) */
static ssize_t drip_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    const char *text = cls;
    if (pos >= strlen(text))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (pos > 0)
        usleep(100000);
    (void)max;
    buf[0] = text[pos];
    return 1;
}

static void set_callback(struct request *r, uint64_t size, MHD_ContentReaderCallback cb, void *cls,
                         MHD_ContentReaderFreeCallback fr)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(size, cb == drip_read ? 1 : 65536, cb, cls, fr);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    set_response(r, MHD_HTTP_OK, resp);
}

static void apply_fault(struct request *r, enum api api, enum fault f,
                        const char *retry_after, const char *model, const char *key)
{
    bool anthropic = api == API_ANTHROPIC;
    switch (f) {
    case F_ERROR200: {
        char msg[512];
        snprintf(msg, sizeof msg, "upstream overloaded: injected (key %.300s)", key ? key : "none");
        set_error(r, api, 200, "server_error", msg);
        break;
    }
    case F_EMPTY200:
        set_raw(r, 200, anthropic ? "{\"type\": \"message\", \"id\": \"msg_empty\"}"
                                  : "{\"id\": \"chatcmpl-empty\", \"object\": \"chat.completion\", \"choices\": []}");
        break;
    case F_429:
        set_error(r, api, 429, "rate_limit_error", "rate limited");
        if (retry_after)
            MHD_add_response_header(r->resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
        break;
    case F_500:
        set_error(r, api, 500, anthropic ? "api_error" : "server_error",
                  "internal server error: injected");
        break;
    case F_400:
        set_error(r, api, 400, "invalid_request_error", "bad request: injected");
        break;
    case F_MALFORMED:
        set_raw(r, 200, anthropic ? "{\"content\": [" : "{\"choices\": [");
        break;
    case F_TRUNCATED:
        set_truncated(r, api, model);
        break;
    case F_DROP:
        r->action = ACT_DROP;
        break;
    case F_HTML: {
        static const char page[] = "<html><body><h1>502 Bad Gateway</h1></body></html>\n";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen(page), (void *)(uintptr_t)page, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
        set_response(r, 200, resp);
        break;
    }
    case F_GIANT:
        set_callback(r, sizeof giant_head - 1 + GIANT_SIZE + sizeof giant_tail - 1, giant_read, NULL, NULL);
        break;
    case F_DRIP: {
        cJSON *obj = api_reply(api, model ? model : "unknown", "dripped", 0, 1);
        char *text = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
        if (!text)
            abort();
        set_callback(r, strlen(text), drip_read, text, free);
        break;
    }
    case F_RESET:
        r->action = ACT_RESET;
        break;
    case F_BADUTF8: {
        cJSON *obj = api_reply(api, model ? model : "unknown", "caf\xe9 \xff\xfe\xc3", 0, 2);
        set_json(r, 200, obj);
        break;
    }
    case F_REDIRECT: {
        static const char moved[] = "{\"moved\": true}";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen(moved), (void *)(uintptr_t)moved, MHD_RESPMEM_PERSISTENT);
        /* another host: a client must not follow it (the key would go along) */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "http://127.0.0.2:9/v1/chat/completions");
        set_response(r, 307, resp);
        break;
    }
    case F_HANG:
        r->action = ACT_HANG;
        break;
    case F_NONE:
    case F_COUNT:
        break;
    }
    stats_count_outcome(f, false);
}

/* ------------------------------------------------------------------ */
/* API endpoints                                                       */
/* ------------------------------------------------------------------ */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Returns the credential, or NULL if the request is not authenticated. */
static const char *api_key(struct MHD_Connection *c, enum api api)
{
    if (api == API_ANTHROPIC) {
        const char *key = header(c, "x-api-key");
        if (!key || !*key || !header(c, "anthropic-version"))
            return NULL;
        return key;
    }
    const char *auth = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return *auth ? auth : NULL;
}

static void reject(struct request *r, enum api api, unsigned status,
                   const char *type, const char *message)
{
    set_error(r, api, status, type, message);
    stats_count_outcome(F_NONE, false);
}

/* Returns NULL if valid, else the message for a 400. */
static const char *validate(enum api api, const cJSON *req)
{
    if (!cJSON_IsObject(req))
        return "request body must be a JSON object";
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(req, "model")))
        return "model: field required (string)";
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(req, "messages")))
        return "messages: field required (array)";
    if (api == API_ANTHROPIC &&
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(req, "max_tokens")))
        return "max_tokens: field required (number)";
    return NULL;
}

static void answer_request(struct request *r, enum api api, const cJSON *req, const char *key)
{
    const char *model = cJSON_GetObjectItemCaseSensitive(req, "model")->valuestring;
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(req, "messages");
    char *text = last_user_text(messages);
    enum fault f = fault_in_prompt(text);
    if (f != F_NONE) {
        apply_fault(r, api, f, NULL, model, key);
    } else {
        const cJSON *system = api == API_ANTHROPIC
                                  ? cJSON_GetObjectItemCaseSensitive(req, "system")
                                  : NULL;
        char *answer = compute_answer(text);
        set_json(r, MHD_HTTP_OK,
                 api_reply(api, model, answer, prompt_words(system, messages),
                           count_words(answer)));
        free(answer);
        stats_count_outcome(F_NONE, true);
    }
    free(text);
}

static void handle_api(struct MHD_Connection *c, struct request *r)
{
    enum api api = api_paths[r->path_index].api;
    const char *key = api_key(c, api);
    if (key)
        stats_record_key(key);

    char *retry_after;
    enum fault queued = take_queued_fault(&retry_after);
    if (queued != F_NONE) {
        apply_fault(r, api, queued, retry_after, NULL, key);
        free(retry_after);
        return;
    }
    if (!key) {
        reject(r, api, 401, api == API_ANTHROPIC ? "authentication_error" : "invalid_request_error",
               api == API_ANTHROPIC ? "missing x-api-key or anthropic-version header"
                                    : "missing or empty Authorization: Bearer header");
        return;
    }
    cJSON *req = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
    if (!req) {
        reject(r, api, 400, "invalid_request_error", "request body is not valid JSON");
        return;
    }
    const char *problem = validate(api, req);
    if (problem) {
        reject(r, api, 400, "invalid_request_error", problem);
    } else {
        stats_record_params(req);
        answer_request(r, api, req, key);
    }
    cJSON_Delete(req);
}

/* ------------------------------------------------------------------ */
/* Control endpoints                                                   */
/* ------------------------------------------------------------------ */

static cJSON *number_or_null(bool have, double v)
{
    return have ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static void handle_stats(struct request *r)
{
    cJSON *root = cJSON_CreateObject();
    pthread_mutex_lock(&S.mu);
    cJSON_AddNumberToObject(root, "requests", (double)S.requests);
    cJSON_AddNumberToObject(root, "ok", (double)S.ok);
    cJSON_AddNumberToObject(root, "faulted", (double)S.faulted);
    cJSON_AddNumberToObject(root, "rejected", (double)S.rejected);
    cJSON *by_path = cJSON_AddObjectToObject(root, "by_path");
    for (size_t i = 0; i < N_API_PATHS; i++)
        cJSON_AddNumberToObject(by_path, api_paths[i].path, (double)S.by_path[i]);
    cJSON *by_fault = cJSON_AddObjectToObject(root, "by_fault");
    for (int f = F_NONE + 1; f < F_COUNT; f++)
        cJSON_AddNumberToObject(by_fault, fault_names[f], (double)S.by_fault[f]);
    cJSON_AddNumberToObject(root, "auth_headers", (double)S.n_keys);
    cJSON_AddNumberToObject(root, "queued_faults", (double)queued_fault_count());
    cJSON_AddNumberToObject(root, "latency_ms", (double)S.latency_ms);
    cJSON_AddNumberToObject(root, "with_seed", (double)S.with_seed);
    cJSON_AddItemToObject(root, "last_seed", number_or_null(S.have_seed, S.last_seed));
    cJSON_AddNumberToObject(root, "with_temperature", (double)S.with_temperature);
    cJSON_AddItemToObject(root, "last_temperature",
                          number_or_null(S.have_temperature, S.last_temperature));
    pthread_mutex_unlock(&S.mu);
    set_json(r, MHD_HTTP_OK, root);
}

static void handle_reset(struct request *r)
{
    reset_state();
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "reset", 1);
    set_json(r, MHD_HTTP_OK, root);
}

/* Header values must not smuggle in CR/LF or other control bytes. */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Parses one {"type","count","retry_after"}; returns an error message or NULL. */
static const char *parse_fault(const cJSON *item, struct queued_fault **out)
{
    *out = NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(item, "count");
    const cJSON *retry = cJSON_GetObjectItemCaseSensitive(item, "retry_after");
    char name[32];
    if (cJSON_IsString(type))
        snprintf(name, sizeof name, "%s", type->valuestring);
    else if (cJSON_IsNumber(type))
        snprintf(name, sizeof name, "%d", type->valueint);
    else
        return "fault.type: required (string)";
    enum fault f = fault_from_name(name);
    if (f == F_NONE)
        return "fault.type: unknown (429, 500, 400, malformed, truncated, drop, hang, error200, empty200)";
    double n = 1;
    if (count) {
        if (!cJSON_IsNumber(count) || count->valuedouble < 0 || count->valuedouble > 1e12)
            return "fault.count: must be a number >= 0";
        n = count->valuedouble;
    }
    char retry_text[64] = "";
    if (cJSON_IsString(retry))
        snprintf(retry_text, sizeof retry_text, "%s", retry->valuestring);
    else if (cJSON_IsNumber(retry))
        snprintf(retry_text, sizeof retry_text, "%.0f", retry->valuedouble);
    else if (retry && !cJSON_IsNull(retry))
        return "fault.retry_after: must be a string or number";
    if (!header_safe(retry_text))
        return "fault.retry_after: control characters not allowed";
    if ((unsigned long)n == 0)
        return NULL;
    struct queued_fault *q = xrealloc(NULL, sizeof *q);
    *q = (struct queued_fault){f, *retry_text ? xstrdup(retry_text) : NULL,
                               (unsigned long)n, NULL};
    *out = q;
    return NULL;
}

/* Validates everything before queuing anything, so a bad request changes
 * nothing. */
static void handle_faults(struct request *r)
{
    cJSON *req = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
    const char *problem = cJSON_IsObject(req) ? NULL : "body must be a JSON object";
    const cJSON *faults = cJSON_GetObjectItemCaseSensitive(req, "faults");
    const cJSON *latency = cJSON_GetObjectItemCaseSensitive(req, "latency_ms");
    if (!problem && faults && !cJSON_IsArray(faults))
        problem = "faults: must be an array";
    if (!problem && latency && (!cJSON_IsNumber(latency) || latency->valuedouble < 0 ||
                                latency->valuedouble > 86400000.0))
        problem = "latency_ms: must be a number of milliseconds >= 0";
    struct queued_fault *head = NULL, **tail = &head;
    const cJSON *item;
    cJSON_ArrayForEach(item, faults) {
        if (problem)
            break;
        problem = parse_fault(item, tail);
        if (*tail)
            tail = &(*tail)->next;
    }
    if (problem) {
        free_fault_list(head);
        cJSON_Delete(req);
        set_error(r, API_OPENAI, 400, "invalid_request_error", problem);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    pthread_mutex_lock(&S.mu);
    if (head) {
        if (S.queue_tail)
            S.queue_tail->next = head;
        else
            S.queue_head = head;
        while (head->next)
            head = head->next;
        S.queue_tail = head;
    }
    if (latency)
        S.latency_ms = (uint64_t)latency->valuedouble;
    cJSON_AddNumberToObject(out, "queued", (double)queued_fault_count());
    cJSON_AddNumberToObject(out, "latency_ms", (double)S.latency_ms);
    pthread_mutex_unlock(&S.mu);
    cJSON_Delete(req);
    set_json(r, MHD_HTTP_OK, out);
}

/* ------------------------------------------------------------------ */
/* MHD glue                                                            */
/* ------------------------------------------------------------------ */

static enum route classify(const char *url, const char *method, size_t *path_index)
{
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    for (size_t i = 0; i < N_API_PATHS; i++) {
        if (strcmp(url, api_paths[i].path) == 0) {
            *path_index = i;
            return post ? R_API : R_BAD_METHOD;
        }
    }
    if (strcmp(url, "/_stats") == 0)
        return get ? R_STATS : R_BAD_METHOD;
    if (strcmp(url, "/_reset") == 0)
        return post ? R_RESET : R_BAD_METHOD;
    if (strcmp(url, "/_faults") == 0)
        return post ? R_FAULTS : R_BAD_METHOD;
    return R_NOT_FOUND;
}

static enum api route_api(const struct request *r)
{
    return r->route == R_API ? api_paths[r->path_index].api : API_OPENAI;
}

static void set_too_large(struct request *r)
{
    set_error(r, route_api(r), 413,
              route_api(r) == API_ANTHROPIC ? "request_too_large" : "invalid_request_error",
              "request body too large");
    if (r->route == R_API)
        stats_count_outcome(F_NONE, false);
}

static bool declared_too_large(struct MHD_Connection *c)
{
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    errno = 0;
    unsigned long long n = strtoull(cl, NULL, 10);
    return errno == 0 && n > max_body;
}

static void build_response(struct MHD_Connection *c, struct request *r)
{
    if (r->too_large) {
        set_too_large(r);
        return;
    }
    switch (r->route) {
    case R_API:
        handle_api(c, r);
        break;
    case R_STATS:
        handle_stats(r);
        break;
    case R_RESET:
        handle_reset(r);
        break;
    case R_FAULTS:
        handle_faults(r);
        break;
    case R_NOT_FOUND:
        set_error(r, API_OPENAI, 404, "not_found_error", "no such endpoint");
        break;
    case R_BAD_METHOD:
        set_error(r, API_OPENAI, 405, "invalid_request_error", "method not allowed");
        break;
    }
}

static enum MHD_Result deliver(struct MHD_Connection *c, struct request *r)
{
    r->phase = PH_DONE;
    if (r->action != ACT_RESPOND || !r->resp)
        return MHD_NO; /* drop, or a hang ended by client hang-up or shutdown */
    enum MHD_Result ret = MHD_queue_response(c, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ret;
}

/* API responses wait for the latency and hangs wait forever, both suspended
 * so that no MHD thread is tied up. */
static enum MHD_Result dispatch(struct MHD_Connection *c, struct request *r)
{
    if (r->action == ACT_RESET) {
        /* linger 0: close() sends RST, the client sees "connection reset" */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct linger lg = {1, 0};
        if (info)
            setsockopt(info->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        r->phase = PH_DONE;
        return MHD_NO;
    }
    if (r->action == ACT_HANG) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
            return MHD_NO;
        r->phase = PH_WAITING;
        MHD_suspend_connection(c);
        timer_add_hung(c, info->connect_fd);
        return MHD_YES;
    }
    uint64_t latency = r->route == R_API ? current_latency() : 0;
    if (latency == 0)
        return deliver(c, r);
    r->phase = PH_WAITING;
    MHD_suspend_connection(c);
    timer_schedule(c, now_ms() + latency);
    return MHD_YES;
}

static struct request *request_new(const char *url, const char *method)
{
    struct request *r = xrealloc(NULL, sizeof *r);
    *r = (struct request){.phase = PH_BODY, .action = ACT_RESPOND};
    r->route = classify(url, method, &r->path_index);
    return r;
}

static void body_append(struct request *r, const char *data, size_t n)
{
    if (r->too_large || r->body.len + n > max_body) {
        r->too_large = true; /* keep reading to the end, but store nothing */
        return;
    }
    buf_add(&r->body, data, n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    struct request *r = *con_cls;
    if (!r) {
        *con_cls = r = request_new(url, method);
        if (r->route == R_API)
            stats_count_received(r->path_index);
        if (declared_too_large(c)) {
            /* Answer before reading the body; MHD closes afterwards. */
            set_too_large(r);
            return deliver(c, r);
        }
        return MHD_YES;
    }
    if (r->phase == PH_BODY) {
        if (*upload_data_size) {
            body_append(r, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        build_response(c, r);
        return dispatch(c, r);
    }
    if (r->phase == PH_WAITING)
        return deliver(c, r); /* resumed by the timer */
    *upload_data_size = 0; /* already answered: ignore any further body */
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    struct request *r = *con_cls;
    if (!r)
        return;
    if (r->resp)
        MHD_destroy_response(r->resp);
    free(r->body.p);
    free(r);
    *con_cls = NULL;
}

/* ------------------------------------------------------------------ */
/* Startup and shutdown                                                */
/* ------------------------------------------------------------------ */

struct config {
    unsigned port;
    const char *port_file;
    unsigned threads;
};

static void usage(FILE *f)
{
    fputs("usage: modelserver [--port N] [--port-file FILE] [--latency-ms N]\n"
          "                   [--max-body BYTES] [--threads N]\n"
          "Fake OpenAI/Anthropic API server on 127.0.0.1 for evalmake tests.\n"
          "  --port N          port to bind, 0 (default) picks a free one\n"
          "  --port-file FILE  write the bound port to FILE (atomically)\n"
          "  --latency-ms N    delay every API response by N ms (default 0)\n"
          "  --max-body BYTES  largest request body accepted (default 8 MiB)\n"
          "  --threads N       MHD worker threads (default 4)\n"
          "API:     POST /v1/chat/completions, /chat/completions, /v1/messages\n"
          "Control: GET /_stats, POST /_reset, POST /_faults\n",
          f);
}

static bool parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* Accepts "--name value" and "--name=value".  Returns 0 to run, 1 for
 * --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, struct config *cfg)
{
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *value = NULL, *eq = strchr(arg, '=');
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return 1;
        if (eq && strncmp(arg, "--", 2) == 0) {
            *eq = '\0';
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        }
        unsigned long long n = 0;
        bool ok;
        if (strcmp(arg, "--port") == 0)
            ok = parse_number(value, 65535, &n) && ((cfg->port = (unsigned)n), true);
        else if (strcmp(arg, "--port-file") == 0)
            ok = value && *value && ((cfg->port_file = value), true);
        else if (strcmp(arg, "--latency-ms") == 0)
            ok = parse_number(value, 86400000, &n) && ((cli_latency_ms = n), true);
        else if (strcmp(arg, "--max-body") == 0)
            ok = parse_number(value, SIZE_MAX / 2, &n) && ((max_body = (size_t)n), true);
        else if (strcmp(arg, "--threads") == 0)
            ok = parse_number(value, 64, &n) && n > 0 && ((cfg->threads = (unsigned)n), true);
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "modelserver: bad option or value: %s\n", arg);
            return -1;
        }
    }
    return 0;
}

/* Benchmarks open thousands of sockets; the soft limit is often 1024. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Written to FILE.tmp then renamed, so a reader never sees a partial file. */
static int write_port_file(const char *path, unsigned port)
{
    size_t n = strlen(path) + sizeof ".tmp";
    char *tmp = xrealloc(NULL, n);
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        bool wrote = fprintf(f, "%u\n", port) > 0;
        if (fclose(f) == 0 && wrote && rename(tmp, path) == 0)
            rc = 0;
    }
    if (rc != 0) {
        fprintf(stderr, "modelserver: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

static struct MHD_Daemon *start_daemon(const struct config *cfg)
{
    /* Loopback only: this server must never be reachable from outside. */
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)cfg->port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* No MHD_USE_ERROR_LOG: injected faults make MHD log "errors" that are
     * the point of the exercise. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
    return MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)LISTEN_BACKLOG,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
}

/* Signals are taken synchronously by main via sigwait; every other thread
 * inherits the blocked mask, so none is interrupted. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    struct config cfg = {.port = 0, .port_file = NULL, .threads = DEFAULT_THREADS};
    int rc = parse_args(argc, argv, &cfg);
    if (rc != 0) {
        usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    raise_nofile();
    sigset_t signals;
    block_signals(&signals);
    S.latency_ms = cli_latency_ms;
    if (timer_start() != 0) {
        fputs("modelserver: cannot start timer thread\n", stderr);
        return 1;
    }
    struct MHD_Daemon *d = start_daemon(&cfg);
    if (!d) {
        fprintf(stderr, "modelserver: cannot listen on 127.0.0.1:%u\n", cfg.port);
        timer_stop_and_resume_all();
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : cfg.port;
    int status = 0;
    if (cfg.port_file && write_port_file(cfg.port_file, port) != 0) {
        status = 1;
    } else {
        printf("listening 127.0.0.1:%u\n", port);
        fflush(stdout);
        int sig;
        sigwait(&signals, &sig);
    }
    timer_stop_and_resume_all();
    MHD_stop_daemon(d);
    reset_state(); /* frees the fault queue */
    free(S.key_hashes);
    return status;
}
