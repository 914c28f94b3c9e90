/* The datagram-to-decision core of `aether serve` (serve_core.h). */
#include "serve_core.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/csi.h"
#include "aether/packet.h"
#include "cli_util.h"
#include "commands.h"
#include "model_load.h"
#include "net_addr.h"

const char *const serve_malformed_names[SERVE_MAL_COUNT] = {"empty",     "too_short",
                                                            "bad_magic", "bad_header",
                                                            "truncated", "too_long"};
const char *const serve_drop_names[SERVE_DROP_COUNT] = {"features", "model"};
const char *const serve_sibling_names[SERVE_SIBLINGS] = {"vitals",        "feature",
                                                         "fused_vitals",  "compressed",
                                                         "feature_state", "classification"};

int serve_core_init(serve_core *s, const serve_config *cfg, const serve_hooks *hooks, double now)
{
    size_t buckets, i;
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (hooks)
        s->hooks = *hooks;
    s->t_start = now;
    buckets = 1;
    while (buckets < 2 * cfg->max_nodes)
        buckets *= 2;
    s->nodes = (serve_node *)calloc(cfg->max_nodes, sizeof *s->nodes);
    s->index = (uint32_t *)calloc(buckets, sizeof *s->index);
    s->lru_prev = (uint32_t *)calloc(3 * cfg->max_nodes, sizeof *s->lru_prev);
    if (!s->nodes || !s->index || !s->lru_prev) {
        serve_core_free(s);
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    s->index_mask = buckets - 1;
    s->lru_next = s->lru_prev + cfg->max_nodes;
    s->free_slots = s->lru_prev + 2 * cfg->max_nodes;
    s->lru_head = s->lru_tail = SERVE_NIL;
    for (i = 0; i < cfg->max_nodes; ++i) /* popped from the top: slot 0 first */
        s->free_slots[i] = (uint32_t)(cfg->max_nodes - 1 - i);
    s->n_free = cfg->max_nodes;
    return 0;
}

static void free_model(serve_model *m)
{
    aether_tracks_destroy(m->tracks);
    aether_features_destroy(m->fx);
    aether_model_destroy(m->model);
    free(m->blob_bytes);
    free(m->logits);
    free(m->pend_frames);
    free(m->pend_logits);
    memset(m, 0, sizeof *m);
}

void serve_core_free(serve_core *s)
{
    size_t i;
    for (i = 0; i < s->n_models; ++i)
        free_model(&s->models[i]);
    free(s->nodes);
    free(s->index);
    free(s->lru_prev);
    s->nodes = NULL;
    s->index = NULL;
    s->lru_prev = s->lru_next = s->free_slots = NULL;
    s->n_models = 0;
}

/* ---------------- models ---------------- */

/* The metadata's choices, the way `aether run` makes them without options
 * (model_load_prepare), then the labels, the window length and the
 * decision period. */
static int apply_metadata(const serve_config *cfg, serve_model *m, size_t len)
{
    int rc = model_load_prepare("serve", m->path, m->blob_bytes, len, NULL, &m->ld);
    if (rc)
        return rc;
    if (m->ld.meta.have_labels &&
        !cli_split_labels(m->ld.meta.labels, m->labels_buf, sizeof m->labels_buf, m->labels,
                          SERVE_MAX_LABELS, &m->n_labels)) {
        fprintf(stderr, "aether serve: %s: the metadata labels are not a list of names\n",
                m->path);
        return CLI_EXIT_MALFORMED;
    }
    if (m->ld.window_mode && m->ld.window_frames == 0) {
        fprintf(stderr, "aether serve: %s: pooling mean without window_frames metadata\n",
                m->path);
        return CLI_EXIT_MALFORMED;
    }
    m->every = cfg->every                                            ? cfg->every
               : m->ld.meta.have_window_stride && m->ld.meta.window_stride ? m->ld.meta.window_stride
                                                                     : 50;
    return 0;
}

/* Feature extractor and track table for cfg's node count. */
static int make_sessions(const serve_config *cfg, serve_model *m)
{
    aether_features_config fc;
    aether_tracks_params tp = aether_tracks_params_default();
    aether_status st;
    m->logits = (float *)malloc(m->info.n_classes * sizeof(float));
    m->pend_frames = (float *)malloc(SERVE_BATCH_MAX * m->info.input_dim * sizeof(float));
    m->pend_logits = (float *)malloc(SERVE_BATCH_MAX * m->info.n_classes * sizeof(float));
    if (!m->logits || !m->pend_frames || !m->pend_logits) {
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    fc.input_dim = m->info.input_dim;
    fc.max_nodes = cfg->max_nodes;
    fc.recipe = m->ld.recipe;
    st = aether_features_create(&fc, &m->fx);
    if (st == AETHER_OK) {
        tp.max_tracks = cfg->max_nodes;
        tp.max_age = 0.0; /* idle nodes are forgotten by the node table */
        tp.session.capacity = cfg->capacity;
        if (m->ld.window_mode) {
            tp.window.frames = m->ld.window_frames;
            tp.window.pool = AETHER_POOL_MEAN;
        }
        st = aether_tracks_create(m->model, &tp, &m->tracks);
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether serve: %s: cannot set up the sessions: %s (%s)\n", m->path,
                aether_strerror(st), aether_status_name(st));
        return st == AETHER_ERR_NO_MEM ? CLI_EXIT_FAILED : CLI_EXIT_MISFIT;
    }
    return 0;
}

int serve_model_open(serve_core *s, const char *path, unsigned char *bytes, size_t len)
{
    serve_model *m;
    const char *base = strrchr(path, '/');
    aether_status st;
    size_t n, j;
    int rc;
    if (s->n_models == SERVE_MAX_MODELS) {
        free(bytes);
        fprintf(stderr, "aether serve: at most %u models\n", SERVE_MAX_MODELS);
        return CLI_EXIT_USAGE;
    }
    m = &s->models[s->n_models++];
    m->path = path;
    m->blob_bytes = bytes;
    base = base ? base + 1 : path;
    snprintf(m->name, sizeof m->name, "%s", base);
    n = strlen(m->name);
    if (n > 5 && !strcmp(m->name + n - 5, ".rvne"))
        m->name[n - 5] = '\0';
    for (j = 0; j + 1 < s->n_models; ++j)
        if (!strcmp(s->models[j].name, m->name)) {
            fprintf(stderr,
                    "aether serve: %s and %s have the same name in decisions (\"%s\"); give "
                    "one a file of another name\n",
                    s->models[j].path, path, m->name);
            return CLI_EXIT_USAGE;
        }
    rc = apply_metadata(&s->cfg, m, len);
    if (rc)
        return rc;
    st = aether_model_create(&m->ld.blob, &m->ld.hc, AETHER_MODEL_BORROW_IF_POSSIBLE, &m->model);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether serve: %s: cannot load the model: %s (%s)\n", path,
                aether_strerror(st), aether_status_name(st));
        return st == AETHER_ERR_NO_MEM ? CLI_EXIT_FAILED : CLI_EXIT_MALFORMED;
    }
    aether_model_get_info(m->model, &m->info);
    rc = model_load_check_csi("serve", path, &m->info);
    if (rc)
        return rc;
    if (m->n_labels && m->n_labels != m->info.n_classes) {
        fprintf(stderr, "aether serve: %s has %lu classes but its labels metadata names %lu\n",
                path, (unsigned long)m->info.n_classes, (unsigned long)m->n_labels);
        return CLI_EXIT_MISFIT;
    }
    return make_sessions(&s->cfg, m);
}

