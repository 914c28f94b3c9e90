/*
 * aether_train_fit with extreme configuration values: a batch larger than
 * the data (up to SIZE_MAX) is one full batch per epoch, sized by the data
 * (not batch * n_params bytes, which wrapped around size_t), and gives the
 * weights of batch = number of windows bit for bit; a NaN, negative or
 * above-one warmup fraction and an infinite learning rate are INVALID_ARG
 * with the weights unchanged.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/train.h"
#include "check.h"

enum { SD = 5, SR = 4, SF = 40 };

static float g_frames[SR * SF * SD];

static void make_recs(aether_train_recording *r)
{
    size_t i, t;
    memset(r, 0, SR * sizeof *r);
    for (i = 0; i < SR; ++i) {
        r[i].label = i % 2;
        r[i].frames = g_frames + i * SF * SD;
        r[i].n_frames = SF;
        r[i].split = AETHER_SPLIT_TRAIN;
        for (t = 0; t < SF * SD; ++t)
            r[i].frames[t] = (float)sin((double)(t * 7 + i)) + (t % SD == r[i].label ? 1.0f : 0.0f);
    }
}

static aether_train_net *new_net(void)
{
    aether_train_shape sh = {SD, 2, 1, 4, 1, 2, 1};
    aether_head_config hc = aether_head_config_default_aether();
    aether_train_net *net = NULL;
    hc.q_heads = 2;
    hc.kv_heads = 1;
    hc.head_dim = 4;
    hc.window = 4;
    hc.block_size = 4;
    if (aether_train_net_create(&sh, &hc, &net) != AETHER_OK)
        return NULL;
    if (aether_train_net_randomize(net, 7) != AETHER_OK) {
        aether_train_net_destroy(net);
        return NULL;
    }
    return net;
}

static aether_train_config base_config(void)
{
    aether_train_config c = aether_train_config_default();
    c.window = 16;
    c.stride = 8;
    c.epochs = 3;
    c.seed = 3;
    c.aug_shift = 0;
    return c;
}

/* Train a fresh net with batch b; its weights into w (n floats). */
static aether_status fit_batch(size_t b, size_t threads, float *w, size_t n)
{
    aether_train_recording r[SR];
    aether_train_config c = base_config();
    aether_train_net *net = new_net();
    aether_status st;
    if (!net)
        return AETHER_ERR_NO_MEM;
    make_recs(r);
    c.batch = b;
    c.threads = threads;
    st = aether_train_fit(net, r, SR, &c, NULL, NULL);
    memcpy(w, aether_train_net_params(net), n * sizeof(float));
    aether_train_net_destroy(net);
    return st;
}

static void test_batch_beyond_data(void)
{
    aether_train_net *net = new_net();
    size_t n, windows = SR * 4; /* (40 - 16) / 8 + 1 windows per recording */
    float *ref, *w;
    CHECK(net != NULL);
    if (!net)
        return;
    n = aether_train_net_layout(net)->v1_elems;
    aether_train_net_destroy(net);
    ref = (float *)malloc(n * sizeof(float));
    w = (float *)malloc(n * sizeof(float));
    CHECK(ref && w);
    if (ref && w) {
        CHECK_STATUS(fit_batch(windows, 1, ref, n), AETHER_OK);
        CHECK_STATUS(fit_batch(windows + 1, 1, w, n), AETHER_OK);
        CHECK(memcmp(ref, w, n * sizeof(float)) == 0);
        /* batch * n_params * sizeof(float) wraps to 0 here */
        CHECK_STATUS(fit_batch((size_t)1 << (sizeof(size_t) * 8 - 2), 1, w, n), AETHER_OK);
        CHECK(memcmp(ref, w, n * sizeof(float)) == 0);
        /* windows + batch - 1 wraps here */
        CHECK_STATUS(fit_batch(SIZE_MAX, 2, w, n), AETHER_OK);
        CHECK(memcmp(ref, w, n * sizeof(float)) == 0);
        /* and the weights did move */
        {
            aether_train_net *fresh = new_net();
            CHECK(fresh && memcmp(aether_train_net_params(fresh), ref, n * sizeof(float)) != 0);
            aether_train_net_destroy(fresh);
        }
    }
    free(ref);
    free(w);
}

static void test_bad_schedule(void)
{
    aether_train_recording r[SR];
    aether_train_net *net = new_net(), *fresh = new_net();
    aether_train_config c;
    const float warm[4] = {NAN, -0.5f, 1.5f, INFINITY};
    size_t i, n;
    CHECK(net && fresh);
    if (!net || !fresh) {
        aether_train_net_destroy(net);
        aether_train_net_destroy(fresh);
        return;
    }
    n = aether_train_net_layout(net)->v1_elems;
    make_recs(r);
    for (i = 0; i < 4; ++i) {
        c = base_config();
        c.warmup_frac = warm[i];
        CHECK_STATUS(aether_train_fit(net, r, SR, &c, NULL, NULL), AETHER_ERR_INVALID_ARG);
    }
    c = base_config();
    c.lr = INFINITY;
    CHECK_STATUS(aether_train_fit(net, r, SR, &c, NULL, NULL), AETHER_ERR_INVALID_ARG);
    CHECK(memcmp(aether_train_net_params(net), aether_train_net_params(fresh),
                 n * sizeof(float)) == 0);
    /* The edges of the range are accepted. */
    c = base_config();
    c.warmup_frac = 1.0f;
    CHECK_STATUS(aether_train_fit(net, r, SR, &c, NULL, NULL), AETHER_OK);
    c.warmup_frac = 0.0f;
    CHECK_STATUS(aether_train_fit(fresh, r, SR, &c, NULL, NULL), AETHER_OK);
    aether_train_net_destroy(net);
    aether_train_net_destroy(fresh);
}

TEST_MAIN(test_batch_beyond_data, test_bad_schedule)
