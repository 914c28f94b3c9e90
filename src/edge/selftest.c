/* ruv_temporal_kernel_self_test: one fixed sparse attention case through
 * the kernel the device runs, against outputs recorded from the scalar
 * reference path. The reference (always the path on the firmware targets)
 * must match bit for bit - the recorded bits are identical on x86_64, armhf,
 * aarch64 and s390x, which the cross test checks; an optimised host path
 * must meet the dispatch accuracy contract. */
#include "edge/edge_internal.h"

#include "aether/attention.h"
#include "aether/dispatch.h"
#include "kernels/osm.h"

#include <string.h>

#define ST_SEQ 8u
#define ST_HEADS 2u
#define ST_DIM 4u
#define ST_N (ST_SEQ * ST_HEADS * ST_DIM)
/* Workspace of the case: the reference kernel (the firmware targets) needs
 * its layout alone, under 1 KiB; the optimised host paths (x86_64,
 * AArch64) need one worker's driver scratch more, about 22 KiB at these
 * shapes. A workspace for fewer threads than set runs fewer, same bits. */
#if defined(__x86_64__) || defined(__aarch64__)
#define ST_WS 32768u
#else
#define ST_WS 1024u
#endif

/* Expected output bits, [seq][head][dim]. */
/* clang-format off */
static const uint32_t st_expected[ST_N] = {
    0xBF000000u, 0x3E800000u, 0x3F800000u, 0xBF000000u,
    0x3E800000u, 0x3F800000u, 0xBF000000u, 0x3E800000u,
    0x3E7A0009u, 0xBDFA0009u, 0x3F20C000u, 0x3E7A0009u,
    0xBE037FF9u, 0x3F1F2003u, 0x3E837FF9u, 0xBE037FF9u,
    0x3E7E70E8u, 0x3DFD9EE8u, 0x3EC15FD3u, 0x3E7E70E8u,
    0x3E200000u, 0x3EB00000u, 0x3E800000u, 0x3E200000u,
    0x3DA52CE1u, 0x3E5B1AE7u, 0x3EE92754u, 0x3DA52CE1u,
    0x3E80AB2Cu, 0x3EEC31CEu, 0x3D191835u, 0x3E80AB2Cu,
    0x3D5E364Cu, 0x3E6CC09Du, 0x3EEDD8E7u, 0x3D5E364Cu,
    0x3E6DC464u, 0x3EE638A7u, 0x3D8B9497u, 0x3E6DC464u,
    0x3E7EDCF4u, 0x3E392B7Au, 0x3EA3FBC7u, 0x3E7EDCF4u,
    0x3E3972E0u, 0x3E9F90C3u, 0x3E83B5CEu, 0x3E3972E0u,
    0x3E2FB094u, 0x3EB740CAu, 0x3E61CDDDu, 0x3E2FB094u,
    0x3EAF2A67u, 0x3E803EC5u, 0x3E212DA9u, 0x3EAF2A67u,
    0x3DAC9BD2u, 0x3E7B8200u, 0x3ED7180Cu, 0x3DAC9BD2u,
    0x3E80E31Fu, 0x3EDFD796u, 0x3D7A2A4Au, 0x3E80E31Fu,
};
/* clang-format on */

/* Inputs: small integers times powers of two, exact in binary32. */
static void fill_inputs(float *q, float *k, float *v)
{
    uint32_t i;
    for (i = 0; i < ST_N; ++i) {
        q[i] = (float)((int)((i * 7u + 3u) % 11u) - 5) * 0.125f;
        k[i] = (float)((int)((i * 5u + 1u) % 13u) - 6) * 0.0625f;
        v[i] = (float)((int)((i * 3u + 2u) % 9u) - 4) * 0.25f;
    }
}

esp_err_t ruv_temporal_self_test_run_(float *out)
{
    float q[ST_N], k[ST_N], v[ST_N];
    /* Scratch for the kernel; the arena aligns inside it. */
    unsigned char ws[ST_WS];
    size_t globals[1] = {0}, need = 0;
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_tensor tq, tk, tv, to;

    fill_inputs(q, k, v);
    ap.window = 2;
    ap.block_size = 2;
    ap.globals = globals;
    ap.n_globals = 1;
    ap.causal = 1;
    ap.use_log_stride = 1;
    ap.use_landmarks = 1;
    ap.sort_candidates = 0;
    if (aether_attn_config_init(&cfg, &ap) != AETHER_OK ||
        aether_attn_forward_workspace_size(&cfg, ST_SEQ, ST_HEADS, ST_HEADS, ST_DIM, &need) !=
            AETHER_OK)
        return ESP_FAIL;
    if (aether_tensor_view(&tq, q, ST_N, ST_SEQ, ST_HEADS, ST_DIM) != AETHER_OK ||
        aether_tensor_view(&tk, k, ST_N, ST_SEQ, ST_HEADS, ST_DIM) != AETHER_OK ||
        aether_tensor_view(&tv, v, ST_N, ST_SEQ, ST_HEADS, ST_DIM) != AETHER_OK ||
        aether_tensor_view(&to, out, ST_N, ST_SEQ, ST_HEADS, ST_DIM) != AETHER_OK)
        return ESP_FAIL;
    /* need is the size for every thread; the stack buffer holds at least
     * one worker's share (fewer workers, same results; no heap call). */
    if (aether_attn_forward(&cfg, &tq, &tk, &tv, &to, ws, sizeof ws) != AETHER_OK)
        return ESP_FAIL;
    /* The target's dot product against the reference on the same rows: an
     * accelerated one may round differently but must stay close. */
    {
        uint32_t r;
        for (r = 0; r < ST_SEQ * ST_HEADS; ++r) {
            float ref = aether_dot_ref(q + r * ST_DIM, k + r * ST_DIM, ST_DIM);
            float got = ruv_temporal_dot_(q + r * ST_DIM, k + r * ST_DIM, ST_DIM);
            float diff = got > ref ? got - ref : ref - got;
            if (!(diff <= 1e-6f))
                return ESP_FAIL;
        }
    }
    return ESP_OK;
}

/* An optimised kernel path (x86-64 / AArch64 hosts) computes in another
 * order with a polynomial exp: it must meet the dispatch accuracy contract
 * |fast - ref| <= 1e-6 * s + 2e-6 * |ref| (inputs here have scale s = 1). */
static int within_contract(float got, float ref)
{
    float diff = got > ref ? got - ref : ref - got;
    float mag = ref < 0.0f ? -ref : ref;
    return diff <= 1e-6f + 2e-6f * mag;
}

esp_err_t ruv_temporal_kernel_self_test(void)
{
    float out[ST_N];
    uint32_t i;
    int exact = strcmp(aether_kernel_name(), "reference") == 0;
    if (ruv_temporal_self_test_run_(out) != ESP_OK)
        return ESP_FAIL;
    for (i = 0; i < ST_N; ++i) {
        float ref = aether_f32_from_bits(st_expected[i]);
        if (exact ? aether_f32_bits(out[i]) != st_expected[i] : !within_contract(out[i], ref))
            return ESP_FAIL;
    }
    return ESP_OK;
}
