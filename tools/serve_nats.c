/* NATS of `aether serve`: see serve_nats.h. */
#define _POSIX_C_SOURCE 200809L

#include "serve_nats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

int serve_nats_token_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; ++n) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return n > 0 && n <= 64;
}

int serve_nats_parse_partitions(const char *spec, serve_nats_opts *o, char *err, size_t cap)
{
    const char *p = spec;
    if (!p || !*p) {
        snprintf(err, cap, "an empty list");
        return 0;
    }
    for (;;) {
        char *end;
        unsigned long a, b;
        if (*p < '0' || *p > '9')
            goto bad;
        errno = 0;
        a = strtoul(p, &end, 10);
        b = a;
        if (*end == '-') {
            p = end + 1;
            if (*p < '0' || *p > '9')
                goto bad;
            b = strtoul(p, &end, 10);
        }
        if (errno || a > b || b >= SERVE_NATS_MAX_PARTITIONS) {
            snprintf(err, cap, "partitions are 0..%u, ranges A-B with A <= B",
                     SERVE_NATS_MAX_PARTITIONS - 1u);
            return 0;
        }
        for (; a <= b; ++a)
            if (!o->partitions[a]) {
                o->partitions[a] = 1;
                o->n_partitions++;
            }
        if (*end == '\0')
            return 1;
        if (*end != ',')
            goto bad;
        p = end + 1;
    }
bad:
    snprintf(err, cap, "\"%s\" is not a list like 0-7,12", spec);
    return 0;
}

#if defined(AETHER_HAVE_NATS)

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "aether/csi.h"
#include "net_addr.h"
#include "cli_util.h"

#define RING 65536u /* queued messages of a worker */
#define SENDER_HEADER "Aether-Sender"
#define LEASE_BUCKET "aether_leases"
/* Each subscription delivers from a thread of its own: with the library's
 * shared delivery pool, messages pending at the close were seen to
 * leak (LeakSanitizer, libnats 3.4). */
#ifndef GLOBAL_DELIVERY
#define GLOBAL_DELIVERY false
#endif

struct serve_nats {
    serve_nats_opts o;
    natsOptions *opts;
    natsConnection *nc;
    natsSubscription *subs[SERVE_NATS_MAX_PARTITIONS]; /* by partition */
    /* unsubscribed, destroyed after the close (see retire) */
    natsSubscription **retired;
    size_t n_retired, cap_retired;
    /* leases */
    jsCtx *js;
    kvStore *kv;
    char id[96];
    uint64_t rev[SERVE_NATS_MAX_PARTITIONS]; /* owned: != 0 */
    double t_open, next_tick;
    uint64_t claimed, taken_over, renewed, renew_failed, lost, refused, bucket_remade;
    /* the ring, filled by the library's delivery thread */
    pthread_mutex_t lock;
    natsMsg **ring;
    size_t head, count;
    int closing; /* the close has emptied the ring: late messages are freed */
    uint64_t ring_dropped, disconnects, reconnects;
    int pipe_r, pipe_w;
    /* loop-thread counters */
    uint64_t received, published, failed, unparsed, no_sender, bad_subject, decisions,
        decisions_failed;
    /* the message being handed to the core */
    char cur_site[72], cur_node[104];
    int have_cur;
};

int serve_nats_available(void)
{
    return 1;
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    serve_nats *q = (serve_nats *)closure;
    (void)nc;
    pthread_mutex_lock(&q->lock);
    q->disconnects++;
    pthread_mutex_unlock(&q->lock);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    serve_nats *q = (serve_nats *)closure;
    (void)nc;
    pthread_mutex_lock(&q->lock);
    q->reconnects++;
    pthread_mutex_unlock(&q->lock);
}

/* The library's delivery thread: queue and wake the loop. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    serve_nats *q = (serve_nats *)closure;
    int wake = 0;
    (void)nc;
    (void)sub;
    pthread_mutex_lock(&q->lock);
    if (q->closing) {
        /* freed here, while the library is still open */
    } else if (q->count < RING) {
        q->ring[(q->head + q->count) % RING] = m;
        wake = q->count++ == 0;
        m = NULL;
    } else {
        q->ring_dropped++;
    }
    pthread_mutex_unlock(&q->lock);
    if (m)
        natsMsg_Destroy(m);
    if (wake) {
        char c = 1;
        ssize_t w = write(q->pipe_w, &c, 1);
        (void)w; /* a full pipe already wakes the loop */
    }
}