int serve_model_load(serve_core *s, const char *path)
{
    size_t len = 0;
    unsigned char *bytes = cli_read_file(path, &len);
    if (!bytes)
        return cli_read_error(path, errno);
    return serve_model_open(s, path, bytes, len);
}

void serve_model_json(const serve_model *m, textbuf *t)
{
    size_t i;
    textbuf_printf(t, "{\"type\":\"model\",\"model\":");
    textbuf_json_string(t, m->name);
    textbuf_printf(t, ",\"path\":");
    textbuf_json_string(t, m->path);
    textbuf_printf(t,
                   ",\"pool\":\"%s\",\"window_frames\":%lu,\"every\":%lu,\"features\":\"%s\","
                   "\"input_dim\":%lu,\"classes\":%lu,\"labels\":[",
                   m->ld.window_mode ? "mean" : "last",
                   (unsigned long)(m->ld.window_mode ? m->ld.window_frames : 0),
                   (unsigned long)m->every, aether_features_recipe_name(m->ld.recipe),
                   (unsigned long)m->info.input_dim, (unsigned long)m->info.n_classes);
    for (i = 0; i < m->n_labels; ++i) {
        if (i)
            textbuf_putc(t, ',');
        textbuf_json_string(t, m->labels[i]);
    }
    textbuf_printf(t, "],\"track_bytes\":%lu}", (unsigned long)aether_tracks_bytes(m->tracks));
}

