/* ADR-018 frames and CSI feature extraction / normalisation: known answers
 * on synthetic frames, per-node state, every malformed length field. */
#include "aether/csi.h"
#include "aether/features.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>

#define PI_D 3.14159265358979323846

static int is_null_tone(size_t k)
{
    return k == 0 || (k >= 27 && k <= 37);
}

/* Raw 64-pair frame with pair k = (imag, real) from the given arrays. */
static aether_csi_frame raw_frame(int8_t *iq, size_t pairs, uint32_t node)
{
    aether_csi_frame f;
    memset(&f, 0, sizeof f);
    f.kind = AETHER_CSI_RAW_IQ;
    f.n_pairs = pairs;
    f.iq = iq;
    f.node_id = node;
    return f;
}

static void fill_constant(int8_t *iq, size_t pairs, int im, int re)
{
    size_t k;
    for (k = 0; k < pairs; ++k) {
        int z = is_null_tone(k % 64);
        iq[2 * k] = (int8_t)(z ? 0 : im);
        iq[2 * k + 1] = (int8_t)(z ? 0 : re);
    }
}

static uint32_t g_lcg = 12345u;
static int lcg_int(int lo, int hi)
{
    g_lcg = g_lcg * 1664525u + 1013904223u;
    return lo + (int)((g_lcg >> 8) % (uint32_t)(hi - lo + 1));
}

static aether_features *make(size_t dim, size_t nodes)
{
    aether_features_config c;
    aether_features *f = NULL;
    c.input_dim = dim;
    c.max_nodes = nodes;
    c.recipe = AETHER_FEATURES_V1;
    CHECK_STATUS(aether_features_create(&c, &f), AETHER_OK);
    return f;
}

/* ---------------- ADR-018 ---------------- */

static size_t build_adr018(unsigned char *b, unsigned node, unsigned n_ant, unsigned n_sc)
{
    size_t i, total = 20 + 2u * n_ant * n_sc;
    aether_store_le32(b, AETHER_ADR018_MAGIC);
    b[4] = (unsigned char)node;
    b[5] = (unsigned char)n_ant;
    aether_store_le16(b + 6, (uint16_t)n_sc);
    aether_store_le32(b + 8, 2437);
    aether_store_le32(b + 12, 0xFFFFFFFEu);
    b[16] = (unsigned char)(256 - 42); /* rssi -42 */
    b[17] = (unsigned char)(256 - 95); /* noise -95 */
    b[18] = b[19] = 0;
    for (i = 20; i < total; ++i)
        b[i] = (unsigned char)(i * 7u);
    return total;
}