static natsStatus subscribe(serve_nats *q, unsigned p)
{
    char subj[64];
    natsStatus st;
    snprintf(subj, sizeof subj, "aether.part.%u.*.*", p);
    st = natsConnection_Subscribe(&q->subs[p], q->nc, subj, on_msg, q);
    if (st == NATS_OK)
        /* the ring is the bound; the library's own is made larger than it */
        natsSubscription_SetPendingLimits(q->subs[p], 4 * (int)RING, 256 * 1024 * 1024);
    return st;
}

/* A subscription is destroyed only once the connection's reading thread
 * can no longer be inside a delivery to it. libnats before 3.6 (nats.c
 * #637) looks the subscription up, lets go of the connection's lock, and
 * only then locks the subscription, without holding a reference: destroyed
 * in that gap (an unsubscribe while its partition streams), the reading
 * thread writes into freed memory (a corrupted heap, or an abort in a mutex
 * call, at a busy worker's stop). The reading thread handles the server's
 * data in order, so once a flush after the unsubscribe has its answer that
 * delivery is over; without one, the handle waits for the close, which ends
 * that thread first. */
static void retire(serve_nats *q, natsSubscription *sub)
{
    if (q->n_retired == q->cap_retired) {
        size_t cap = q->cap_retired ? 2 * q->cap_retired : 16;
        natsSubscription **r =
            (natsSubscription **)realloc(q->retired, cap * sizeof *q->retired);
        if (!r)
            return; /* kept by no one: a leak, never a use after free */
        q->retired = r;
        q->cap_retired = cap;
    }
    q->retired[q->n_retired++] = sub;
}