/* ---------------- nodes ---------------- */

/* FNV-1a over the node id and the sender's family, port and address (the
 * fields net_addr_equal compares), then a final mix. */
static size_t node_hash(const serve_core *s, uint32_t id, const struct sockaddr_storage *a,
                        socklen_t al)
{
    const unsigned char *p = NULL;
    size_t n = 0, i;
    uint64_t h = 0xCBF29CE484222325u;
    unsigned char head[8];
    head[0] = (unsigned char)id;
    head[1] = (unsigned char)(id >> 8);
    head[2] = (unsigned char)(id >> 16);
    head[3] = (unsigned char)(id >> 24);
    head[4] = (unsigned char)a->ss_family;
    head[5] = (unsigned char)(a->ss_family >> 8);
    head[6] = head[7] = 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        memcpy(&head[6], &x->sin_port, 2);
        p = (const unsigned char *)&x->sin_addr;
        n = sizeof x->sin_addr;
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
        memcpy(&head[6], &x->sin6_port, 2);
        p = (const unsigned char *)&x->sin6_addr;
        n = sizeof x->sin6_addr;
    } else {
        p = (const unsigned char *)a;
        n = al <= sizeof *a ? (size_t)al : sizeof *a;
    }
    for (i = 0; i < sizeof head; ++i)
        h = (h ^ head[i]) * 0x100000001B3u;
    for (i = 0; i < n; ++i)
        h = (h ^ p[i]) * 0x100000001B3u;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return (size_t)h & s->index_mask;
}

static size_t slot_hash(const serve_core *s, size_t slot)
{
    const serve_node *n = &s->nodes[slot];
    return node_hash(s, n->node_id, &n->addr, n->addr_len);
}

static void lru_unlink(serve_core *s, uint32_t i)
{
    uint32_t p = s->lru_prev[i], n = s->lru_next[i];
    if (p == SERVE_NIL)
        s->lru_head = n;
    else
        s->lru_next[p] = n;
    if (n == SERVE_NIL)
        s->lru_tail = p;
    else
        s->lru_prev[n] = p;
}

static void lru_append(serve_core *s, uint32_t i)
{
    s->lru_prev[i] = s->lru_tail;
    s->lru_next[i] = SERVE_NIL;
    if (s->lru_tail == SERVE_NIL)
        s->lru_head = i;
    else
        s->lru_next[s->lru_tail] = i;
    s->lru_tail = i;
}

/* Take slot out of the index (backward-shift deletion: no tombstones). */
static void index_remove(serve_core *s, size_t slot)
{
    size_t h = slot_hash(s, slot), j;
    while (s->index[h] != (uint32_t)(slot + 1))
        h = (h + 1) & s->index_mask;
    j = h;
    for (;;) {
        size_t home;
        j = (j + 1) & s->index_mask;
        if (!s->index[j])
            break;
        home = slot_hash(s, s->index[j] - 1u);
        /* entry j may fill the hole at h unless its home is cyclically in (h, j] */
        if (h <= j ? (h < home && home <= j) : (h < home || home <= j))
            continue;
        s->index[h] = s->index[j];
        h = j;
    }
    s->index[h] = 0;
}

