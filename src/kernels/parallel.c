/*
 * Fork-join over POSIX threads; without them (or for one thread) the caller
 * runs every item in order.
 */
#include "kernels/parallel.h"

#if (defined(__unix__) || defined(__APPLE__)) && !defined(__STDC_NO_ATOMICS__)
#include <pthread.h>
#include <stdatomic.h>

typedef struct job {
    atomic_size_t next;
    size_t n;
    aether_work_fn fn;
    void *ctx;
} job;

typedef struct helper {
    job *j;
    unsigned worker;
    pthread_t tid;
} helper;

static void drain(job *j, unsigned worker)
{
    for (;;) {
        size_t it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= j->n)
            return;
        j->fn(j->ctx, it, worker);
    }
}

static void *helper_main(void *arg)
{
    helper *h = (helper *)arg;
    drain(h->j, h->worker);
    return NULL;
}

void aether_parallel_run_(unsigned threads, size_t n_items, aether_work_fn fn, void *ctx)
{
    helper hs[256];
    unsigned n = 0, t;
    job j;
    if (threads > 256)
        threads = 256;
    if (threads > n_items)
        threads = (unsigned)n_items;
    atomic_init(&j.next, 0);
    j.n = n_items;
    j.fn = fn;
    j.ctx = ctx;
    for (t = 1; t < threads; ++t) {
        hs[n].j = &j;
        hs[n].worker = t;
        if (pthread_create(&hs[n].tid, NULL, helper_main, &hs[n]) != 0)
            break;
        ++n;
    }
    drain(&j, 0);
    for (t = 0; t < n; ++t)
        pthread_join(hs[t].tid, NULL);
}
#else
void aether_parallel_run_(unsigned threads, size_t n_items, aether_work_fn fn, void *ctx)
{
    size_t i;
    (void)threads;
    for (i = 0; i < n_items; ++i)
        fn(ctx, i, 0);
}
#endif