static void unsubscribe(serve_nats *q, unsigned p)
{
    natsSubscription *sub = q->subs[p];
    if (!sub)
        return;
    q->subs[p] = NULL;
    natsSubscription_Unsubscribe(sub);
    if (natsConnection_FlushTimeout(q->nc, 500) == NATS_OK)
        natsSubscription_Destroy(sub);
    else
        retire(q, sub);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static natsStatus open_leases_bucket(serve_nats *q);

static natsStatus open_leases(serve_nats *q)
{
    jsOptions jo;
    natsStatus st;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(q->id, sizeof q->id, "%s-%ld", host, (long)getpid());
    jsOptions_Init(&jo);
    jo.Wait = 500;
    if ((st = natsConnection_JetStream(&q->js, q->nc, &jo)) != NATS_OK)
        return st;
    return open_leases_bucket(q);
}

/* Make the bucket (or find it there): q->kv. */
static natsStatus open_leases_bucket(serve_nats *q)
{
    kvConfig kc;
    natsStatus st;
    kvConfig_Init(&kc);
    kc.Bucket = LEASE_BUCKET;
    kc.History = 1;
    kc.TTL = (int64_t)(q->o.lease_ttl * 1e9); /* nanoseconds */
    kc.StorageType = js_MemoryStorage;
    st = js_CreateKeyValue(&q->kv, q->js, &kc);
    if (st != NATS_OK) {
        /* there already, made by workers with another --lease: use it */
        st = js_KeyValue(&q->kv, q->js, LEASE_BUCKET);
        if (st == NATS_OK)
            fprintf(stderr, "aether serve: note: the lease bucket " LEASE_BUCKET
                            " exists with another configuration; its expiry applies\n");
    }
    return st;
}

static void lease_event(serve_nats *q, unsigned p, const char *event)
{
    if (q->o.lease_event)
        q->o.lease_event(q->o.ctx, p, event);
}

/* The revision of key when its value is this worker's id; else 0. */
static uint64_t held_by_me(serve_nats *q, const char *key)
{
    kvEntry *e = NULL;
    uint64_t rev = 0;
    if (kvStore_Get(&e, q->kv, key) == NATS_OK && e && kvEntry_Operation(e) == kvOp_Put &&
        kvEntry_ValueString(e) && !strcmp(kvEntry_ValueString(e), q->id))
        rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    return rev;
}

/* A key-value write (create when last is 0, else update conditional on
 * last); the bucket made again once when the server no longer has it (a
 * restarted server: the bucket is in memory). */
static natsStatus lease_write(serve_nats *q, const char *key, uint64_t last, uint64_t *rev,
                              int *remade)
{
    natsStatus st;
    for (;;) {
        st = last ? kvStore_UpdateString(rev, q->kv, key, q->id, last)
                  : kvStore_CreateString(rev, q->kv, key, q->id);
        if (st != NATS_NO_RESPONDERS && st != NATS_NOT_FOUND)
            return st;
        if (*remade)
            return st;
        *remade = 1;
        {
            kvStore *old = q->kv;
            q->kv = NULL;
            if (open_leases_bucket(q) != NATS_OK) {
                q->kv = old;
                return st;
            }
            kvStore_Destroy(old);
            q->bucket_remade++;
        }
        /* a bucket made again has none of the old keys: claim afresh */
        last = 0;
    }
}

void serve_nats_service(serve_nats *q, double now)
{
    unsigned p;
    size_t count;
    int remade = 0;
    if (!q || !q->kv || now < q->next_tick)
        return;
    q->next_tick = now + q->o.lease_ttl / 3.0;
    /* the server away: nothing can be renewed or claimed (what is owned
     * stays subscribed, to be renewed on its return, or found lost) */
    if (natsConnection_Status(q->nc) != NATS_CONN_STATUS_CONNECTED) {
        q->renew_failed++;
        return;
    }
    count = q->o.partition_count < SERVE_NATS_MAX_PARTITIONS ? q->o.partition_count
                                                              : SERVE_NATS_MAX_PARTITIONS;
    for (p = 0; p < SERVE_NATS_MAX_PARTITIONS; ++p) {
        char key[32];
        uint64_t rev = 0;
        natsStatus st;
        int mine = q->o.partitions[p] != 0;
        snprintf(key, sizeof key, "partition.%u", p);
        if (q->rev[p]) {
            /* in a bucket made again this turn the key is new: create it */
            st = lease_write(q, key, remade ? 0 : q->rev[p], &rev, &remade);
            if (st == NATS_OK) {
                q->rev[p] = rev;
                q->renewed++;
            } else if (st == NATS_TIMEOUT || st == NATS_NO_RESPONDERS || st == NATS_NOT_FOUND) {
                /* no answer: kept, tried again next time; the rest waits too,
                 * so that a slow server does not hold up the loop */
                q->renew_failed++;
                return;
            } else if ((rev = held_by_me(q, key)) != 0) {
                /* an earlier write reached the server after its answer was
                 * given up on: still ours, at a newer revision */
                q->rev[p] = rev;
                q->renewed++;
            } else {
                /* lapsed, and another worker has it now */
                q->rev[p] = 0;
                unsubscribe(q, p);
                q->lost++;
                lease_event(q, p, "lost");
            }
            continue;
        }
        if (!mine && !(q->o.takeover && p < count && now >= q->t_open + q->o.lease_ttl))
            continue;
        st = lease_write(q, key, 0, &rev, &remade);
        if (st == NATS_TIMEOUT || st == NATS_NO_RESPONDERS || st == NATS_NOT_FOUND)
            return; /* as above */
        if (st != NATS_OK && (rev = held_by_me(q, key)) != 0)
            st = NATS_OK; /* a create whose answer came too late */
        if (st != NATS_OK) {
            if (mine)
                q->refused++;
            continue;
        }
        if (subscribe(q, p) != NATS_OK) {
            kvStore_Delete(q->kv, key);
            continue;
        }
        q->rev[p] = rev;
        if (mine) {
            q->claimed++;
            lease_event(q, p, "claimed");
        } else {
            q->taken_over++;
            lease_event(q, p, "taken_over");
        }
    }
}

static int fail(serve_nats *q, const char *what, natsStatus s, int rc)
{
    /* the library's last error says more than the status (which TLS or
     * authorisation failure) */
    natsStatus last = NATS_OK;
    const char *detail = nats_GetLastError(&last);
    if (detail && detail[0] && last == s)
        fprintf(stderr, "aether serve: --nats %s: %s: %s (%s)\n", q->o.url, what,
                natsStatus_GetText(s), detail);
    else
        fprintf(stderr, "aether serve: --nats %s: %s: %s\n", q->o.url, what,
                natsStatus_GetText(s));
    serve_nats_close(q, 0.0);
    return rc;
}

/* TLS and credentials on q->opts from q->o; 0 or an exit status after a
 * message. */
static int secure(serve_nats *q)
{
    static const char *const opts[3] = {"--nats-cafile", "--nats-cert", "--nats-key"};
    const char *const files[3] = {q->o.cafile, q->o.certfile, q->o.keyfile};
    const char *user = q->o.user ? q->o.user : getenv("AETHER_NATS_USERNAME");
    char secret[512];
    natsStatus st = NATS_OK;
    int have;
    if (!cli_files_readable(opts, files, 3))
        return CLI_EXIT_IO;
    if (q->o.cafile || q->o.certfile || q->o.insecure) {
        if ((st = natsOptions_SetSecure(q->opts, true)) != NATS_OK ||
            (q->o.cafile &&
             (st = natsOptions_LoadCATrustedCertificates(q->opts, q->o.cafile)) != NATS_OK) ||
            (q->o.certfile && (st = natsOptions_LoadCertificatesChain(q->opts, q->o.certfile,
                                                                      q->o.keyfile)) != NATS_OK) ||
            (q->o.insecure &&
             (st = natsOptions_SkipServerVerification(q->opts, true)) != NATS_OK)) {
            fprintf(stderr, "aether serve: --nats %s: TLS: %s (%s)\n", q->o.url,
                    natsStatus_GetText(st), nats_GetLastError(NULL));
            return st == NATS_ILLEGAL_STATE ? CLI_EXIT_USAGE : CLI_EXIT_IO;
        }
    }
    if (user) {
        have = cli_read_secret("--nats-password-file", q->o.password_file,
                               "AETHER_NATS_PASSWORD", secret, sizeof secret);
        if (have < 0)
            return CLI_EXIT_IO;
        st = natsOptions_SetUserInfo(q->opts, user, have ? secret : NULL);
    } else {
        have = cli_read_secret("--nats-token-file", q->o.token_file, "AETHER_NATS_TOKEN", secret,
                               sizeof secret);
        if (have < 0)
            return CLI_EXIT_IO;
        if (have)
            st = natsOptions_SetToken(q->opts, secret);
    }
    memset(secret, 0, sizeof secret);
    if (st != NATS_OK) {
        fprintf(stderr, "aether serve: --nats %s: credentials: %s\n", q->o.url,
                natsStatus_GetText(st));
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* The URL list's hosts ("nats://[user[:pw]@]HOST[:PORT]", comma-separated):
 * 1 when one of them resolves (or the list has none to look up), else 0
 * with the last host tried in bad. An address that does not resolve is a
 * usage error (exit 2, as for --udp and --packets-to), which the client
 * library would only report as no server to connect to. */
static int some_host_resolves(const char *urls, char *bad, size_t cap)
{
    const char *p = urls;
    int tried = 0;
    while (*p) {
        const char *end = strchr(p, ','), *h, *at, *e;
        size_t n = end ? (size_t)(end - p) : strlen(p), hl;
        char host[256];
        struct addrinfo hints, *res = NULL;
        h = strstr(p, "://");
        h = h && (size_t)(h - p) < n ? h + 3 : p;
        e = p + n;
        for (at = h; at < e && *at != '/'; ++at) /* the user information ends at its '@' */
            if (*at == '@')
                h = at + 1;
        if (*h == '[') {
            h++;
            for (at = h; at < e && *at != ']'; ++at) {
            }
        } else {
            for (at = h; at < e && *at != ':' && *at != '/'; ++at) {
            }
        }
        hl = (size_t)(at - h);
        if (hl > 0 && hl < sizeof host) {
            memcpy(host, h, hl);
            host[hl] = '\0';
            memset(&hints, 0, sizeof hints);
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            tried = 1;
            if (getaddrinfo(host, NULL, &hints, &res) == 0) {
                freeaddrinfo(res);
                return 1;
            }
            snprintf(bad, cap, "%s", host);
        }
        p = end ? end + 1 : p + n;
    }
    return !tried;
}

int serve_nats_open(const serve_nats_opts *o, serve_nats **out)
{
    char bad[256];
    serve_nats *q;
    natsStatus st;
    size_t p;
    int fds[2], rc;
    *out = NULL;
    if (!((strncmp(o->url, "nats://", 7) == 0 || strncmp(o->url, "tls://", 6) == 0) &&
          o->url[strncmp(o->url, "tls://", 6) == 0 ? 6 : 7])) {
        fprintf(stderr,
                "aether serve: --nats %s: a URL like nats://127.0.0.1:4222 (tls:// for TLS)\n",
                o->url);
        return CLI_EXIT_USAGE;
    }
    if (!some_host_resolves(o->url, bad, sizeof bad)) {
        fprintf(stderr, "aether serve: --nats %s: cannot resolve %s\n", o->url, bad);
        return CLI_EXIT_USAGE;
    }
    q = (serve_nats *)calloc(1, sizeof *q);
    if (!q || !(q->ring = (natsMsg **)calloc(RING, sizeof *q->ring))) {
        free(q);
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    q->o = *o;
    q->pipe_r = q->pipe_w = -1;
    pthread_mutex_init(&q->lock, NULL);
    if (pipe(fds) != 0) {
        fprintf(stderr, "aether serve: pipe: %s\n", strerror(errno));
        serve_nats_close(q, 0.0);
        return CLI_EXIT_IO;
    }
    q->pipe_r = fds[0];
    q->pipe_w = fds[1];
    fcntl(q->pipe_r, F_SETFL, fcntl(q->pipe_r, F_GETFL) | O_NONBLOCK);
    fcntl(q->pipe_w, F_SETFL, fcntl(q->pipe_w, F_GETFL) | O_NONBLOCK);
    fcntl(q->pipe_r, F_SETFD, FD_CLOEXEC);
    fcntl(q->pipe_w, F_SETFD, FD_CLOEXEC);
    if ((st = nats_Open(-1)) != NATS_OK)
        return fail(q, "cannot start the client library", st, CLI_EXIT_FAILED);
    if ((st = natsOptions_Create(&q->opts)) != NATS_OK ||
        (st = natsOptions_SetURL(q->opts, o->url)) != NATS_OK ||
        (st = natsOptions_SetTimeout(q->opts, 5000)) != NATS_OK ||
        (st = natsOptions_SetMaxReconnect(q->opts, -1)) != NATS_OK ||
        (st = natsOptions_SetReconnectWait(q->opts, 500)) != NATS_OK ||
        (st = natsOptions_UseGlobalMessageDelivery(q->opts, GLOBAL_DELIVERY)) != NATS_OK ||
        (st = natsOptions_SetDisconnectedCB(q->opts, on_disconnected, q)) != NATS_OK ||
        (st = natsOptions_SetReconnectedCB(q->opts, on_reconnected, q)) != NATS_OK)
        return fail(q, "options", st, CLI_EXIT_USAGE);
    if ((rc = secure(q)) != 0) {
        serve_nats_close(q, 0.0);
        return rc;
    }
    if ((st = natsConnection_Connect(&q->nc, q->opts)) != NATS_OK)
        return fail(q, "cannot connect", st, CLI_EXIT_IO);
    if (!o->forward && o->lease_ttl > 0.0) {
        if ((st = open_leases(q)) != NATS_OK)
            return fail(q, "the lease bucket " LEASE_BUCKET " (JetStream enabled?)", st,
                        CLI_EXIT_IO);
        q->t_open = mono();
        serve_nats_service(q, q->t_open);
    }
    for (p = 0; !o->forward && o->lease_ttl <= 0.0 && p < SERVE_NATS_MAX_PARTITIONS; ++p)
        if (o->partitions[p] && (st = subscribe(q, (unsigned)p)) != NATS_OK)
            return fail(q, "cannot subscribe", st, CLI_EXIT_IO);
    /* the server has the subscriptions once it answers a ping */
    if ((st = natsConnection_FlushTimeout(q->nc, 5000)) != NATS_OK)
        return fail(q, "no answer", st, CLI_EXIT_IO);
    *out = q;
    return 0;
}

static void sanitize(char *s)
{
    for (; *s; ++s)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            *s = '_';
}

void serve_nats_forward(serve_nats *q, const unsigned char *b, size_t len,
                        const struct sockaddr_storage *from, socklen_t from_len)
{
    aether_csi_frame f;
    char sender[64], node[96], subj[200];
    natsMsg *m = NULL;
    natsStatus st;
    (void)from_len;
    q->received++;
    net_addr_format((const struct sockaddr *)from, sender, sizeof sender);
    if (aether_adr018_parse(b, len, &f) == AETHER_OK) {
        snprintf(node, sizeof node, "%u_%s", (unsigned)f.node_id, sender);
    } else {
        snprintf(node, sizeof node, "u_%s", sender);
        q->unparsed++;
    }
    sanitize(node);
    snprintf(subj, sizeof subj, "aether.csi.%s.%s", q->o.site, node);
    st = natsMsg_Create(&m, subj, NULL, (const char *)b, (int)len);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(m, SENDER_HEADER, sender);
    if (st == NATS_OK)
        st = natsConnection_PublishMsg(q->nc, m);
    natsMsg_Destroy(m);
    if (st == NATS_OK)
        q->published++;
    else
        q->failed++;
}

int serve_nats_poll_fd(const serve_nats *q)
{
    return q && !q->o.forward ? q->pipe_r : -1;
}

/* "1.2.3.4:5" or "[v6]:5", numeric only. */
static int parse_sender(const char *s, struct sockaddr_storage *a, socklen_t *al)
{
    char host[64];
    const char *colon;
    char *end;
    unsigned long port;
    size_t n;
    memset(a, 0, sizeof *a);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return 0;
        n = (size_t)(close - s - 1);
        colon = close + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return 0;
        n = (size_t)(colon - s);
    }
    if (n == 0 || n >= sizeof host)
        return 0;
    memcpy(host, s, n);
    host[n] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || port > 65535)
        return 0;
    {
        struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)a;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)a;
        if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons((uint16_t)port);
            *al = sizeof *v4;
            return 1;
        }
        memset(a, 0, sizeof *a);
        if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)port);
            *al = sizeof *v6;
            return 1;
        }
    }
    return 0;
}