/* Erase a node: its feature state and its tracks in every model. */
static void forget_node(serve_core *s, size_t slot, const char *why)
{
    size_t k;
    if (s->hooks.node_removed)
        s->hooks.node_removed(s->hooks.ctx, &s->nodes[slot], why);
    for (k = 0; k < s->n_models; ++k) {
        (void)aether_features_forget(s->models[k].fx, (uint32_t)slot);
        (void)aether_tracks_forget(s->models[k].tracks, s->nodes[slot].track_id);
    }
    index_remove(s, slot);
    lru_unlink(s, (uint32_t)slot);
    memset(&s->nodes[slot], 0, sizeof s->nodes[slot]);
    s->free_slots[s->n_free++] = (uint32_t)slot;
    s->active--;
}

void serve_expire_idle(serve_core *s, double now)
{
    if (s->cfg.idle <= 0.0)
        return;
    /* least recently seen first: stop at the first node still fresh */
    while (s->lru_head != SERVE_NIL && now - s->nodes[s->lru_head].last_seen > s->cfg.idle) {
        forget_node(s, s->lru_head, "idle");
        s->nodes_idle++;
    }
}

size_t serve_active_nodes(const serve_core *s)
{
    return s->active;
}

static void make_key(serve_node *n)
{
    char *c;
    snprintf(n->key, sizeof n->key, "%u_%s", (unsigned)n->node_id, n->sender);
    for (c = n->key; *c; ++c)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            *c = '_';
}

/* The slot of (node id, sender) if the table has it, else SERVE_NIL;
 * changes nothing. */
static uint32_t lookup_node(const serve_core *s, uint32_t id, const struct sockaddr_storage *a,
                            socklen_t al)
{
    size_t h = node_hash(s, id, a, al);
    for (;;) {
        uint32_t v = s->index[h];
        const serve_node *n;
        if (v == 0)
            return SERVE_NIL;
        n = &s->nodes[v - 1];
        if (n->node_id == id && net_addr_equal(&n->addr, n->addr_len, a, al))
            return v - 1;
        h = (h + 1) & s->index_mask;
    }
}

/* Slot now the most recently seen node. */
static void touch_node(serve_core *s, uint32_t slot)
{
    if (s->lru_tail != slot) {
        lru_unlink(s, slot);
        lru_append(s, slot);
    }
}

/* A new node (id, sender), replacing the least recently seen one when the
 * table is full; its slot, the most recently seen. */
static size_t add_node(serve_core *s, uint32_t id, const struct sockaddr_storage *a, socklen_t al,
                       double now)
{
    size_t h, slot;
    serve_node *n;
    if (s->n_free == 0) {
        forget_node(s, s->lru_head, "evicted");
        s->nodes_evicted++;
    }
    slot = s->free_slots[--s->n_free];
    n = &s->nodes[slot];
    n->used = 1;
    n->node_id = id;
    memcpy(&n->addr, a, al);
    n->addr_len = al;
    net_addr_format((const struct sockaddr *)a, n->sender, sizeof n->sender);
    make_key(n);
    n->track_id = ++s->next_track_id;
    n->last_seen = now;
    /* its bucket: the first free one from its home, after the eviction's shifts */
    h = node_hash(s, id, a, al);
    while (s->index[h])
        h = (h + 1) & s->index_mask;
    s->index[h] = (uint32_t)(slot + 1);
    lru_append(s, (uint32_t)slot);
    s->active++;
    s->nodes_created++;
    if (s->hooks.node_added)
        s->hooks.node_added(s->hooks.ctx, n);
    return slot;
}

/* ---------------- datagrams ---------------- */

static void report_decision(serve_core *s, size_t k, const serve_node *n)
{
    serve_model *m = &s->models[k];
    serve_decision d;
    memset(&d, 0, sizeof d);
    d.model_index = k;
    d.model = m;
    d.node = n;
    d.frame = n->stepped[k];
    d.logits = m->logits;
    d.n_classes = m->info.n_classes;
    d.timestamp = s->wall_now;
    aether_packet_argmax(m->logits, d.n_classes, &d.cls, &d.top, &d.margin);
    d.label = m->n_labels ? m->labels[d.cls] : NULL;
    {
        const aether_window *w = aether_tracks_window(m->tracks, n->track_id);
        if (!w || aether_window_input_distance(w, &d.distance) != AETHER_OK)
            d.distance = -1.0f;
    }
    d.calibrated = model_meta_decide(m->logits, d.n_classes, &m->ld.meta.decision, d.distance);
    m->decisions++;
    if (s->hooks.decision)
        s->hooks.decision(s->hooks.ctx, &d);
}

