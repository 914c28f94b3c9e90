/*
 * The datagram-to-decision core of `aether serve`, free of sockets and
 * output: a node table, one set of models with their feature extractors and
 * track tables, and the accounting. The command (cmd_serve.c) feeds it
 * datagrams and routes what it reports (decisions, nodes that come and go)
 * to the outputs; the fuzz target and the load benchmark drive it directly.
 *
 * A node is a (node id, sender address and port) pair: the same id from two
 * senders is two nodes. Each node holds a slot of the node table; the slot
 * index is the node's key in the feature extractors, and a 64-bit id that is
 * never reused is its key in the track tables. A node unseen for `idle`
 * seconds is forgotten (its feature state and tracks erased), and a new node
 * arriving at a full table replaces the least recently seen one.
 *
 * Cost: a datagram finds its node through a hash index over (node id,
 * sender) and the node table keeps its nodes in a list from least to most
 * recently seen, so finding, creating, evicting (the list's head) and
 * forgetting a node are O(1) on average whatever max_nodes is; the feature
 * extractors and track tables index their nodes the same way. A flood of
 * new (spoofed) ids therefore costs O(1) per datagram plus the erasure of
 * the evicted node's state. serve_expire_idle is O(nodes it forgets). The
 * times given to the core must not decrease (a monotonic clock).
 *
 * Accounting: every datagram handed to the core is exactly one of used,
 * ignored (a sibling packet, by magic), malformed (by reason) or dropped
 * (by reason): serve_accounting_ok() checks it.
 *
 * Memory is fixed by serve_core_init and serve_model_open; handling a
 * datagram allocates nothing.
 */
#ifndef AETHER_TOOLS_SERVE_CORE_H
#define AETHER_TOOLS_SERVE_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "aether/blob.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/tracks.h"
#include "model_load.h"
#include "textbuf.h"

#define SERVE_MAX_MODELS 8u
#define SERVE_MAX_LABELS 256u
#define SERVE_MAX_NODES AETHER_FEATURES_MAX_NODES /* 65536: the feature extractor's bound */

/* Why a datagram was not used. */
enum {
    SERVE_MAL_EMPTY = 0,  /* 0 bytes */
    SERVE_MAL_TOO_SHORT,  /* shorter than a header */
    SERVE_MAL_BAD_MAGIC,  /* not 0xC5110001..07 */
    SERVE_MAL_BAD_HEADER, /* antenna or subcarrier count out of range */
    SERVE_MAL_TRUNCATED,  /* fewer bytes than the header's lengths say */
    SERVE_MAL_TOO_LONG,   /* more bytes than the header's lengths say */
    SERVE_MAL_COUNT
};
enum { SERVE_DROP_FEATURES = 0, SERVE_DROP_MODEL, SERVE_DROP_COUNT };
#define SERVE_SIBLINGS 6 /* magics 0xC5110002..07 */
/* Datagrams serve_handle_datagrams steps through one batched tracks call. */
#define SERVE_BATCH_MAX 64u
#define SERVE_NIL 0xFFFFFFFFu

typedef struct serve_config {
    size_t every;     /* 0: each model's window_stride metadata, else 50 */
    size_t max_nodes; /* 1..SERVE_MAX_NODES */
    size_t capacity;  /* frames per layer cache of a streaming session */
    double idle;      /* seconds; 0: never forget */
} serve_config;

typedef struct serve_model {
    const char *path;
    char name[64]; /* the file name without .rvne */
    unsigned char *blob_bytes;
    model_loaded ld; /* the blob (viewing blob_bytes), its metadata and choices */
    aether_model *model;
    aether_model_info info;
    aether_features *fx;
    aether_tracks *tracks;
    float *logits;
    size_t every;
    char *labels[SERVE_MAX_LABELS];
    size_t n_labels;
    char labels_buf[4096];
    uint64_t decisions;
    /* serve_handle_datagrams: the features of the datagrams waiting for
     * their tracks step (rows in arrival order) and that step's results. */
    float *pend_frames, *pend_logits;
    uint64_t pend_ids[SERVE_BATCH_MAX];
    double pend_ts[SERVE_BATCH_MAX];
    aether_status pend_status[SERVE_BATCH_MAX];
    size_t n_pend;
} serve_model;

typedef struct serve_node {
    int used;
    uint32_t node_id;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char sender[64]; /* "127.0.0.1:40000", "[::1]:40000" */
    char key[96];    /* "<id>_<sender>" with every character outside [A-Za-z0-9_-] as '_':
                        a topic level and an identifier */
    uint64_t track_id;
    double last_seen;
    uint32_t last_seq;
    int have_seq;
    uint64_t stepped[SERVE_MAX_MODELS];
    int pending; /* a datagram of this node waits in serve_handle_datagrams */
} serve_node;