/* aether.part.P.SITE.NODE -> cur_site, cur_node. */
static int split_subject(serve_nats *q, const char *subj)
{
    const char *p = subj, *site, *node;
    size_t ns, nn;
    if (strncmp(p, "aether.part.", 12) != 0)
        return 0;
    p += 12;
    p = strchr(p, '.');
    if (!p)
        return 0;
    site = p + 1;
    node = strchr(site, '.');
    if (!node)
        return 0;
    ns = (size_t)(node - site);
    node++;
    nn = strlen(node);
    if (ns == 0 || ns >= sizeof q->cur_site || nn == 0 || nn >= sizeof q->cur_node ||
        strchr(node, '.'))
        return 0;
    memcpy(q->cur_site, site, ns);
    q->cur_site[ns] = '\0';
    memcpy(q->cur_node, node, nn + 1);
    return 1;
}

size_t serve_nats_take(serve_nats *q, serve_core *core, size_t max, double mono_now,
                       double wall_now)
{
    natsMsg *batch[256];
    size_t n = 0, i;
    char drain[256];
    if (!q || q->o.forward)
        return 0;
    if (max > 256)
        max = 256;
    while (read(q->pipe_r, drain, sizeof drain) > 0) {
    }
    pthread_mutex_lock(&q->lock);
    while (n < max && q->count) {
        batch[n++] = q->ring[q->head];
        q->head = (q->head + 1) % RING;
        q->count--;
    }
    if (q->count) {
        /* more to come: keep the loop awake */
        char c = 1;
        ssize_t w = write(q->pipe_w, &c, 1);
        (void)w;
    }
    pthread_mutex_unlock(&q->lock);
    core->wall_now = wall_now;
    for (i = 0; i < n; ++i) {
        natsMsg *m = batch[i];
        const char *sender = NULL;
        struct sockaddr_storage a;
        socklen_t al = 0;
        int len = natsMsg_GetDataLength(m);
        q->received++;
        q->have_cur = split_subject(q, natsMsg_GetSubject(m));
        if (!q->have_cur)
            q->bad_subject++;
        if (natsMsgHeader_Get(m, SENDER_HEADER, &sender) != NATS_OK || !sender ||
            !parse_sender(sender, &a, &al)) {
            struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&a;
            memset(&a, 0, sizeof a);
            v6->sin6_family = AF_INET6;
            al = sizeof *v6;
            q->no_sender++;
        }
        serve_handle_datagram(core, (const unsigned char *)natsMsg_GetData(m),
                              len > 0 ? (size_t)len : 0, 0, &a, al, mono_now);
        q->have_cur = 0;
        natsMsg_Destroy(m);
    }
    return n;
}