/* A window model's frame: the classify runs only on the node's decision
 * frames. Sets *due when this frame is one. */
static aether_status window_step(serve_model *m, serve_node *n, size_t k, double ts,
                                 const float *x, int *due)
{
    aether_status st;
    *due = (n->stepped[k] + 1) % m->every == 0;
    st = aether_tracks_step(m->tracks, n->track_id, ts, x, *due ? m->logits : NULL, NULL, NULL);
    if (st == AETHER_OK)
        n->stepped[k]++;
    return st;
}

/* After model k stepped node n with status st: a decision when due, or the
 * failure handled; 0, or a drop reason + 1. */
static int after_step(serve_core *s, size_t k, serve_node *n, aether_status st, int due)
{
    serve_model *m = &s->models[k];
    if (st != AETHER_OK) {
        /* never stall a node: a session that cannot go on starts over */
        if (st != AETHER_ERR_NONFINITE) {
            (void)aether_tracks_forget(m->tracks, n->track_id);
            n->stepped[k] = 0;
        }
        return SERVE_DROP_MODEL + 1;
    }
    if (due)
        report_decision(s, k, n);
    return 0;
}

static int sibling_index(uint32_t magic)
{
    if (magic > AETHER_ADR018_MAGIC && magic <= AETHER_MAGIC_CLASSIFICATION)
        return (int)(magic - AETHER_MAGIC_VITALS);
    return -1;
}

/* The malformed reason of a datagram that is not one whole ADR-018 frame,
 * -1 - sibling index for a sibling packet, or SERVE_MAL_COUNT for a frame
 * (parsed into *f). */
static int classify_datagram(const unsigned char *b, size_t len, int truncated,
                             aether_csi_frame *f)
{
    uint32_t magic;
    size_t flen = 0;
    if (len == 0)
        return SERVE_MAL_EMPTY;
    if (len < 4)
        return SERVE_MAL_TOO_SHORT;
    magic = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (magic != AETHER_ADR018_MAGIC) {
        int i = sibling_index(magic);
        return i >= 0 ? -1 - i : SERVE_MAL_BAD_MAGIC;
    }
    if (truncated)
        return SERVE_MAL_TOO_LONG;
    if (len < AETHER_ADR018_HEADER_BYTES)
        return SERVE_MAL_TOO_SHORT;
    if (aether_adr018_frame_length(b, len, &flen) != AETHER_OK)
        return SERVE_MAL_BAD_HEADER;
    if (flen != len)
        return len < flen ? SERVE_MAL_TRUNCATED : SERVE_MAL_TOO_LONG;
    if (aether_adr018_parse(b, len, f) != AETHER_OK)
        return SERVE_MAL_BAD_HEADER;
    return SERVE_MAL_COUNT;
}

static void track_sequence(serve_core *s, serve_node *n, uint32_t seq)
{
    if (n->have_seq && seq != n->last_seq + 1u) {
        uint32_t d = seq - n->last_seq;
        if (d != 0 && d < 0x80000000u)
            s->seq_gaps += d - 1u;
        else
            s->seq_backwards++;
    }
    n->last_seq = seq;
    n->have_seq = 1;
}

/* The waiting datagrams' tracks steps and what follows them, in arrival
 * order: the nodes' frame counts, decisions and accounting. */
