/*
 * A program built against an installed aether: the version it linked, and
 * one causal attention forward (dense and sparse) checked against a hand
 * computation. Prints "PASS ..." and exits 0, or names the failed check and
 * exits 1.
 */
#include <aether/attention.h>
#include <aether/core.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static int checks;

static void check(int ok, const char *what)
{
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL %s\n", what);
    }
}

/*
 * seq 2, one head, dim 4 (score scale 1/sqrt(4) = 1/2), causal.
 *   q1 = (1,1,1,1), k0 = (1,1,0,0), k1 = (1,1,1,1)
 *   s0 = (q1.k0)/2 = 1, s1 = (q1.k1)/2 = 2
 *   w0 = e^1/(e^1+e^2) = 1/(1+e) = 0.2689414213699951
 *   w1 = e/(1+e)               = 0.7310585786300049
 *   v0 = (1,0,2,0), v1 = (0,1,0,4)
 *   out1 = w0*v0 + w1*v1 = (0.26894142, 0.73105858, 0.53788284, 2.92423431)
 * Token 0 sees only itself: out0 = v0.
 */
static const float Q[8] = {0.5f, -1.0f, 3.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f};
static const float K[8] = {1.0f, 1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f};
static const float V[8] = {1.0f, 0.0f, 2.0f, 0.0f, 0.0f, 1.0f, 0.0f, 4.0f};
static const double EXPECT[8] = {1.0,
                                 0.0,
                                 2.0,
                                 0.0,
                                 0.2689414213699951,
                                 0.7310585786300049,
                                 0.5378828427399902,
                                 2.9242343145200196};

static void check_output(const float *out, const char *what)
{
    char msg[96];
    for (int i = 0; i < 8; i++) {
        snprintf(msg, sizeof msg, "%s: out[%d] = %.9g, expected %.9g", what, i, out[i],
                 EXPECT[i]);
        double err = (double)out[i] - EXPECT[i];
        check(err <= 2e-6 && err >= -2e-6, msg);
    }
}

int main(void)
{
    float q[8], k[8], v[8], out[8];
    aether_tensor tq, tk, tv, to;
    memcpy(q, Q, sizeof q);
    memcpy(k, K, sizeof k);
    memcpy(v, V, sizeof v);

    check(strcmp(aether_version(), AETHER_VERSION_STRING) == 0,
          "aether_version() matches the header");
    check(aether_tensor_view(&tq, q, 8, 2, 1, 4) == AETHER_OK, "view q");
    check(aether_tensor_view(&tk, k, 8, 2, 1, 4) == AETHER_OK, "view k");
    check(aether_tensor_view(&tv, v, 8, 2, 1, 4) == AETHER_OK, "view v");
    check(aether_tensor_view(&to, out, 8, 2, 1, 4) == AETHER_OK, "view out");

    memset(out, 0, sizeof out);
    check(aether_attn_dense(&tq, &tk, &tv, 1, &to) == AETHER_OK, "aether_attn_dense");
    check_output(out, "dense");

    {
        aether_attn_params p = aether_attn_params_default();
        aether_attn_config cfg;
        size_t ws_len = 0;
        void *ws;
        check(aether_attn_config_init(&cfg, &p) == AETHER_OK, "aether_attn_config_init");
        check(aether_attn_forward_workspace_size(&cfg, 8, 1, 1, 4, &ws_len) == AETHER_OK,
              "aether_attn_forward_workspace_size");
        ws = malloc(ws_len ? ws_len : 1);
        memset(out, 0, sizeof out);
        check(aether_attn_forward(&cfg, &tq, &tk, &tv, &to, NULL, 0) == AETHER_ERR_NULL_ARG,
              "aether_attn_forward without a workspace");
        check(ws != NULL &&
                  aether_attn_forward(&cfg, &tq, &tk, &tv, &to, ws, ws_len) == AETHER_OK,
              "aether_attn_forward");
        free(ws);
        check_output(out, "sparse");
    }

    /* A wrong output shape is reported, not written. */
    {
        aether_tensor small;
        check(aether_tensor_view(&small, out, 4, 1, 1, 4) == AETHER_OK, "view small");
        check(aether_attn_dense(&tq, &tk, &tv, 1, &small) == AETHER_ERR_SHAPE_MISMATCH,
              "shape mismatch reported");
        check(strlen(aether_strerror(AETHER_ERR_SHAPE_MISMATCH)) > 0, "aether_strerror");
    }

    if (failures) {
        printf("core consumer: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("PASS core consumer: aether %s, %d checks\n", aether_version(), checks);
    return 0;
}