void serve_nats_decision(serve_nats *q, const serve_decision *d, const char *json)
{
    char subj[320];
    natsStatus st;
    if (!q || q->o.forward)
        return;
    snprintf(subj, sizeof subj, "aether.decision.%s.%s.%s", q->have_cur ? q->cur_site : "local",
             q->have_cur ? q->cur_node : d->node->key, d->model->name);
    sanitize(subj + strlen(subj) - strlen(d->model->name));
    st = natsConnection_PublishString(q->nc, subj, json);
    if (st == NATS_OK)
        q->decisions++;
    else
        q->decisions_failed++;
}

uint64_t serve_nats_count(const serve_nats *q)
{
    return q ? q->received : 0;
}

void serve_nats_stats_json(const serve_nats *q, textbuf *t)
{
    uint64_t ring_dropped, disc, reco, lib_dropped = 0;
    size_t i, queued;
    if (!q)
        return;
    pthread_mutex_lock((pthread_mutex_t *)&q->lock);
    ring_dropped = q->ring_dropped;
    disc = q->disconnects;
    reco = q->reconnects;
    queued = q->count;
    pthread_mutex_unlock((pthread_mutex_t *)&q->lock);
    for (i = 0; i < SERVE_NATS_MAX_PARTITIONS; ++i) {
        int64_t d = 0;
        if (q->subs[i] && natsSubscription_GetDropped(q->subs[i], &d) == NATS_OK && d > 0)
            lib_dropped += (uint64_t)d;
    }
    if (q->o.forward)
        textbuf_printf(t,
                       ",\"nats\":{\"mode\":\"gateway\",\"received\":%llu,\"published\":%llu,"
                       "\"failed\":%llu,\"unparsed\":%llu",
                       (unsigned long long)q->received, (unsigned long long)q->published,
                       (unsigned long long)q->failed, (unsigned long long)q->unparsed);
    else
        textbuf_printf(t,
                       ",\"nats\":{\"mode\":\"worker\",\"received\":%llu,\"queued\":%lu,"
                       "\"dropped\":%llu,\"no_sender\":%llu,\"bad_subject\":%llu,"
                       "\"decisions_published\":%llu,\"decisions_failed\":%llu",
                       (unsigned long long)q->received, (unsigned long)queued,
                       (unsigned long long)(ring_dropped + lib_dropped),
                       (unsigned long long)q->no_sender, (unsigned long long)q->bad_subject,
                       (unsigned long long)q->decisions, (unsigned long long)q->decisions_failed);
    if (q->kv) {
        size_t wanted = 0;
        int first = 1;
        textbuf_printf(t, ",\"leases\":{\"owned\":[");
        for (i = 0; i < SERVE_NATS_MAX_PARTITIONS; ++i) {
            if (q->rev[i]) {
                textbuf_printf(t, "%s%u", first ? "" : ",", (unsigned)i);
                first = 0;
            } else if (q->o.partitions[i]) {
                wanted++;
            }
        }
        textbuf_printf(t,
                       "],\"wanted_not_owned\":%lu,\"claimed\":%llu,\"taken_over\":%llu,"
                       "\"renewed\":%llu,\"renew_failed\":%llu,\"lost\":%llu,\"refused\":%llu,"
                       "\"bucket_remade\":%llu}",
                       (unsigned long)wanted, (unsigned long long)q->claimed,
                       (unsigned long long)q->taken_over, (unsigned long long)q->renewed,
                       (unsigned long long)q->renew_failed, (unsigned long long)q->lost,
                       (unsigned long long)q->refused, (unsigned long long)q->bucket_remade);
    }
    textbuf_printf(t, ",\"connected\":%s,\"disconnects\":%llu,\"reconnects\":%llu}",
                   natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED ? "true" : "false",
                   (unsigned long long)disc, (unsigned long long)reco);
}