static void flush_pending(serve_core *s)
{
    size_t p, k;
    for (k = 0; k < s->n_models; ++k) {
        serve_model *m = &s->models[k];
        if (m->n_pend && !m->ld.window_mode) {
            aether_status st = aether_tracks_step_batch(m->tracks, m->pend_ids, m->pend_ts,
                                                        m->pend_frames, m->n_pend,
                                                        m->pend_logits, NULL, m->pend_status,
                                                        NULL);
            size_t r;
            for (r = 0; st != AETHER_OK && r < m->n_pend; ++r)
                m->pend_status[r] = st; /* the call itself failed: nothing stepped */
        }
    }
    for (p = 0; p < s->n_pend; ++p) {
        serve_node *n = &s->nodes[s->pend_slot[p]];
        int drop = 0;
        for (k = 0; k < s->n_models; ++k) {
            serve_model *m = &s->models[k];
            int row = s->pend_row[p][k], due = 0, d;
            aether_status st;
            if (row < 0) {
                if (!drop)
                    drop = SERVE_DROP_FEATURES + 1;
                continue;
            }
            if (m->ld.window_mode) {
                st = window_step(m, n, k, m->pend_ts[row],
                                 m->pend_frames + (size_t)row * m->info.input_dim, &due);
            } else {
                st = m->pend_status[row];
                if (st == AETHER_OK) {
                    memcpy(m->logits, m->pend_logits + (size_t)row * m->info.n_classes,
                           m->info.n_classes * sizeof(float));
                    n->stepped[k]++;
                    due = n->stepped[k] % m->every == 0;
                }
            }
            d = after_step(s, k, n, st, due);
            if (d && !drop)
                drop = d;
        }
        n->pending = 0;
        if (drop)
            s->dropped[drop - 1]++;
        else
            s->used++;
    }
    for (k = 0; k < s->n_models; ++k)
        s->models[k].n_pend = 0;
    s->n_pend = 0;
}

/* One datagram up to its tracks steps: counted, or its node found (or
 * added) and its features kept for the flush. */
static void gather_datagram(serve_core *s, const serve_datagram *dg, double now)
{
    aether_csi_frame f;
    size_t slot, k, p;
    uint32_t known;
    serve_node *n;
    int kind;
    s->received++;
    kind = classify_datagram(dg->bytes, dg->len, dg->truncated, &f);
    if (kind < 0) {
        s->ignored[-1 - kind]++;
        return;
    }
    if (kind < SERVE_MAL_COUNT) {
        s->malformed[kind]++;
        return;
    }
    /* A new node may evict another, and a node's second frame depends on
     * how its first went: step what waits first. */
    known = lookup_node(s, f.node_id, dg->from, dg->from_len);
    if (known == SERVE_NIL || s->nodes[known].pending || s->n_pend == SERVE_BATCH_MAX)
        flush_pending(s);
    f.timestamp = now;
    if (known != SERVE_NIL) { /* a flush changes no node */
        touch_node(s, known);
        slot = known;
    } else {
        slot = add_node(s, f.node_id, dg->from, dg->from_len, now);
    }
    n = &s->nodes[slot];
    track_sequence(s, n, f.sequence);
    n->last_seen = now;
    p = s->n_pend++;
    s->pend_slot[p] = (uint32_t)slot;
    n->pending = 1;
    for (k = 0; k < s->n_models; ++k) {
        serve_model *m = &s->models[k];
        float *x = m->pend_frames + m->n_pend * m->info.input_dim;
        uint32_t real_id = f.node_id;
        aether_status st;
        f.node_id = (uint32_t)slot; /* the extractor's key: the node table slot */
        st = aether_features_compute(m->fx, &f, x, m->info.input_dim);
        f.node_id = real_id;
        if (st != AETHER_OK) {
            s->pend_row[p][k] = -1;
            continue;
        }
        m->pend_ids[m->n_pend] = n->track_id;
        m->pend_ts[m->n_pend] = now;
        s->pend_row[p][k] = (int)m->n_pend++;
    }
}

void serve_handle_datagrams(serve_core *s, const serve_datagram *d, size_t n, double now)
{
    size_t i;
    for (i = 0; i < n; ++i)
        gather_datagram(s, &d[i], now);
    flush_pending(s);
}

void serve_handle_datagram(serve_core *s, const unsigned char *b, size_t len, int truncated,
                           const struct sockaddr_storage *from, socklen_t from_len, double now)
{
    serve_datagram d;
    d.bytes = b;
    d.len = len;
    d.truncated = truncated;
    d.from = from;
    d.from_len = from_len;
    serve_handle_datagrams(s, &d, 1, now);
}

int serve_accounting_ok(const serve_core *s)
{
    uint64_t sum = s->used;
    size_t i;
    for (i = 0; i < SERVE_SIBLINGS; ++i)
        sum += s->ignored[i];
    for (i = 0; i < SERVE_MAL_COUNT; ++i)
        sum += s->malformed[i];
    for (i = 0; i < SERVE_DROP_COUNT; ++i)
        sum += s->dropped[i];
    return sum == s->received;
}