typedef struct serve_decision {
    size_t model_index;
    const serve_model *model;
    const serve_node *node;
    uint64_t frame; /* frames of this node through this model so far */
    size_t cls;
    const char *label; /* NULL without labels metadata */
    float top, margin;
    aether_decision calibrated; /* probability and unknown (aether/decision.h) */
    float distance;             /* the window's input distance; -1: not known */
    const float *logits;
    size_t n_classes;
    double timestamp; /* Unix time the frame arrived */
} serve_decision;

/* What the core reports; any hook may be NULL. */
typedef struct serve_hooks {
    void *ctx;
    void (*decision)(void *ctx, const serve_decision *d);
    void (*node_added)(void *ctx, const serve_node *n);
    /* why: "idle" or "evicted"; called before the node's slot is erased */
    void (*node_removed)(void *ctx, const serve_node *n, const char *why);
} serve_hooks;

typedef struct serve_core {
    serve_config cfg;
    serve_hooks hooks;
    serve_model models[SERVE_MAX_MODELS];
    size_t n_models;
    serve_node *nodes; /* cfg.max_nodes */
    /* (node id, sender) -> slot: open addressing, linear probing,
     * backward-shift deletion, slot + 1 per bucket (0 empty) */
    uint32_t *index;
    size_t index_mask;
    /* used slots from least to most recently seen (SERVE_NIL ends) */
    uint32_t *lru_prev, *lru_next, lru_head, lru_tail;
    uint32_t *free_slots; /* stack of the unused slots, [0, n_free) */
    size_t n_free, active;
    uint64_t next_track_id;
    uint64_t received, used, ignored[SERVE_SIBLINGS], malformed[SERVE_MAL_COUNT],
        dropped[SERVE_DROP_COUNT];
    uint64_t seq_gaps, seq_backwards, nodes_created, nodes_evicted, nodes_idle;
    /* serve_handle_datagrams: the datagrams waiting for their tracks step,
     * their node slots and, per model, their feature row (-1: the features
     * failed). */
    size_t n_pend;
    uint32_t pend_slot[SERVE_BATCH_MAX];
    int pend_row[SERVE_BATCH_MAX][SERVE_MAX_MODELS];
    double t_start;  /* monotonic seconds at init */
    double wall_now; /* Unix time of the batch being handled: decisions' timestamp */
} serve_core;

extern const char *const serve_malformed_names[SERVE_MAL_COUNT];
extern const char *const serve_drop_names[SERVE_DROP_COUNT];
extern const char *const serve_sibling_names[SERVE_SIBLINGS];

/* 0 or CLI_EXIT_FAILED (out of memory). */
int serve_core_init(serve_core *s, const serve_config *cfg, const serve_hooks *hooks, double now);
void serve_core_free(serve_core *s);

/* Load a model file and add it (the next index); its tracks get cfg's node
 * count and capacity. 0, or an exit status after a message on stderr. */
int serve_model_load(serve_core *s, const char *path);
/* The same from blob bytes already in memory (taken over: freed with the core). */
int serve_model_open(serve_core *s, const char *path, unsigned char *bytes, size_t len);

/* One datagram of len bytes from `from`, at monotonic time now. truncated:
 * the receive buffer was too small (the datagram is longer than any frame).
 * serve_handle_datagrams with this one datagram. */
void serve_handle_datagram(serve_core *s, const unsigned char *b, size_t len, int truncated,
                           const struct sockaddr_storage *from, socklen_t from_len, double now);

/* One received datagram (serve_handle_datagrams). */
typedef struct serve_datagram {
    const unsigned char *bytes;
    size_t len;
    int truncated;
    const struct sockaddr_storage *from;
    socklen_t from_len;
} serve_datagram;

/* n datagrams received together, at monotonic time now: the same
 * decisions, node events (in the same order), counters and state as n
 * calls of serve_handle_datagram. The streaming-session models step the
 * datagrams' frames through aether_tracks_step_batch, up to
 * SERVE_BATCH_MAX at a time: the frames of known nodes are gathered until
 * a datagram comes from a new node (whose creation may evict another) or
 * from a node already waiting, which first steps those gathered. Window
 * models step each frame in turn. */
void serve_handle_datagrams(serve_core *s, const serve_datagram *d, size_t n, double now);

/* Forget the nodes unseen for more than cfg.idle seconds. */
void serve_expire_idle(serve_core *s, double now);

/* Nodes in the table now. */
size_t serve_active_nodes(const serve_core *s);

/* received == used + ignored + malformed + dropped. */
int serve_accounting_ok(const serve_core *s);

/* The decision as a JSON object (the `aether run --json` decision line plus
 * timestamp, node, sender and model), no newline. */
void serve_decision_json(const serve_decision *d, textbuf *t);

/* The counters as a JSON object without its closing brace, so that outputs
 * can add theirs. */
void serve_stats_json(const serve_core *s, int final, double now, textbuf *t);

/* The model's description line ({"type":"model",...}), no newline. */
void serve_model_json(const serve_model *m, textbuf *t);

#endif