void serve_nats_ready_json(const serve_nats *q, textbuf *t)
{
    size_t p;
    int first = 1;
    textbuf_printf(t, "{\"type\":\"nats\",\"mode\":\"%s\",\"url\":",
                   q->o.forward ? "gateway" : "worker");
    textbuf_json_string(t, q->o.url);
    if (q->o.forward) {
        /* the site is a checked token: nothing to escape */
        textbuf_printf(t, ",\"publishes\":\"aether.csi.%s.*\"}", q->o.site);
        return;
    }
    if (q->kv)
        textbuf_printf(t, ",\"lease_seconds\":%g,\"takeover\":%s,\"owned\":[", q->o.lease_ttl,
                       q->o.takeover ? "true" : "false");
    else
        textbuf_printf(t, ",\"partitions\":[");
    for (p = 0; p < SERVE_NATS_MAX_PARTITIONS; ++p)
        if (q->kv ? q->rev[p] != 0 : q->o.partitions[p] != 0) {
            textbuf_printf(t, "%s%u", first ? "" : ",", (unsigned)p);
            first = 0;
        }
    textbuf_printf(t, "]}");
}

void serve_nats_close(serve_nats *q, double timeout)
{
    size_t i;
    int release_ok = 1;
    if (!q)
        return;
    if (q->nc) {
        if (timeout > 0.0)
            natsConnection_FlushTimeout(q->nc, (int64_t)(timeout * 1000.0));
        for (i = 0; i < SERVE_NATS_MAX_PARTITIONS; ++i) {
            /* no more messages, but the handle lives until the close (see
             * retire) */
            if (q->subs[i])
                natsSubscription_Unsubscribe(q->subs[i]);
            if (q->kv && q->rev[i] && release_ok) {
                /* let another worker have it now rather than after the
                 * expiry (not when the server does not answer: then it
                 * lapses) */
                char key[32];
                snprintf(key, sizeof key, "partition.%u", (unsigned)i);
                release_ok = natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED &&
                             kvStore_Delete(q->kv, key) == NATS_OK;
                if (release_ok)
                    lease_event(q, (unsigned)i, "released");
            }
            q->rev[i] = 0;
        }
        /* returns once the reading thread has ended */
        natsConnection_Close(q->nc);
    }
    for (i = 0; i < SERVE_NATS_MAX_PARTITIONS; ++i)
        if (q->subs[i]) {
            natsSubscription_Destroy(q->subs[i]);
            q->subs[i] = NULL;
        }
    for (i = 0; i < q->n_retired; ++i)
        natsSubscription_Destroy(q->retired[i]);
    free(q->retired);
    kvStore_Destroy(q->kv);
    jsCtx_Destroy(q->js);
    natsConnection_Destroy(q->nc);
    natsOptions_Destroy(q->opts);
    /* Messages still queued (a worker stopped while busy: the final stats
     * counted them as queued) go back to the library before it closes:
     * freeing one after nats_CloseAndWait touches its torn-down state. */
    pthread_mutex_lock(&q->lock);
    q->closing = 1;
    while (q->count) {
        natsMsg_Destroy(q->ring[q->head]);
        q->head = (q->head + 1) % RING;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    if (nats_CloseAndWait(2000) != NATS_OK) {
        /* A library thread may still be running a callback that takes
         * q->lock and writes to the pipe: leave them to the process's
         * exit rather than free them under it. */
        fprintf(stderr, "aether serve: note: the NATS client's threads did not end within 2 s; "
                        "its queue is left to the exit\n");
        return;
    }
    if (q->pipe_r >= 0)
        close(q->pipe_r);
    if (q->pipe_w >= 0)
        close(q->pipe_w);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}

#else /* no libnats */

void serve_nats_service(serve_nats *q, double now)
{
    (void)q;
    (void)now;
}

int serve_nats_available(void)
{
    return 0;
}

int serve_nats_open(const serve_nats_opts *o, serve_nats **out)
{
    (void)o;
    *out = NULL;
    fprintf(stderr, "aether serve: --nats: this aether was built without NATS (install "
                    "libnats-dev and build again)\n");
    return CLI_EXIT_USAGE;
}

void serve_nats_forward(serve_nats *q, const unsigned char *b, size_t len,
                        const struct sockaddr_storage *from, socklen_t from_len)
{
    (void)q;
    (void)b;
    (void)len;
    (void)from;
    (void)from_len;
}

int serve_nats_poll_fd(const serve_nats *q)
{
    (void)q;
    return -1;
}

size_t serve_nats_take(serve_nats *q, serve_core *core, size_t max, double mono_now,
                       double wall_now)
{
    (void)q;
    (void)core;
    (void)max;
    (void)mono_now;
    (void)wall_now;
    return 0;
}

void serve_nats_decision(serve_nats *q, const serve_decision *d, const char *json)
{
    (void)q;
    (void)d;
    (void)json;
}

uint64_t serve_nats_count(const serve_nats *q)
{
    (void)q;
    return 0;
}

void serve_nats_stats_json(const serve_nats *q, textbuf *t)
{
    (void)q;
    (void)t;
}

void serve_nats_ready_json(const serve_nats *q, textbuf *t)
{
    (void)q;
    (void)t;
}

void serve_nats_close(serve_nats *q, double timeout)
{
    (void)q;
    (void)timeout;
}

#endif