static void test_adr018_valid(void)
{
    static unsigned char b[AETHER_ADR018_MAX_BYTES], e[AETHER_ADR018_MAX_BYTES];
    aether_csi_frame f;
    size_t total = build_adr018(b, 7, 1, 64), n = 0, flen = 0;
    CHECK_EQ_INT(total, 148);
    CHECK_STATUS(aether_adr018_parse(b, total, &f), AETHER_OK);
    CHECK_EQ_INT(f.kind, AETHER_CSI_RAW_IQ);
    CHECK_EQ_INT(f.node_id, 7);
    CHECK_EQ_INT(f.n_antennas, 1);
    CHECK_EQ_INT(f.n_pairs, 64);
    CHECK_EQ_INT(f.freq_mhz, 2437);
    CHECK_EQ_INT(f.sequence, 0xFFFFFFFEu);
    CHECK_EQ_INT(f.rssi, -42);
    CHECK_EQ_INT(f.noise_floor, -95);
    CHECK(f.iq == (const int8_t *)(b + 20));
    /* byte 20+3 = 161 = 0xA1 -> int8 -95: real part of pair 1 */
    CHECK_EQ_INT(f.iq[3], (int)(unsigned char)(23u * 7u) - 256);
    CHECK_EQ_INT(f.flags, AETHER_CSI_HAS_NODE | AETHER_CSI_HAS_HEADER);
    CHECK_STATUS(aether_adr018_frame_length(b, 8, &flen), AETHER_OK);
    CHECK_EQ_INT(flen, 148);
    CHECK_STATUS(aether_adr018_encode(&f, e, sizeof e, &n), AETHER_OK);
    CHECK_EQ_INT(n, total);
    CHECK(memcmp(b, e, total) == 0);
    CHECK_STATUS(aether_adr018_encode(&f, e, total - 1, &n), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(n, total);

    /* limits: 4 antennas x 256 subcarriers, and 1 x 1 */
    total = build_adr018(b, 255, 4, 256);
    CHECK_EQ_INT(total, AETHER_ADR018_MAX_BYTES);
    CHECK_STATUS(aether_adr018_parse(b, total, &f), AETHER_OK);
    CHECK_EQ_INT(f.n_pairs, 1024);
    CHECK_EQ_INT(f.node_id, 255);
    CHECK_STATUS(aether_adr018_encode(&f, e, sizeof e, &n), AETHER_OK);
    CHECK(n == total && memcmp(b, e, total) == 0);
    total = build_adr018(b, 0, 1, 1);
    CHECK_STATUS(aether_adr018_parse(b, total, &f), AETHER_OK);
    CHECK_EQ_INT(f.n_pairs, 1);
}

static void test_adr018_malformed(void)
{
    static unsigned char b[AETHER_ADR018_MAX_BYTES + 8];
    aether_csi_frame f, sentinel;
    size_t total, len, flen = 99;
    memset(&sentinel, 0x5A, sizeof sentinel);
    f = sentinel;

    total = build_adr018(b, 1, 1, 64);
    CHECK_STATUS(aether_adr018_parse(NULL, total, &f), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_adr018_parse(b, total, NULL), AETHER_ERR_NULL_ARG);
    /* magic */
    b[3] = 0xC6;
    CHECK_STATUS(aether_adr018_parse(b, total, &f), AETHER_ERR_FRAME_MAGIC);
    CHECK_STATUS(aether_adr018_frame_length(b, 8, &flen), AETHER_ERR_FRAME_MAGIC);
    CHECK_STATUS(aether_adr018_parse(b, 4, &f), AETHER_ERR_FRAME_MAGIC);
    b[3] = 0xC5;
    /* every length shorter than the header */
    for (len = 0; len < 20; ++len)
        CHECK_STATUS(aether_adr018_parse(b, len, &f), AETHER_ERR_FRAME_LENGTH);
    CHECK_STATUS(aether_adr018_frame_length(b, 7, &flen), AETHER_ERR_FRAME_LENGTH);
    /* total length off by one either way, and payload-less */
    CHECK_STATUS(aether_adr018_parse(b, total - 1, &f), AETHER_ERR_FRAME_LENGTH);
    CHECK_STATUS(aether_adr018_parse(b, total + 1, &f), AETHER_ERR_FRAME_LENGTH);
    CHECK_STATUS(aether_adr018_parse(b, 20, &f), AETHER_ERR_FRAME_LENGTH);
    /* n_antennas 0 and 5 */
    b[5] = 0;
    CHECK_STATUS(aether_adr018_parse(b, total, &f), AETHER_ERR_FRAME_LENGTH);
    CHECK_STATUS(aether_adr018_frame_length(b, 8, &flen), AETHER_ERR_FRAME_LENGTH);
    b[5] = 5;
    CHECK_STATUS(aether_adr018_parse(b, 20 + 2u * 5u * 64u, &f), AETHER_ERR_FRAME_LENGTH);
    /* 2 antennas of 64: the 1-antenna length no longer matches */
    b[5] = 2;
    CHECK_STATUS(aether_adr018_parse(b, total, &f), AETHER_ERR_FRAME_LENGTH);
    b[5] = 1;
    /* n_subcarriers 0 and 257 */
    aether_store_le16(b + 6, 0);
    CHECK_STATUS(aether_adr018_parse(b, 20, &f), AETHER_ERR_FRAME_LENGTH);
    aether_store_le16(b + 6, 257);
    CHECK_STATUS(aether_adr018_parse(b, 20 + 2u * 257u, &f), AETHER_ERR_FRAME_LENGTH);
    aether_store_le16(b + 6, 0xFFFF);
    CHECK_STATUS(aether_adr018_frame_length(b, 8, &flen), AETHER_ERR_FRAME_LENGTH);
    CHECK_EQ_INT(flen, 99);
    CHECK(memcmp(&f, &sentinel, sizeof f) == 0);

    /* encoder argument checks */
    {
        int8_t iq[6] = {0};
        aether_csi_frame g = raw_frame(iq, 3, 1);
        size_t n;
        g.flags = AETHER_CSI_HAS_HEADER;
        g.n_antennas = 2; /* 3 pairs do not split over 2 antennas */
        CHECK_STATUS(aether_adr018_encode(&g, b, sizeof b, &n), AETHER_ERR_INVALID_ARG);
        g.n_antennas = 1;
        g.node_id = 256;
        CHECK_STATUS(aether_adr018_encode(&g, b, sizeof b, &n), AETHER_ERR_INVALID_ARG);
        g.node_id = 1;
        g.kind = AETHER_CSI_AMPLITUDE;
        CHECK_STATUS(aether_adr018_encode(&g, b, sizeof b, &n), AETHER_ERR_INVALID_ARG);
    }
}

/* ---------------- features: known answers ---------------- */

static void test_constant_amplitude(void)
{
    int8_t iq[128];
    float v[16], w[16];
    aether_csi_frame f;
    aether_features *fx = make(16, 4);
    size_t i;
    CHECK_EQ_INT(aether_features_groups(16), 5);
    fill_constant(iq, 64, 3, 4); /* |z| = 5 on every real tone */
    f = raw_frame(iq, 64, 1);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    CHECK_NEAR(v[AETHER_FEAT_ENERGY], log(26.0), 1e-6);
    CHECK_NEAR(v[AETHER_FEAT_DISPERSION], 0.0, 1e-7);
    CHECK_NEAR(v[AETHER_FEAT_MOTION], 0.0, 0.0);
    CHECK_NEAR(v[AETHER_FEAT_PHASE_MEAN], 0.0, 0.0);
    CHECK_NEAR(v[AETHER_FEAT_PHASE_STD], 0.0, 0.0);
    for (i = 0; i < 5; ++i) {
        CHECK_NEAR(v[6 + i], 1.0, 1e-7);
        CHECK_NEAR(v[11 + i], 0.0, 0.0);
    }
    /* The same frame again: every temporal difference is zero. */
    CHECK_STATUS(aether_features_compute(fx, &f, w, 16), AETHER_OK);
    CHECK_NEAR(w[AETHER_FEAT_MOTION], 0.0, 0.0);
    CHECK_NEAR(w[AETHER_FEAT_PHASE_MOTION], 0.0, 0.0);
    for (i = 0; i < 16; ++i)
        CHECK(v[i] == w[i]);
    /* Non-null tones only: dirt on the guards changes nothing but nothing else. */
    iq[2 * 30] = 100;
    iq[0] = -100;
    CHECK_STATUS(aether_features_compute(fx, &f, w, 16), AETHER_OK);
    for (i = 0; i < 16; ++i)
        CHECK(v[i] == w[i]);
    aether_features_destroy(fx);
}

static void test_known_groups(void)
{
    /* 56 amplitudes: 44 canonical tones available (block 1..26, 38..55). */
    float amp[56], v[16];
    aether_csi_frame f;
    aether_features *fx = make(16, 1);
    size_t k, p;
    double mean = (10.0 * 2.0 + 34.0 * 1.0) / 44.0, disp = 0.0;
    for (k = 0; k < 56; ++k)
        amp[k] = 0.0f;
    for (p = 0; p < 44; ++p) {
        size_t k2 = p < 26 ? p + 1 : p + 12;
        amp[k2] = p < 10 ? 2.0f : 1.0f; /* group 0 = canonical 0..9 */
    }
    memset(&f, 0, sizeof f);
    f.kind = AETHER_CSI_AMPLITUDE;
    f.n_pairs = 56;
    f.amp = amp;
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    CHECK_NEAR(v[AETHER_FEAT_ENERGY], log(1.0 + (10.0 * 4.0 + 34.0) / 44.0), 1e-6);
    for (p = 0; p < 44; ++p) {
        double d = (p < 10 ? 2.0 : 1.0) / mean - 1.0;
        disp += d * d;
    }
    CHECK_NEAR(v[AETHER_FEAT_DISPERSION], sqrt(disp / 44.0), 1e-6);
    CHECK_NEAR(v[6], 2.0 / mean, 1e-6);
    CHECK_NEAR(v[7], 1.0 / mean, 1e-6);
    CHECK_NEAR(v[8], 1.0 / mean, 1e-6);
    CHECK_NEAR(v[9], 1.0 / mean, 1e-6);
    CHECK_NEAR(v[10], 1.0 / mean, 1e-6); /* group 4: only canonical 41..43 present */
    /* amplitude frames carry no phase */
    CHECK(v[AETHER_FEAT_PHASE_MEAN] == 0.0f && v[AETHER_FEAT_PHASE_STD] == 0.0f);

    /* A 16-amplitude frame leaves groups 2..4 without tones: exactly 0. */
    f.n_pairs = 16;
    CHECK_STATUS(aether_features_reset(fx), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    CHECK(v[8] == 0.0f && v[9] == 0.0f && v[10] == 0.0f);
    CHECK_NEAR(v[6], 2.0 / ((10.0 * 2.0 + 5.0) / 15.0), 1e-6);
    aether_features_destroy(fx);
}

/* Phase of block tone k = step * k (+ offset), amplitude 100, exact values. */
static void fill_quarter_ramp(int8_t *iq, int step_quarters, int offset_quarters)
{
    static const int im[4] = {0, 100, 0, -100}, re[4] = {100, 0, -100, 0};
    size_t k;
    for (k = 0; k < 64; ++k) {
        int q = (((int)k * step_quarters + offset_quarters) % 4 + 4) % 4;
        iq[2 * k] = (int8_t)(is_null_tone(k) ? 0 : im[q]);
        iq[2 * k + 1] = (int8_t)(is_null_tone(k) ? 0 : re[q]);
    }
}

static void test_phase_ramp(void)
{
    int8_t iq[128], iq2[128];
    float v[16], w[16];
    aether_csi_frame f = raw_frame(iq, 64, 1), g = raw_frame(iq2, 64, 2);
    aether_features *fx = make(16, 4);
    size_t i;
    fill_quarter_ramp(iq, 1, 0);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    CHECK_NEAR(v[AETHER_FEAT_PHASE_MEAN], PI_D / 2.0, 1e-6);
    CHECK_NEAR(v[AETHER_FEAT_PHASE_STD], 0.0, 1e-6);
    CHECK_NEAR(v[AETHER_FEAT_DISPERSION], 0.0, 1e-7);
    /* A common phase offset (another packet's CFO) changes nothing. */
    fill_quarter_ramp(iq2, 1, 3);
    CHECK_STATUS(aether_features_compute(fx, &g, w, 16), AETHER_OK);
    for (i = 0; i < 16; ++i)
        CHECK_NEAR(w[i], v[i], 1e-6);
    /* Descending ramp, and a half-turn ramp that sits on the wrap point. */
    fill_quarter_ramp(iq, -1, 0);
    CHECK_STATUS(aether_features_reset(fx), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    CHECK_NEAR(v[AETHER_FEAT_PHASE_MEAN], -PI_D / 2.0, 1e-6);
    CHECK_NEAR(v[AETHER_FEAT_PHASE_STD], 0.0, 1e-6);
    fill_quarter_ramp(iq, 2, 0);
    CHECK_STATUS(aether_features_compute(fx, &f, w, 16), AETHER_OK);
    CHECK_NEAR(w[AETHER_FEAT_PHASE_MEAN], PI_D, 1e-6);
    CHECK_NEAR(w[AETHER_FEAT_PHASE_STD], 0.0, 1e-6);
    /* Ramp +pi/2 -> +pi: every adjacent difference moved by pi/2. */
    CHECK_NEAR(w[AETHER_FEAT_PHASE_MOTION], 3.0 * PI_D / 2.0 - PI_D, 1e-6);
    /* Imaginary-first order: (imag, real) = (100, 0) is +pi/2, not 0. */
    fill_constant(iq, 64, 0, 100);
    for (i = 1; i < 27; i += 2) {
        iq[2 * i] = 100;
        iq[2 * i + 1] = 0;
    }
    CHECK_STATUS(aether_features_reset(fx), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    /* Tones 1..26 alternate pi/2, 0: 13 steps down, 12 up (real-first
     * reading would flip the sign); tones 38..63 add 25 zero steps. */
    CHECK_NEAR(v[AETHER_FEAT_PHASE_MEAN], (-PI_D / 2.0) / 50.0, 1e-6);
    aether_features_destroy(fx);
}

static void test_gain_doubled(void)
{
    int8_t a[2 * 192], b[2 * 192];
    float va[32], vb[32], vc[32];
    aether_csi_frame fa = raw_frame(a, 192, 1), fb = raw_frame(b, 192, 2);
    aether_features *fx = make(32, 4);
    double pa = 0.0;
    size_t i, p;
    for (i = 0; i < 2 * 192; ++i) {
        a[i] = (int8_t)(is_null_tone((i / 2) % 64) ? 0 : lcg_int(-60, 60));
        b[i] = (int8_t)(2 * a[i]);
    }
    for (p = 0; p < 52; ++p) {
        size_t k = p < 26 ? p + 1 : p + 12;
        pa += (double)a[2 * k] * a[2 * k] + (double)a[2 * k + 1] * a[2 * k + 1];
    }
    pa /= 52.0;
    CHECK_STATUS(aether_features_compute(fx, &fa, va, 32), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &fb, vb, 32), AETHER_OK);
    CHECK_NEAR(va[0], log(1.0 + pa), 1e-5);
    CHECK_NEAR(vb[0], log(1.0 + 4.0 * pa), 1e-5);
    for (i = 1; i < 32; ++i)
        CHECK_NEAR(va[i], vb[i], 1e-6);
    /* A x2 gain jump between packets of one node is not motion. */
    fb.node_id = 1;
    CHECK_STATUS(aether_features_compute(fx, &fb, vc, 32), AETHER_OK);
    CHECK_NEAR(vc[AETHER_FEAT_MOTION], 0.0, 1e-6);
    CHECK_NEAR(vc[AETHER_FEAT_PHASE_MOTION], 0.0, 1e-6);
    for (i = 0; i < aether_features_groups(32); ++i)
        CHECK_NEAR(vc[6 + aether_features_groups(32) + i], 0.0, 1e-6);
    aether_features_destroy(fx);
}

static void test_nodes_and_state(void)
{
    int8_t c[128], x[128];
    float v[16], before[16];
    aether_csi_frame fc1 = raw_frame(c, 64, 1), fx2 = raw_frame(x, 64, 2);
    aether_features *fx = make(16, 2);
    size_t i;
    fill_constant(c, 64, 3, 4);
    for (i = 0; i < 128; ++i)
        x[i] = (int8_t)(is_null_tone(i / 2) ? 0 : lcg_int(-50, 50));
    CHECK_STATUS(aether_features_compute(fx, &fc1, v, 16), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &fx2, v, 16), AETHER_OK);
    CHECK(v[AETHER_FEAT_MOTION] == 0.0f); /* node 2's first frame */
    /* Node 1 again: compared with its own previous frame, not node 2's. */
    CHECK_STATUS(aether_features_compute(fx, &fc1, v, 16), AETHER_OK);
    CHECK(v[AETHER_FEAT_MOTION] == 0.0f);
    /* Node 2 now sees the constant frame: real motion. */
    fx2.iq = c;
    CHECK_STATUS(aether_features_compute(fx, &fx2, v, 16), AETHER_OK);
    CHECK(v[AETHER_FEAT_MOTION] > 0.1f);
    CHECK(v[AETHER_FEAT_PHASE_MOTION] > 0.1f);
    /* Table full: a third node fails and changes nothing. */
    memcpy(before, v, sizeof v);
    fc1.node_id = 3;
    CHECK_STATUS(aether_features_compute(fx, &fc1, v, 16), AETHER_ERR_TRACKS_FULL);
    CHECK(memcmp(before, v, sizeof v) == 0);
    CHECK_STATUS(aether_features_forget(fx, 3), AETHER_ERR_TRACK_NOT_FOUND);
    CHECK_STATUS(aether_features_forget(fx, 1), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &fc1, v, 16), AETHER_OK);
    /* Node 2 still remembers: same frame again is motionless. */
    CHECK_STATUS(aether_features_compute(fx, &fx2, v, 16), AETHER_OK);
    CHECK(v[AETHER_FEAT_MOTION] == 0.0f);
    /* A kind change on one node restarts its differences. */
    {
        float amp[56];
        aether_csi_frame fa;
        for (i = 0; i < 56; ++i)
            amp[i] = (float)(i % 7);
        memset(&fa, 0, sizeof fa);
        fa.kind = AETHER_CSI_AMPLITUDE;
        fa.n_pairs = 56;
        fa.amp = amp;
        fa.node_id = 2;
        CHECK_STATUS(aether_features_compute(fx, &fa, v, 16), AETHER_OK);
        CHECK(v[AETHER_FEAT_MOTION] == 0.0f);
        for (i = 11; i < 16; ++i)
            CHECK(v[i] == 0.0f);
    }
    aether_features_destroy(fx);
}

static void test_dims(void)
{
    int8_t iq[128];
    float v[AETHER_FEATURES_MAX_DIM + 1];
    aether_csi_frame f = raw_frame(iq, 64, 0);
    aether_features_config c = aether_features_config_default();
    size_t d, i, bytes;
    fill_constant(iq, 64, -7, 24); /* |z| = 25 */
    CHECK_EQ_INT(c.input_dim, 16);
    CHECK_EQ_INT(aether_features_groups(7), 0);
    CHECK_EQ_INT(aether_features_groups(8), 1);
    CHECK_EQ_INT(aether_features_groups(9), 1);
    CHECK_EQ_INT(aether_features_groups(110), 52);
    CHECK_EQ_INT(aether_features_groups(111), 52);
    CHECK_EQ_INT(aether_features_groups(112), 0);
    c.input_dim = 7;
    CHECK_STATUS(aether_features_size(&c, &bytes), AETHER_ERR_INVALID_ARG);
    c.input_dim = 112;
    CHECK_STATUS(aether_features_size(&c, &bytes), AETHER_ERR_INVALID_ARG);
    c.input_dim = 16;
    c.max_nodes = 0;
    CHECK_STATUS(aether_features_size(&c, &bytes), AETHER_ERR_INVALID_ARG);
    for (d = AETHER_FEATURES_MIN_DIM; d <= AETHER_FEATURES_MAX_DIM; ++d) {
        aether_features *fx = make(d, 1);
        size_t g = aether_features_groups(d);
        CHECK_EQ_INT(aether_features_dim(fx), d);
        memset(v, 0x7F, sizeof v);
        CHECK_STATUS(aether_features_compute(fx, &f, v, d), AETHER_OK);
        CHECK_NEAR(v[0], log(1.0 + 625.0), 1e-5);
        for (i = 0; i < g; ++i)
            CHECK_NEAR(v[6 + i], 1.0, 1e-6);
        if (d % 2 == 1)
            CHECK(v[d - 1] == 0.0f); /* reserved slot */
        CHECK(v[d] != 0.0f);         /* nothing written past D */
        aether_features_destroy(fx);
    }
}

static aether_features *make_v2(size_t dim)
{
    aether_features_config c = aether_features_config_default();
    aether_features *f = NULL;
    c.input_dim = dim;
    c.max_nodes = 4;
    c.recipe = AETHER_FEATURES_V2;
    CHECK_STATUS(aether_features_create(&c, &f), AETHER_OK);
    return f;
}

/* Amplitude frame of 56 values (44 canonical tones, 22 of each sign):
 * block tone k = 1 + sign * s, sign alternating over canonical positions,
 * so the per-packet mean is 1 and n_k = amplitude. perm (optional) moves
 * canonical position p's value to position perm[p] (a chip with another
 * subcarrier order). */
static void fill_alternating(float *amp, double s, double gain, const size_t *perm)
{
    size_t p;
    for (p = 0; p < 56; ++p)
        amp[p] = 0.0f;
    for (p = 0; p < 44; ++p) {
        size_t q = perm ? perm[p] : p;
        size_t k = q < 26 ? q + 1 : q + 12;
        amp[k] = (float)(gain * (1.0 + ((p % 2) ? -s : s)));
    }
}

#define FL AETHER_FEATURES_V2_FLOOR

static void test_recipe_v2(void)
{
    float a1[56], a2[56], v1[17], v2[17], w[17];
    aether_csi_frame f;
    aether_features *x1 = make(17, 4), *x2 = make_v2(17);
    const size_t G = 5, B = AETHER_FEATURES_FIXED + G;
    const double s = 0.25;
    size_t i, perm[44];
    unsigned r = 0;
    int8_t iq[128];

    CHECK_EQ_INT(aether_features_recipe(x1), AETHER_FEATURES_V1);
    CHECK_EQ_INT(aether_features_recipe(x2), AETHER_FEATURES_V2);
    CHECK_STATUS(aether_features_recipe_parse("csi-v2", &r), AETHER_OK);
    CHECK_EQ_INT(r, AETHER_FEATURES_V2);
    CHECK_STATUS(aether_features_recipe_parse("csi-v9", &r), AETHER_ERR_INVALID_ARG);
    CHECK(!strcmp(aether_features_recipe_name(0), "csi-v1"));
    CHECK(aether_features_recipe_name(9) == NULL);
    {
        aether_features_config c = aether_features_config_default();
        size_t bytes;
        c.recipe = 9;
        CHECK_STATUS(aether_features_size(&c, &bytes), AETHER_ERR_INVALID_ARG);
    }

    memset(&f, 0, sizeof f);
    f.kind = AETHER_CSI_AMPLITUDE;
    f.n_pairs = 56;
    f.amp = a1;
    /* first frame: every statistic starts, variability at the floor */
    fill_alternating(a1, s, 1.0, NULL);
    CHECK_STATUS(aether_features_compute(x1, &f, v1, 17), AETHER_OK);
    CHECK_STATUS(aether_features_compute(x2, &f, v2, 17), AETHER_OK);
    for (i = 0; i < 17; ++i)
        if (i < B || i >= B + 5)
            CHECK(v1[i] == v2[i]); /* v1 slots unchanged */
    for (i = 0; i < 3; ++i)
        CHECK_NEAR(v2[B + i], log(FL), 1e-6);
    CHECK(v2[B + 3] == 0.0f); /* no phase differences in amplitude frames */
    CHECK_NEAR(v2[B + 4], log(FL), 1e-6);

    /* second frame: the pattern flips sign, |n_k - n_k(prev)| = 2s on
     * every tone and r = -1. EMS after two samples: v = (1-a) a d^2. */
    fill_alternating(a2, -s, 1.0, NULL);
    f.amp = a2;
    CHECK_STATUS(aether_features_compute(x1, &f, v1, 17), AETHER_OK);
    CHECK_STATUS(aether_features_compute(x2, &f, v2, 17), AETHER_OK);
    CHECK_NEAR(v2[AETHER_FEAT_MOTION], 2.0 * s, 1e-6);
    CHECK_NEAR(v2[B + 0], log(FL + sqrt(7.0 / 64.0) * 2.0 * s), 1e-5);
    CHECK_NEAR(v2[B + 1], log(FL + sqrt(31.0 / 1024.0) * 2.0 * s), 1e-5);
    CHECK_NEAR(v2[B + 2], log(FL + 2.0), 1e-6);
    CHECK_NEAR(v2[B + 4], log(FL + 2.0 * s / 8.0), 1e-5);
    for (i = 0; i < B; ++i)
        CHECK(v1[i] == v2[i]);

    /* another chip's subcarrier order and a x2 gain step: the pooled
     * variability features are the same */
    for (i = 0; i < 44; ++i)
        perm[i] = (i * 7 + 3) % 44; /* 7 is coprime with 44 */
    {
        aether_features *x3 = make_v2(17);
        fill_alternating(a1, s, 1.0, perm);
        fill_alternating(a2, -s, 2.0, perm);
        f.amp = a1;
        CHECK_STATUS(aether_features_compute(x3, &f, w, 17), AETHER_OK);
        f.amp = a2;
        CHECK_STATUS(aether_features_compute(x3, &f, w, 17), AETHER_OK);
        for (i = 0; i < 5; ++i)
            CHECK_NEAR(w[B + i], v2[B + i], 1e-5);
        aether_features_destroy(x3);
    }

    /* a constant stream: variability decays towards the floor, r = 1 */
    f.amp = a2;
    fill_alternating(a2, -s, 1.0, NULL);
    for (i = 0; i < 400; ++i)
        CHECK_STATUS(aether_features_compute(x2, &f, v2, 17), AETHER_OK);
    CHECK_NEAR(v2[B + 2], log(FL), 1e-6);
    CHECK(v2[B + 0] < log(FL + 1e-6));
    CHECK(v2[B + 4] < log(FL + 1e-6));

    /* phases: two quarter-turn ramps, +pi/2 then -pi/2 per tone: every
     * adjacent difference moves by wrap(-pi) = pi, so v = (7/64) pi^2 */
    {
        aether_features *x4 = make_v2(17);
        aether_csi_frame g = raw_frame(iq, 64, 1);
        fill_quarter_ramp(iq, 1, 0);
        CHECK_STATUS(aether_features_compute(x4, &g, w, 17), AETHER_OK);
        CHECK_NEAR(w[B + 3], log(FL), 1e-6);
        fill_quarter_ramp(iq, -1, 0);
        CHECK_STATUS(aether_features_compute(x4, &g, w, 17), AETHER_OK);
        CHECK_NEAR(w[B + 3], log(FL + sqrt(7.0 / 64.0) * PI_D), 1e-5);
        /* forgetting the node restarts its statistics */
        CHECK_STATUS(aether_features_forget(x4, 1), AETHER_OK);
        CHECK_STATUS(aether_features_compute(x4, &g, w, 17), AETHER_OK);
        CHECK_NEAR(w[B + 3], log(FL), 1e-6);
        aether_features_destroy(x4);
    }
    /* G < 5 (D = 10, G = 2): only the first G variability slots */
    {
        aether_features *x5 = make_v2(10), *x6 = make(10, 4);
        float p5[10], p6[10];
        f.amp = a1;
        fill_alternating(a1, s, 1.0, NULL);
        CHECK_STATUS(aether_features_compute(x5, &f, p5, 10), AETHER_OK);
        CHECK_STATUS(aether_features_compute(x6, &f, p6, 10), AETHER_OK);
        for (i = 0; i < 8; ++i)
            CHECK(p5[i] == p6[i]);
        CHECK_NEAR(p5[8], log(FL), 1e-6);
        CHECK_NEAR(p5[9], log(FL), 1e-6);
        aether_features_destroy(x5);
        aether_features_destroy(x6);
    }
    aether_features_destroy(x1);
    aether_features_destroy(x2);
}

static aether_features *make_v3(size_t dim)
{
    aether_features_config c = aether_features_config_default();
    aether_features *f = NULL;
    c.input_dim = dim;
    c.max_nodes = 4;
    c.recipe = AETHER_FEATURES_V3;
    CHECK_STATUS(aether_features_create(&c, &f), AETHER_OK);
    return f;
}

/* Amplitude frame whose canonical tones all sit at 1 + s (then the same
 * value 1 + s on every tone would cancel in the gain normalisation, so the
 * two halves of the tones move in opposite directions: 1 + s, 1 - s). */
static void fill_halves(float *amp, double s)
{
    size_t p;
    for (p = 0; p < 56; ++p)
        amp[p] = 0.0f;
    for (p = 0; p < 44; ++p) {
        size_t k = p < 26 ? p + 1 : p + 12;
        amp[k] = (float)(1.0 + (p < 22 ? s : -s));
    }
}

/* Long ratio slot [B+2] after n frames of x_t = s * wave(t) on the two
 * tone halves. */
static float v3_ratio_after(size_t n, double period, const size_t *perm)
{
    float a[56], v[17] = {0};
    aether_csi_frame f;
    aether_features *x = make_v3(17);
    size_t t;
    memset(&f, 0, sizeof f);
    f.kind = AETHER_CSI_AMPLITUDE;
    f.n_pairs = 56;
    f.amp = a;
    for (t = 0; t < n; ++t) {
        double w = period > 0.0 ? sin(2.0 * PI_D * (double)t / period) : ((t % 2) ? -1.0 : 1.0);
        if (perm)
            fill_alternating(a, 0.1 * w, 1.0, perm);
        else
            fill_halves(a, 0.1 * w);
        CHECK_STATUS(aether_features_compute(x, &f, v, 17), AETHER_OK);
    }
    aether_features_destroy(x);
    return v[AETHER_FEATURES_FIXED + 5 + 2];
}

static void test_recipe_v3(void)
{
    float a1[56], a2[56], v1[17], v3[17], w[17];
    aether_csi_frame f;
    aether_features *x1 = make(17, 4), *x3 = make_v3(17);
    const size_t G = 5, B = AETHER_FEATURES_FIXED + G;
    const double s = 0.25, E = AETHER_FEATURES_V3_EPS;
    size_t i, perm[44];
    unsigned r = 0;

    CHECK_EQ_INT(aether_features_recipe(x3), AETHER_FEATURES_V3);
    CHECK_STATUS(aether_features_recipe_parse("csi-v3", &r), AETHER_OK);
    CHECK_EQ_INT(r, AETHER_FEATURES_V3);
    CHECK(!strcmp(aether_features_recipe_name(AETHER_FEATURES_V3), "csi-v3"));

    memset(&f, 0, sizeof f);
    f.kind = AETHER_CSI_AMPLITUDE;
    f.n_pairs = 56;
    f.amp = a1;
    /* first frame: no variance, no differences, ratios and coherence 0 */
    fill_alternating(a1, s, 1.0, NULL);
    CHECK_STATUS(aether_features_compute(x1, &f, v1, 17), AETHER_OK);
    CHECK_STATUS(aether_features_compute(x3, &f, v3, 17), AETHER_OK);
    for (i = 0; i < 17; ++i)
        if (i < B || i >= B + 5)
            CHECK(v1[i] == v3[i]); /* v1 slots unchanged */
    CHECK_NEAR(v3[B + 0], log(FL), 1e-6);
    CHECK_NEAR(v3[B + 1], log(FL), 1e-6);
    CHECK(v3[B + 2] == 0.0f && v3[B + 3] == 0.0f && v3[B + 4] == 0.0f);

    /* second frame, pattern flipped (each tone moves by 2s): the exact
     * two-sample variance s^2 (no warm-up bias), white = (2s)^2 / 2, and
     * adjacent tones deviate in opposite directions (coherence -1) */
    fill_alternating(a2, -s, 1.0, NULL);
    f.amp = a2;
    CHECK_STATUS(aether_features_compute(x1, &f, v1, 17), AETHER_OK);
    CHECK_STATUS(aether_features_compute(x3, &f, v3, 17), AETHER_OK);
    CHECK_NEAR(v3[B + 0], log(FL + s), 1e-5);
    CHECK_NEAR(v3[B + 1], log(FL + s), 1e-5);
    CHECK_NEAR(v3[B + 2], log((E + s * s) / (E + 2.0 * s * s)), 1e-5);
    CHECK_NEAR(v3[B + 3], log((E + s * s) / (E + 2.0 * s * s)), 1e-5);
    CHECK_NEAR(v3[B + 4], -1.0, 1e-6);
    for (i = 0; i < B; ++i)
        CHECK(v1[i] == v3[i]);

    /* third frame back to the first: still the exact population variance
     * of (s, -s, s), 8 s^2 / 9 */
    f.amp = a1;
    CHECK_STATUS(aether_features_compute(x3, &f, v3, 17), AETHER_OK);
    CHECK_NEAR(v3[B + 0], log(FL + sqrt(8.0 / 9.0) * s), 1e-5);
    CHECK_NEAR(v3[B + 1], log(FL + sqrt(8.0 / 9.0) * s), 1e-5);

    /* another chip's subcarrier order and a x2 gain step: the pooled slots
     * 0..3 are the same */
    for (i = 0; i < 44; ++i)
        perm[i] = (i * 7 + 3) % 44;
    {
        aether_features *x4 = make_v3(17), *x5 = make_v3(17);
        fill_alternating(a1, s, 1.0, perm);
        fill_alternating(a2, -s, 2.0, perm);
        f.amp = a1;
        CHECK_STATUS(aether_features_compute(x4, &f, w, 17), AETHER_OK);
        f.amp = a2;
        CHECK_STATUS(aether_features_compute(x4, &f, w, 17), AETHER_OK);
        fill_alternating(a1, s, 1.0, NULL);
        fill_alternating(a2, -s, 1.0, NULL);
        f.amp = a1;
        CHECK_STATUS(aether_features_compute(x5, &f, v3, 17), AETHER_OK);
        f.amp = a2;
        CHECK_STATUS(aether_features_compute(x5, &f, v3, 17), AETHER_OK);
        for (i = 0; i < 4; ++i)
            CHECK_NEAR(w[B + i], v3[B + i], 1e-5);
        aether_features_destroy(x4);
        aether_features_destroy(x5);
    }

    /* the slow-variance ratio: a fast flicker (every frame) stays below 0,
     * a slow change (period 200 frames) of the same size goes well above,
     * and the level of the change does not matter */
    {
        float fast = v3_ratio_after(400, 0.0, NULL), slow = v3_ratio_after(400, 200.0, NULL);
        float slow_perm = v3_ratio_after(400, 200.0, perm);
        CHECK(fast < 0.0f);
        CHECK(slow > 3.0f);
        CHECK_NEAR(slow_perm, slow, 1e-3);
    }

    /* a node's restart (forget) restarts the statistics */
    CHECK_STATUS(aether_features_forget(x3, 0), AETHER_OK);
    f.amp = a1;
    CHECK_STATUS(aether_features_compute(x3, &f, v3, 17), AETHER_OK);
    CHECK_NEAR(v3[B + 0], log(FL), 1e-6);
    CHECK(v3[B + 2] == 0.0f && v3[B + 4] == 0.0f);
    aether_features_destroy(x1);
    aether_features_destroy(x3);
}

static aether_features *make_recipe(size_t dim, unsigned recipe)
{
    aether_features_config c = aether_features_config_default();
    aether_features *f = NULL;
    c.input_dim = dim;
    c.max_nodes = 4;
    c.recipe = recipe;
    CHECK_STATUS(aether_features_create(&c, &f), AETHER_OK);
    return f;
}

/* Raw frame t of a smooth synthetic sequence (a fixed random channel whose
 * tones swell and fade slowly, values within +-60 so that doubling fits
 * int8), doubled when gain2. */
static void v4_frame(int8_t *iq, const int8_t *base, size_t t, int gain2)
{
    size_t k;
    for (k = 0; k < 64; ++k) {
        double m = 1.0 + 0.15 * sin(0.05 * (double)t + 0.3 * (double)k);
        int im = (int)lrint(base[2 * k] * m), re = (int)lrint(base[2 * k + 1] * m);
        iq[2 * k] = (int8_t)(gain2 ? 2 * im : im);
        iq[2 * k + 1] = (int8_t)(gain2 ? 2 * re : re);
    }
}

static void test_recipe_v4(void)
{
    enum { N = 400, D = 17 };
    int8_t base[128], iq[128];
    float a[D], b[D], c1[D], amp[56];
    aether_csi_frame fr = raw_frame(iq, 64, 3);
    aether_features *clean = make_recipe(D, AETHER_FEATURES_V4);
    aether_features *stepped = make_recipe(D, AETHER_FEATURES_V4);
    aether_features *again = make_recipe(D, AETHER_FEATURES_V4);
    aether_features *v1 = make_recipe(D, AETHER_FEATURES_V1);
    aether_features *v1s = make_recipe(D, AETHER_FEATURES_V1);
    aether_features_config bad = aether_features_config_default();
    size_t t, i, n_steps = 0, n_high = 0;
    double max_v1_gap = 0.0, max_v4_gap = 0.0;
    unsigned r = 0;
    int gain2 = 0;

    CHECK_EQ_INT(aether_features_recipe(clean), AETHER_FEATURES_V4);
    CHECK_STATUS(aether_features_recipe_parse("csi-v4", &r), AETHER_OK);
    CHECK_EQ_INT(r, AETHER_FEATURES_V4);
    CHECK(!strcmp(aether_features_recipe_name(AETHER_FEATURES_V4), "csi-v4"));
    bad.recipe = AETHER_FEATURES_V4;
    CHECK_STATUS(aether_features_size(&bad, &t), AETHER_OK);

    for (i = 0; i < 128; ++i)
        base[i] = (int8_t)(is_null_tone(i / 2) ? 0 : lcg_int(-50, 50));
    /* x2 gain steps as the C3 recordings have them: runs of 1..9 packets
     * at the other level, about 40 % of the packets */
    for (t = 0; t < N; ++t) {
        int next = (lcg_int(0, 99) < 25) ? !gain2 : gain2;
        n_steps += next != gain2;
        gain2 = next;
        n_high += (size_t)gain2;
        v4_frame(iq, base, t, 0);
        CHECK_STATUS(aether_features_compute(clean, &fr, a, D), AETHER_OK);
        CHECK_STATUS(aether_features_compute(again, &fr, c1, D), AETHER_OK);
        CHECK(!memcmp(a, c1, sizeof a)); /* deterministic */
        {
            float u[D], ub[D];
            CHECK_STATUS(aether_features_compute(v1, &fr, u, D), AETHER_OK);
            for (i = 1; i < D; ++i)
                CHECK(u[i] == a[i]); /* every slot but the energy is v1's */
            if (t == 0)
                CHECK(a[0] == 0.0f); /* a node's first frame */
            v4_frame(iq, base, t, gain2);
            CHECK_STATUS(aether_features_compute(stepped, &fr, b, D), AETHER_OK);
            CHECK_STATUS(aether_features_compute(v1s, &fr, ub, D), AETHER_OK);
            if (fabs((double)ub[0] - (double)u[0]) > max_v1_gap) /* v1 sees the steps */
                max_v1_gap = fabs((double)ub[0] - (double)u[0]);
        }
        for (i = 0; i < D; ++i) {
            double g = fabs((double)a[i] - (double)b[i]);
            if (g > max_v4_gap)
                max_v4_gap = g;
        }
    }
    CHECK(n_steps > N / 5 && n_high > N / 4 && n_high < 3 * N / 4);
    CHECK(max_v4_gap <= 1e-5); /* v4: the same features with the steps */
    CHECK(max_v1_gap > 1.3);   /* v1's energy moves by ~ln 4 */
    CHECK(max_v4_gap < max_v1_gap);

    /* a reset node starts again: the first frame's energy slot is 0 */
    CHECK_STATUS(aether_features_reset(clean), AETHER_OK);
    v4_frame(iq, base, 7, 1);
    CHECK_STATUS(aether_features_compute(clean, &fr, a, D), AETHER_OK);
    CHECK(a[0] == 0.0f);

    /* known answers on amplitude frames: 10 frames at one level, then a real
     * power change x2.25 (not a step): L_c = ln 2.25, the running mean of
     * 11 samples ln 2.25 / 11, so the slot is ln 2.25 * 10 / 11; an exact x4
     * power change (a x2 step) instead leaves the slot at 0 */
    {
        aether_features *x = make_recipe(D, AETHER_FEATURES_V4);
        aether_features *y = make_recipe(D, AETHER_FEATURES_V4);
        aether_csi_frame fa;
        memset(&fa, 0, sizeof fa);
        fa.kind = AETHER_CSI_AMPLITUDE;
        fa.n_pairs = 56;
        fa.amp = amp;
        for (t = 0; t < 11; ++t) {
            double s = t < 10 ? 1.0 : 1.5;
            for (i = 0; i < 56; ++i)
                amp[i] = (float)(s * (3.0 + (double)(i % 5)));
            CHECK_STATUS(aether_features_compute(x, &fa, a, D), AETHER_OK);
            for (i = 0; i < 56; ++i)
                amp[i] = (float)((t < 10 ? 1.0 : 2.0) * (3.0 + (double)(i % 5)));
            CHECK_STATUS(aether_features_compute(y, &fa, b, D), AETHER_OK);
            if (t < 10)
                CHECK_NEAR(a[0], 0.0, 1e-7);
        }
        CHECK_NEAR(a[0], log(2.25) * 10.0 / 11.0, 1e-6);
        CHECK_NEAR(b[0], 0.0, 1e-7);

        /* two x2 steps at once (x16 power) up and back: still 0 */
        for (t = 0; t < 3; ++t) {
            for (i = 0; i < 56; ++i)
                amp[i] = (float)((t == 1 ? 8.0 : 2.0) * (3.0 + (double)(i % 5)));
            CHECK_STATUS(aether_features_compute(y, &fa, b, D), AETHER_OK);
            CHECK_NEAR(b[0], 0.0, 1e-7);
        }

        /* slow drift: amplitude gain exp(r t), r = 1e-3 a frame. v1's energy
         * rises by 2 r per frame; v4's slot settles at the lag of the slow
         * mean, 2 r (1 - a) / a, with a = 1/64 */
        CHECK_STATUS(aether_features_reset(x), AETHER_OK);
        for (t = 0; t < 2000; ++t) {
            double s = exp(1e-3 * (double)t);
            for (i = 0; i < 56; ++i)
                amp[i] = (float)(s * (3.0 + (double)(i % 5)));
            CHECK_STATUS(aether_features_compute(x, &fa, a, D), AETHER_OK);
        }
        CHECK_NEAR(a[0], 2e-3 * (1.0 - AETHER_FEATURES_V4_ALPHA) / AETHER_FEATURES_V4_ALPHA,
                   1e-3);
        aether_features_destroy(x);
        aether_features_destroy(y);
    }
    aether_features_destroy(clean);
    aether_features_destroy(stepped);
    aether_features_destroy(again);
    aether_features_destroy(v1);
    aether_features_destroy(v1s);
}

/* One raw frame of 64 pairs: imag 0, real = level for every data tone but
 * canonical tone 0 (block index 1), which gets first; every value times
 * gain (1 or 2). */
static void v5_flat_frame(int8_t *iq, int first, int level, int gain)
{
    size_t k;
    memset(iq, 0, 128);
    for (k = 0; k < 64; ++k)
        if (!is_null_tone(k))
            iq[2 * k + 1] = (int8_t)(gain * (k == 1 ? first : level));
}

static void test_recipe_v5(void)
{
    enum { D = 111, G = 52, N = 400, D2 = 39, G2 = 16 };
    int8_t iq[128], base[128];
    float v4[D], v5[D], st[D], a5[D2], b5[D2], a4[D2];
    double m[D], a;
    aether_csi_frame fr = raw_frame(iq, 64, 2);
    aether_features *x4 = make_recipe(D, AETHER_FEATURES_V4);
    aether_features *x5 = make_recipe(D, AETHER_FEATURES_V5);
    aether_features *y5 = make_recipe(D, AETHER_FEATURES_V5);
    aether_features_config bad = aether_features_config_default();
    /* the sequence: tone 0 at 10, 20, 10, 10, 30 with the others at 10;
     * the stepped copy doubles frames 1 and 2 (a x2 step up, then back
     * down after frame 2), from the lower level */
    static const int first[5] = {10, 20, 10, 10, 30}, gain[5] = {1, 2, 2, 1, 1};
    size_t t, j, p;
    unsigned r = 0;
    int gain2 = 0;

    CHECK_STATUS(aether_features_recipe_parse("csi-v5", &r), AETHER_OK);
    CHECK_EQ_INT(r, AETHER_FEATURES_V5);
    CHECK(!strcmp(aether_features_recipe_name(AETHER_FEATURES_V5), "csi-v5"));
    CHECK_EQ_INT(aether_features_recipe(x5), AETHER_FEATURES_V5);
    CHECK(aether_features_recipe_name(AETHER_FEATURES_V5 + 1) == NULL);
    CHECK_STATUS(aether_features_recipe_parse("csi-v6", &r), AETHER_ERR_INVALID_ARG);
    bad.recipe = AETHER_FEATURES_V5 + 1;
    CHECK_STATUS(aether_features_size(&bad, &t), AETHER_ERR_INVALID_ARG);

    for (t = 0; t < 5; ++t) {
        v5_flat_frame(iq, first[t], 10, 1);
        CHECK_STATUS(aether_features_compute(x4, &fr, v4, D), AETHER_OK);
        CHECK_STATUS(aether_features_compute(x5, &fr, v5, D), AETHER_OK);
        v5_flat_frame(iq, first[t], 10, gain[t]);
        CHECK_STATUS(aether_features_compute(y5, &fr, st, D), AETHER_OK);
        /* the x2 steps cancel: every slot as without them */
        for (j = 0; j < D; ++j)
            CHECK_NEAR(st[j], v5[j], 1e-6);
        /* known answers: tone 0's normalised amplitude is
         * 52 f / (f + 51 * 10), every other tone 520 / (f + 510) */
        {
            double n0 = 52.0 * first[t] / (first[t] + 510.0), n1 = 520.0 / (first[t] + 510.0);
            CHECK_NEAR(v4[6], n0, 1e-6);
            CHECK_NEAR(v4[7], n1, 1e-6);
        }
        /* the documented arithmetic on the v4 slots: level slots minus their
         * moving mean (weight max(1/64, 1/(c+1))), the others as v4 */
        a = 1.0 / ((double)t + 1.0);
        if (a < AETHER_FEATURES_V5_ALPHA)
            a = AETHER_FEATURES_V5_ALPHA;
        for (j = 0; j < D; ++j) {
            int level = j == 1 || j == 3 || j == 4 || (j >= 6 && j < 6 + G);
            if (!level) {
                CHECK(v5[j] == v4[j]);
                continue;
            }
            m[j] = t == 0 ? (double)v4[j] : m[j] + a * ((double)v4[j] - m[j]);
            CHECK_NEAR(v5[j], (double)v4[j] - m[j], 1e-6);
        }
        if (t == 0)
            for (j = 0; j < D; ++j)
                CHECK(v5[j] == 0.0f); /* a node's first frame: nothing moved */
    }
    /* closed form at frame 4: tone 0's slot against the plain mean of
     * frames 0..4 (the weight is 1/(c+1) this early), its delta the change
     * from frame 3 */
    {
        double n_a = 1.0, n_b = 1040.0 / 530.0, n_c = 52.0 * 30.0 / 540.0;
        double mean5 = (n_a + n_b + n_a + n_a + n_c) / 5.0;
        CHECK_NEAR(v5[6], n_c - mean5, 1e-6);
        CHECK_NEAR(v5[6 + G], n_c - n_a, 1e-6);
        CHECK_NEAR(v4[6], n_c, 1e-6);
    }
    CHECK(v5[D - 1] == 0.0f); /* the reserved slot */

    /* frame 1 alone: half the change */
    CHECK_STATUS(aether_features_reset(x5), AETHER_OK);
    v5_flat_frame(iq, 10, 10, 1);
    CHECK_STATUS(aether_features_compute(x5, &fr, v5, D), AETHER_OK);
    v5_flat_frame(iq, 20, 10, 2); /* and a x2 step up with it */
    CHECK_STATUS(aether_features_compute(x5, &fr, v5, D), AETHER_OK);
    CHECK_NEAR(v5[6], (1040.0 / 530.0 - 1.0) / 2.0, 1e-6);
    CHECK_NEAR(v5[7], (520.0 / 530.0 - 1.0) / 2.0, 1e-6);
    CHECK_NEAR(v5[6 + G], 1040.0 / 530.0 - 1.0, 1e-6);
    /* the step is removed from the energy slot; tone 0's own power change
     * (mean power 5500 / 52 against 5200 / 52) is not: half of ln of it */
    CHECK_NEAR(v5[0], log(5500.0 / 5200.0) / 2.0, 1e-6);

    /* a standing channel: every level slot 0 after the first frame, where v4
     * keeps the channel's shape */
    CHECK_STATUS(aether_features_reset(x4), AETHER_OK);
    CHECK_STATUS(aether_features_reset(x5), AETHER_OK);
    for (p = 0; p < 128; ++p)
        base[p] = (int8_t)(is_null_tone(p / 2) ? 0 : lcg_int(-50, 50));
    for (t = 0; t < 20; ++t) {
        fr.iq = base;
        CHECK_STATUS(aether_features_compute(x4, &fr, v4, D), AETHER_OK);
        CHECK_STATUS(aether_features_compute(x5, &fr, v5, D), AETHER_OK);
    }
    for (j = 0; j < D; ++j)
        CHECK_NEAR(v5[j], 0.0, 1e-6);
    CHECK(fabs((double)v4[1]) > 0.1 && fabs((double)v4[6] - 1.0) > 1e-3);
    fr.iq = iq;

    /* 16 groups over a moving channel with C3-like x2 steps (runs of
     * packets at the other level): the same features with and without */
    {
        aether_features *c5 = make_recipe(D2, AETHER_FEATURES_V5);
        aether_features *s5 = make_recipe(D2, AETHER_FEATURES_V5);
        aether_features *c4 = make_recipe(D2, AETHER_FEATURES_V4);
        double gap = 0.0, moved = 0.0;
        size_t n_steps = 0;
        for (t = 0; t < N; ++t) {
            int next = (lcg_int(0, 99) < 25) ? !gain2 : gain2;
            n_steps += next != gain2;
            gain2 = next;
            v4_frame(iq, base, t, 0);
            CHECK_STATUS(aether_features_compute(c5, &fr, a5, D2), AETHER_OK);
            CHECK_STATUS(aether_features_compute(c4, &fr, a4, D2), AETHER_OK);
            v4_frame(iq, base, t, gain2);
            CHECK_STATUS(aether_features_compute(s5, &fr, b5, D2), AETHER_OK);
            for (j = 0; j < D2; ++j) {
                if (fabs((double)a5[j] - (double)b5[j]) > gap)
                    gap = fabs((double)a5[j] - (double)b5[j]);
            }
            if (t > 100 && fabs((double)a5[6]) > moved)
                moved = fabs((double)a5[6]);
            /* the group deltas are v4's */
            CHECK(a4[6 + G2] == a5[6 + G2]);
        }
        CHECK(n_steps > N / 5);
        CHECK(gap <= 1e-5);
        CHECK(moved > 1e-3); /* the swelling tones do show */
        aether_features_destroy(c5);
        aether_features_destroy(s5);
        aether_features_destroy(c4);
    }
    aether_features_destroy(x4);
    aether_features_destroy(x5);
    aether_features_destroy(y5);
}

static void test_errors_and_memory(void)
{
    int8_t iq[128];
    float amp[8] = {1, 2, 3, 4, 5, 6, 7, 8}, v[16], w[16];
    aether_csi_frame f = raw_frame(iq, 64, 1), bad;
    aether_features_config c = aether_features_config_default();
    aether_features *fx = NULL, *fy = NULL;
    unsigned char *buf;
    size_t bytes = 0, off;
    fill_constant(iq, 64, 3, 4);
    CHECK_STATUS(aether_features_size(&c, &bytes), AETHER_OK);
    CHECK(bytes > 0);
    CHECK_STATUS(aether_features_size(NULL, &bytes), AETHER_ERR_NULL_ARG);
    buf = (unsigned char *)malloc(bytes + 64);
    /* any alignment of the caller's buffer */
    for (off = 0; off < 64; off += 13) {
        CHECK_STATUS(aether_features_init(buf + off, bytes, &c, &fx), AETHER_OK);
        CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    }
    CHECK_STATUS(aether_features_init(buf, bytes / 2, &c, &fy), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(fy == NULL);
    CHECK_STATUS(aether_features_init(NULL, bytes, &c, &fy), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_features_reset(fx), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);

    CHECK_STATUS(aether_features_compute(NULL, &f, v, 16), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_features_compute(fx, NULL, v, 16), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_features_compute(fx, &f, NULL, 16), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 15), AETHER_ERR_SHAPE_MISMATCH);
    bad = f;
    bad.n_pairs = 0;
    CHECK_STATUS(aether_features_compute(fx, &bad, v, 16), AETHER_ERR_INVALID_ARG);
    bad.n_pairs = AETHER_CSI_MAX_PAIRS + 1;
    CHECK_STATUS(aether_features_compute(fx, &bad, v, 16), AETHER_ERR_INVALID_ARG);
    bad = f;
    bad.iq = NULL;
    CHECK_STATUS(aether_features_compute(fx, &bad, v, 16), AETHER_ERR_INVALID_ARG);
    bad.kind = (aether_csi_kind)7;
    CHECK_STATUS(aether_features_compute(fx, &bad, v, 16), AETHER_ERR_INVALID_ARG);
    memset(&bad, 0, sizeof bad);
    bad.kind = AETHER_CSI_AMPLITUDE;
    bad.n_pairs = 8;
    bad.amp = amp;
    bad.node_id = 1;
    amp[3] = (float)NAN;
    CHECK_STATUS(aether_features_compute(fx, &bad, v, 16), AETHER_ERR_NONFINITE);
    amp[3] = -1.0f;
    CHECK_STATUS(aether_features_compute(fx, &bad, v, 16), AETHER_ERR_NONFINITE);
    /* The failed amplitude frames were not remembered for node 1: its
     * previous frame is still the raw one, so a changed raw frame moves. */
    {
        int8_t iq2[128];
        aether_csi_frame g = raw_frame(iq2, 64, 1);
        size_t i;
        for (i = 0; i < 128; ++i)
            iq2[i] = (int8_t)lcg_int(-40, 40);
        CHECK_STATUS(aether_features_compute(fx, &g, v, 16), AETHER_OK);
        CHECK(v[AETHER_FEAT_MOTION] > 0.05f);
    }
    /* Determinism: a fresh extractor gives bit-identical output. */
    CHECK_STATUS(aether_features_reset(fx), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    CHECK_STATUS(aether_features_create(&c, &fy), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fy, &f, w, 16), AETHER_OK);
    CHECK(memcmp(v, w, sizeof v) == 0);
    aether_features_destroy(fy);
    aether_features_destroy(fx); /* no-op for caller memory */
    free(buf);
}

/* ---------------- normalisation ---------------- */

static void test_norm_welford(void)
{
    aether_norm_config c = aether_norm_config_default(3);
    aether_feature_norm *n = NULL, *m = NULL;
    float x[3], y[3], y2[3];
    double mean, var;
    unsigned char state[36 + 48], bad[36 + 48];
    size_t len = 0, i;
    static const float xs[4][3] = {{1, 10, -5}, {2, 10, -5}, {3, 10, 5}, {4, 10, 5}};
    CHECK_STATUS(aether_norm_create(&c, &n), AETHER_OK);
    /* identity before any sample */
    x[0] = 2.5f, x[1] = -1.0f, x[2] = 0.0f;
    CHECK_STATUS(aether_norm_apply(n, x, y, 3), AETHER_OK);
    CHECK(memcmp(x, y, sizeof x) == 0);
    for (i = 0; i < 4; ++i)
        CHECK_STATUS(aether_norm_update(n, xs[i], 3), AETHER_OK);
    CHECK_EQ_INT(aether_norm_count(n), 4);
    CHECK_STATUS(aether_norm_stats(n, 0, &mean, &var), AETHER_OK);
    CHECK_NEAR(mean, 2.5, 1e-12);
    CHECK_NEAR(var, 1.25, 1e-12);
    CHECK_STATUS(aether_norm_stats(n, 2, &mean, &var), AETHER_OK);
    CHECK_NEAR(mean, 0.0, 1e-12);
    CHECK_NEAR(var, 25.0, 1e-12);
    CHECK_STATUS(aether_norm_stats(n, 3, &mean, &var), AETHER_ERR_INVALID_ARG);
    x[0] = 4.0f, x[1] = 10.0f, x[2] = -5.0f;
    CHECK_STATUS(aether_norm_apply(n, x, y, 3), AETHER_OK);
    CHECK_NEAR(y[0], 1.5 / sqrt(1.25 + 1e-6), 1e-6);
    CHECK_NEAR(y[1], 0.0, 1e-6); /* constant feature: no blow-up */
    CHECK_NEAR(y[2], -1.0, 1e-6);
    x[1] = (float)INFINITY;
    CHECK_STATUS(aether_norm_update(n, x, 3), AETHER_ERR_NONFINITE);
    CHECK_EQ_INT(aether_norm_count(n), 4);
    CHECK_STATUS(aether_norm_update(n, x, 2), AETHER_ERR_SHAPE_MISMATCH);

    /* save -> load round trip, then both evolve identically */
    CHECK_EQ_INT(aether_norm_state_bytes(3), 36 + 48);
    CHECK_STATUS(aether_norm_save(n, state, 10, &len), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(len, sizeof state);
    CHECK_STATUS(aether_norm_save(n, state, sizeof state, &len), AETHER_OK);
    CHECK_EQ_INT(aether_load_le32(state), AETHER_NORM_STATE_MAGIC);
    CHECK_EQ_INT(aether_load_le32(state + 8), 3);
    CHECK_EQ_INT(aether_load_le64(state + 24), 4);
    CHECK_STATUS(aether_norm_create(&c, &m), AETHER_OK);
    CHECK_STATUS(aether_norm_load(m, state, len), AETHER_OK);
    x[0] = 7.0f, x[1] = 11.0f, x[2] = 0.5f;
    CHECK_STATUS(aether_norm_update(n, x, 3), AETHER_OK);
    CHECK_STATUS(aether_norm_update(m, x, 3), AETHER_OK);
    CHECK_STATUS(aether_norm_apply(n, x, y, 3), AETHER_OK);
    CHECK_STATUS(aether_norm_apply(m, x, y2, 3), AETHER_OK);
    CHECK(memcmp(y, y2, sizeof y) == 0);

    /* damaged states are refused and leave m unchanged */
    memcpy(bad, state, len);
    bad[40] ^= 1;
    CHECK_STATUS(aether_norm_load(m, bad, len), AETHER_ERR_PARSE);
    memcpy(bad, state, len);
    bad[0] ^= 1;
    CHECK_STATUS(aether_norm_load(m, bad, len), AETHER_ERR_FORMAT);
    CHECK_STATUS(aether_norm_load(m, state, len - 1), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_norm_load(m, state, 8), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_norm_load(NULL, state, len), AETHER_ERR_NULL_ARG);
    CHECK_EQ_INT(aether_norm_count(m), 5);
    aether_norm_destroy(m);
    c.dim = 4;
    CHECK_STATUS(aether_norm_create(&c, &m), AETHER_OK);
    CHECK_STATUS(aether_norm_load(m, state, len), AETHER_ERR_SHAPE_MISMATCH);
    aether_norm_destroy(m);
    CHECK_STATUS(aether_norm_reset(n), AETHER_OK);
    CHECK_EQ_INT(aether_norm_count(n), 0);
    aether_norm_destroy(n);
}

static void test_norm_ema(void)
{
    aether_norm_config c = aether_norm_config_default(1);
    aether_feature_norm *n = NULL;
    unsigned char buf[1024];
    float x;
    double mean, var;
    size_t bytes = 0;
    c.mode = AETHER_NORM_EMA;
    c.alpha = 0.25f;
    c.alpha = 0.0f;
    CHECK_STATUS(aether_norm_size(&c, &bytes), AETHER_ERR_INVALID_ARG);
    c.alpha = 0.25f;
    c.eps = 0.0f;
    CHECK_STATUS(aether_norm_size(&c, &bytes), AETHER_ERR_INVALID_ARG);
    c.eps = 1e-6f;
    CHECK_STATUS(aether_norm_size(&c, &bytes), AETHER_OK);
    CHECK(bytes <= sizeof buf);
    CHECK_STATUS(aether_norm_init(buf, bytes, &c, &n), AETHER_OK);
    x = 2.0f;
    CHECK_STATUS(aether_norm_update(n, &x, 1), AETHER_OK);
    x = 6.0f;
    CHECK_STATUS(aether_norm_update(n, &x, 1), AETHER_OK);
    CHECK_STATUS(aether_norm_stats(n, 0, &mean, &var), AETHER_OK);
    CHECK_NEAR(mean, 3.0, 1e-12);                 /* 2 + 0.25 * 4 */
    CHECK_NEAR(var, 0.75 * (0.25 * 16.0), 1e-12); /* 3 */
}

/* Many node ids through the hash index (more than the old bound of 256,
 * ids chosen to share low bits and buckets): each node's features equal
 * those of an extractor that saw only that node, interleaving or not;
 * forget restarts one node without touching the others; a full table
 * refuses a new id until one is forgotten. */
static void test_many_nodes(void)
{
    enum { N = 600, ROUNDS = 3 };
    static int8_t iq[N][128];
    float v[16], w[16];
    aether_features_config c = aether_features_config_default();
    aether_features *fx = NULL, *solo = NULL;
    aether_csi_frame f;
    size_t bytes = 0, i, r, mismatches = 0;
    uint32_t ids[N];
    for (i = 0; i < N; ++i) /* multiples of 4096 and their neighbours collide in low bits */
        ids[i] = (i % 3 == 0)   ? (uint32_t)(i << 12)
                 : (i % 3 == 1) ? (uint32_t)i
                                : 0xFFFFFFFFu - (uint32_t)i;
    c.max_nodes = AETHER_FEATURES_MAX_NODES;
    CHECK_STATUS(aether_features_size(&c, &bytes), AETHER_OK);
    c.max_nodes = AETHER_FEATURES_MAX_NODES + 1;
    CHECK_STATUS(aether_features_size(&c, &bytes), AETHER_ERR_INVALID_ARG);
    c.max_nodes = N;
    CHECK_STATUS(aether_features_create(&c, &fx), AETHER_OK);
    c.max_nodes = 1;
    CHECK_STATUS(aether_features_create(&c, &solo), AETHER_OK);
    if (!fx || !solo)
        return;
    /* interleaved: every node once per round, frames differing per node and round */
    for (r = 0; r < ROUNDS; ++r)
        for (i = 0; i < N; ++i) {
            size_t k;
            for (k = 0; k < 128; ++k)
                iq[i][k] = (int8_t)lcg_int(-60, 60);
            f = raw_frame(iq[i], 64, ids[i]);
            CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
            /* the solo extractor replays this node's frames: it keeps only
             * the previous one, so feed it the node's last frame of the
             * previous round (kept in iq2) and then this one */
            if (i == 7 || i == 300 || i == N - 1) {
                static int8_t prev_iq[3][128];
                size_t j = i == 7 ? 0 : i == 300 ? 1 : 2;
                aether_csi_frame g = raw_frame(prev_iq[j], 64, 5);
                CHECK_STATUS(aether_features_reset(solo), AETHER_OK);
                if (r > 0)
                    CHECK_STATUS(aether_features_compute(solo, &g, w, 16), AETHER_OK);
                g = raw_frame(iq[i], 64, 5);
                CHECK_STATUS(aether_features_compute(solo, &g, w, 16), AETHER_OK);
                mismatches += memcmp(v, w, sizeof v) != 0;
                memcpy(prev_iq[j], iq[i], 128);
            }
        }
    CHECK_EQ_INT(mismatches, 0);
    /* full: a new id is refused, every known one still accepted */
    f = raw_frame(iq[0], 64, 0xABCDEu);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_ERR_TRACKS_FULL);
    /* forget every other node (backward shifts in the index), then the
     * rest still have their previous frame: motion against it is not 0 */
    for (i = 0; i < N; i += 2)
        CHECK_STATUS(aether_features_forget(fx, ids[i]), AETHER_OK);
    CHECK_STATUS(aether_features_forget(fx, ids[0]), AETHER_ERR_TRACK_NOT_FOUND);
    for (i = 1; i < N; i += 2) {
        int8_t same[128];
        memcpy(same, iq[i], 128);
        f = raw_frame(same, 64, ids[i]);
        CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
        /* the same frame as the node's previous one: no motion, a known node */
        if (v[AETHER_FEAT_MOTION] != 0.0f)
            mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    /* a forgotten node starts over: its first frame has no motion feature,
     * even against a different previous frame */
    for (i = 0; i < N; i += 2) {
        f = raw_frame(iq[(i + 1) % N], 64, ids[i]);
        CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
        if (v[AETHER_FEAT_MOTION] != 0.0f)
            mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    f = raw_frame(iq[0], 64, 0xABCDEu);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_ERR_TRACKS_FULL);
    CHECK_STATUS(aether_features_forget(fx, ids[5]), AETHER_OK);
    CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    CHECK_STATUS(aether_features_reset(fx), AETHER_OK);
    for (i = 0; i < N; ++i) {
        f = raw_frame(iq[i], 64, 1000000u + (uint32_t)i);
        CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
    }
    aether_features_destroy(fx);
    aether_features_destroy(solo);
}

TEST_MAIN(test_recipe_v2, test_recipe_v3, test_recipe_v4, test_recipe_v5, test_adr018_valid,
          test_adr018_malformed, test_constant_amplitude, test_known_groups, test_phase_ramp,
          test_gain_doubled, test_nodes_and_state, test_dims, test_errors_and_memory,
          test_norm_welford, test_norm_ema, test_many_nodes)