/* ---------------- JSON ---------------- */

void serve_decision_json(const serve_decision *d, textbuf *t)
{
    size_t i;
    textbuf_printf(t, "{\"type\":\"decision\",\"timestamp\":%.6f,\"node\":%u,\"sender\":",
                   d->timestamp, (unsigned)d->node->node_id);
    textbuf_json_string(t, d->node->sender);
    textbuf_printf(t, ",\"model\":");
    textbuf_json_string(t, d->model->name);
    textbuf_printf(t, ",\"frame\":%llu,\"class\":%lu,", (unsigned long long)d->frame,
                   (unsigned long)d->cls);
    if (d->label) {
        textbuf_printf(t, "\"label\":");
        textbuf_json_string(t, d->label);
        textbuf_putc(t, ',');
    }
    {
        char fields[MODEL_META_FIELDS_CAP];
        model_meta_decision_fields(&d->calibrated,
                                   d->label ? (const char *const *)d->model->labels : NULL,
                                   d->distance, fields, sizeof fields);
        textbuf_printf(t, "%s", fields);
    }
    textbuf_printf(t, "\"margin\":");
    textbuf_json_float(t, d->margin);
    textbuf_printf(t, ",\"logits\":[");
    for (i = 0; i < d->n_classes; ++i) {
        if (i)
            textbuf_putc(t, ',');
        textbuf_json_float(t, d->logits[i]);
    }
    textbuf_printf(t, "]}");
}

static uint64_t sum_u64(const uint64_t *v, size_t n)
{
    uint64_t s = 0;
    size_t i;
    for (i = 0; i < n; ++i)
        s += v[i];
    return s;
}

static void counters_json(textbuf *t, const char *name, const char *const *names,
                          const uint64_t *v, size_t n)
{
    size_t i;
    textbuf_printf(t, ",\"%s\":{", name);
    for (i = 0; i < n; ++i)
        textbuf_printf(t, "%s\"%s\":%llu", i ? "," : "", names[i], (unsigned long long)v[i]);
    textbuf_putc(t, '}');
}

void serve_stats_json(const serve_core *s, int final, double now, textbuf *t)
{
    size_t i;
    textbuf_printf(t,
                   "{\"type\":\"stats\",\"final\":%s,\"seconds\":%.3f,\"received\":%llu,"
                   "\"used\":%llu,\"ignored\":%llu,\"malformed\":%llu,\"dropped\":%llu",
                   final ? "true" : "false", now - s->t_start, (unsigned long long)s->received,
                   (unsigned long long)s->used,
                   (unsigned long long)sum_u64(s->ignored, SERVE_SIBLINGS),
                   (unsigned long long)sum_u64(s->malformed, SERVE_MAL_COUNT),
                   (unsigned long long)sum_u64(s->dropped, SERVE_DROP_COUNT));
    counters_json(t, "ignored_by_magic", serve_sibling_names, s->ignored, SERVE_SIBLINGS);
    counters_json(t, "malformed_by_reason", serve_malformed_names, s->malformed, SERVE_MAL_COUNT);
    counters_json(t, "dropped_by_reason", serve_drop_names, s->dropped, SERVE_DROP_COUNT);
    textbuf_printf(t,
                   ",\"seq_gaps\":%llu,\"seq_backwards\":%llu,\"nodes\":{\"active\":%lu,"
                   "\"max\":%lu,\"created\":%llu,\"evicted\":%llu,\"idle\":%llu},"
                   "\"decisions\":{",
                   (unsigned long long)s->seq_gaps, (unsigned long long)s->seq_backwards,
                   (unsigned long)serve_active_nodes(s), (unsigned long)s->cfg.max_nodes,
                   (unsigned long long)s->nodes_created, (unsigned long long)s->nodes_evicted,
                   (unsigned long long)s->nodes_idle);
    for (i = 0; i < s->n_models; ++i) {
        if (i)
            textbuf_putc(t, ',');
        textbuf_json_string(t, s->models[i].name);
        textbuf_printf(t, ":%llu", (unsigned long long)s->models[i].decisions);
    }
    textbuf_putc(t, '}');
}
