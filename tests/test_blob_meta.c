/* Blob flag bit 2: the model metadata record (aether/blob.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/model.h"
#include "check.h"
#include "test_ws.h"

static const char k_text[] = "labels=wave,circle_cw,no_gesture\npool=mean\nwindow_frames=64\n"
                             "note=a=b \xC3\xA9t\xC3\xA9\n";

static void fix_crc(unsigned char *b, size_t len)
{
    aether_store_le32(b + len - 4, aether_crc32(b, len - 4));
}

/* Demo blob (small shape) in a malloc'd buffer. */
static unsigned char *demo(int f16, int norm, size_t *len)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    unsigned char *b;
    p.f16 = f16;
    p.input_norm = norm;
    p.input_dim = 6; /* f16 arrays of an odd element count: A % 4 == 2 */
    p.n_q_heads = 2;
    p.n_kv_heads = 1;
    p.head_dim = 3;
    p.n_layers = 1;
    p.n_classes = 3;
    CHECK_STATUS(aether_blob_demo_size(&p, len), AETHER_OK);
    b = (unsigned char *)malloc(*len);
    CHECK(b != NULL);
    CHECK_STATUS(aether_blob_demo_write(&p, b, *len, NULL), AETHER_OK);
    return b;
}

/* b with k_text appended as metadata; *out_len its size. */
static unsigned char *with_meta(const unsigned char *b, size_t len, const char *text,
                                size_t text_len, size_t *out_len)
{
    aether_blob_view v;
    unsigned char *o;
    CHECK_STATUS(aether_blob_parse(b, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_with_metadata_size(&v, text_len, out_len), AETHER_OK);
    o = (unsigned char *)malloc(*out_len);
    CHECK(o != NULL);
    CHECK_STATUS(aether_blob_with_metadata(&v, text, text_len, o, *out_len, NULL), AETHER_OK);
    return o;
}

static void test_roundtrip(void)
{
    int f16;
    for (f16 = 0; f16 < 2; ++f16) {
        size_t len, mlen, L = sizeof k_text - 1, rec, i;
        unsigned char *b = demo(f16, 1, &len), *m, *m2;
        aether_blob_view v, vm;
        aether_blob_layout l0, l;
        aether_blob_metadata md;
        const char *val, *key;
        size_t vl, kl;
        char buf[64];
        int found = -1;
        m = with_meta(b, len, k_text, L, &mlen);
        CHECK_STATUS(aether_blob_metadata_record_size(L, &rec), AETHER_OK);
        CHECK_EQ_INT(rec, L + (4 - L % 4) % 4 + 8);
        CHECK_EQ_INT(mlen, len + rec);
        CHECK_STATUS(aether_blob_parse(b, len, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_parse(m, mlen, &vm), AETHER_OK);
        CHECK_EQ_INT(vm.header.flags, v.header.flags | AETHER_BLOB_FLAG_METADATA);
        /* arrays unchanged, record at the end, tag and length last */
        CHECK(memcmp(vm.weights, v.weights, v.header.weights_len) == 0);
        CHECK(memcmp(vm.weights + v.header.weights_len, k_text, L) == 0);
        CHECK_EQ_INT(aether_load_le32(vm.weights + vm.header.weights_len - 4), 0x4154454Du);
        CHECK(memcmp(vm.weights + vm.header.weights_len - 4, "META", 4) == 0);
        CHECK_EQ_INT(aether_load_le32(vm.weights + vm.header.weights_len - 8), L);
        CHECK_STATUS(aether_blob_validate_model(&v, &l0), AETHER_OK);
        CHECK_STATUS(aether_blob_validate_model(&vm, &l), AETHER_OK);
        CHECK_EQ_INT(l.meta_bytes, rec);
        CHECK_EQ_INT(l.total_elems, l0.total_elems);
        CHECK_EQ_INT(l.total_bytes, vm.header.weights_len);
        CHECK_EQ_INT(l0.meta_bytes, 0);

        CHECK_STATUS(aether_blob_metadata_get(&v, &md), AETHER_OK);
        CHECK_EQ_INT(md.present, 0);
        CHECK_EQ_INT(md.n_entries, 0);
        CHECK_STATUS(aether_blob_metadata_get(&vm, &md), AETHER_OK);
        CHECK_EQ_INT(md.present, 1);
        CHECK_EQ_INT(md.n_entries, 4);
        CHECK_EQ_INT(md.text_len, L);
        CHECK_STATUS(aether_blob_metadata_find(&md, "pool", &val, &vl), AETHER_OK);
        CHECK(val && vl == 4 && !memcmp(val, "mean", 4));
        CHECK_STATUS(aether_blob_metadata_find(&md, "poo", &val, &vl), AETHER_OK);
        CHECK(val == NULL && vl == 0);
        CHECK_STATUS(aether_blob_metadata_copy(&md, "note", buf, sizeof buf, &found), AETHER_OK);
        CHECK(found == 1 && !strcmp(buf, "a=b \xC3\xA9t\xC3\xA9"));
        CHECK_STATUS(aether_blob_metadata_copy(&md, "missing", buf, sizeof buf, &found),
                     AETHER_OK);
        CHECK(found == 0 && buf[0] == '\0');
        CHECK_STATUS(aether_blob_metadata_copy(&md, "labels", buf, 8, &found),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(aether_blob_metadata_entry(&md, 2, &key, &kl, &val, &vl), AETHER_OK);
        CHECK(kl == 13 && !memcmp(key, "window_frames", 13) && vl == 2 && !memcmp(val, "64", 2));
        CHECK_STATUS(aether_blob_metadata_entry(&md, 4, &key, &kl, &val, &vl),
                     AETHER_ERR_INVALID_ARG);

        /* replacing the record; an empty text is a valid record of 8 bytes */
        {
            size_t m2len;
            m2 = with_meta(m, mlen, "", 0, &m2len);
            CHECK_EQ_INT(m2len, len + 8);
            CHECK_STATUS(aether_blob_parse(m2, m2len, &vm), AETHER_OK);
            CHECK_STATUS(aether_blob_metadata_get(&vm, &md), AETHER_OK);
            CHECK(md.present == 1 && md.n_entries == 0 && md.text == NULL);
            free(m2);
        }
        /* the model loads it and computes as without the record */
        {
            aether_model *a = NULL, *c = NULL;
            float x[5 * 6], la[3], lc[3];
            for (i = 0; i < 30; ++i)
                x[i] = (float)((int)(i * 7 % 11) - 5) * 0.1f;
            CHECK_STATUS(aether_blob_parse(m, mlen, &vm), AETHER_OK);
            CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &a), AETHER_OK);
            CHECK_STATUS(aether_model_create(&vm, NULL, AETHER_MODEL_COPY, &c), AETHER_OK);
            CHECK_STATUS(ws_model_forward(a, x, 5, AETHER_POOL_MEAN, la, NULL), AETHER_OK);
            CHECK_STATUS(ws_model_forward(c, x, 5, AETHER_POOL_MEAN, lc, NULL), AETHER_OK);
            CHECK(memcmp(la, lc, sizeof la) == 0);
            aether_model_destroy(a);
            aether_model_destroy(c);
        }
        free(m);
        free(b);
    }
}

static void test_text_rules(void)
{
    static const struct {
        const char *text;
        size_t n; /* entries, or (size_t)-1 for invalid */
    } cases[] = {
        {"", 0},
        {"a=\n", 1},
        {"A.b-c_9=x=y\n", 1},
        {"a=1\n\n", (size_t)-1}, /* an empty line is not key=value */
        {"k=v", (size_t)-1},     /* no final newline */
        {"=v\n", (size_t)-1},    /* empty key */
        {"k v=1\n", (size_t)-1},
        {"kv\n", (size_t)-1}, /* no '=' */
        {"k=1\nk=2\n", (size_t)-1},
        {"k=1\nkk=2\nk=3\n", (size_t)-1},
        {"k=\t\n", (size_t)-1},
        {"k=\x7F\n", (size_t)-1},
        {"k=\xC0\x80\n", (size_t)-1},         /* overlong NUL */
        {"k=\xED\xA0\x80\n", (size_t)-1},     /* surrogate */
        {"k=\xF4\x90\x80\x80\n", (size_t)-1}, /* above U+10FFFF */
        {"k=\xE2\x89\n", (size_t)-1},         /* truncated */
        {"k=\xE2\x89\xA5\n", 1},
        {"abcdefghijklmnopqrstuvwxyz012345=1\n", 1}, /* 32-byte key */
        {"abcdefghijklmnopqrstuvwxyz0123456=1\n", (size_t)-1},
    };
    size_t i, n;
    char big[AETHER_BLOB_META_MAX_TEXT + 8];
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        aether_status st = aether_blob_metadata_check_text(cases[i].text, strlen(cases[i].text),
                                                           &n);
        if (cases[i].n == (size_t)-1) {
            CHECK_STATUS(st, AETHER_ERR_BLOB_EXTENSION);
        } else {
            CHECK_STATUS(st, AETHER_OK);
            CHECK_EQ_INT(n, cases[i].n);
        }
    }
    CHECK_STATUS(aether_blob_metadata_check_text("k=\0\n", 4, NULL), AETHER_ERR_BLOB_EXTENSION);
    CHECK_STATUS(aether_blob_metadata_check_text(NULL, 1, NULL), AETHER_ERR_NULL_ARG);
    memset(big, 'x', sizeof big);
    big[0] = 'k';
    big[1] = '=';
    big[AETHER_BLOB_META_MAX_TEXT - 1] = '\n';
    CHECK_STATUS(aether_blob_metadata_check_text(big, AETHER_BLOB_META_MAX_TEXT, &n), AETHER_OK);
    big[AETHER_BLOB_META_MAX_TEXT] = '\n';
    CHECK_STATUS(aether_blob_metadata_check_text(big, AETHER_BLOB_META_MAX_TEXT + 1, NULL),
                 AETHER_ERR_BLOB_EXTENSION);
    CHECK_STATUS(aether_blob_metadata_record_size(AETHER_BLOB_META_MAX_TEXT + 1, &n),
                 AETHER_ERR_INVALID_ARG);
}

static void test_malformed_records(void)
{
    size_t len, mlen, L = sizeof k_text - 1;
    unsigned char *b = demo(0, 1, &len), *m = with_meta(b, len, k_text, L, &mlen), *t;
    size_t end = mlen - 4; /* payload end */
    aether_blob_view v;
    aether_model *model = NULL;
    t = (unsigned char *)malloc(mlen);
    CHECK(t != NULL);
    /* the writer rejects an invalid text */
    CHECK_STATUS(aether_blob_parse(b, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_with_metadata(&v, "k=1\nk=2\n", 8, t, mlen, NULL),
                 AETHER_ERR_BLOB_EXTENSION);
    CHECK_STATUS(aether_blob_with_metadata(&v, k_text, L, t, mlen - 1, NULL),
                 AETHER_ERR_BUFFER_TOO_SMALL);
#define TAMPER(stmt, expected)                                        \
    do {                                                              \
        memcpy(t, m, mlen);                                           \
        stmt;                                                         \
        fix_crc(t, mlen);                                             \
        CHECK_STATUS(aether_blob_parse(t, mlen, &v), AETHER_OK);      \
        CHECK_STATUS(aether_blob_validate_model(&v, NULL), expected); \
    } while (0)
    TAMPER((void)0, AETHER_OK);
    TAMPER(t[end - 1] = 'B', AETHER_ERR_BLOB_EXTENSION);                     /* tag */
    TAMPER(aether_store_le32(t + end - 8, 4097), AETHER_ERR_BLOB_EXTENSION); /* too long */
    TAMPER(aether_store_le32(t + end - 8, (uint32_t)L - 4), AETHER_ERR_BLOB_LAYOUT);
    TAMPER(aether_store_le32(t + end - 8, (uint32_t)L + 4), AETHER_ERR_BLOB_LAYOUT);
    CHECK(L % 4 != 0); /* k_text needs padding: a non-zero pad byte is rejected */
    TAMPER(t[end - 9] = 1, AETHER_ERR_BLOB_EXTENSION);
    TAMPER(t[end - 8 - (4 - L % 4) % 4 - 1] = '\t', AETHER_ERR_BLOB_EXTENSION);
    TAMPER(t[24 + 4] = 0xFF; t[24 + 5] = 0xFF; t[24 + 6] = 0xFF;
           t[24 + 7] = 0xFF, AETHER_ERR_BLOB_NONFINITE);
    /* without the flag the record is just extra payload */
    TAMPER(t[6] = (unsigned char)(t[6] & ~AETHER_BLOB_FLAG_METADATA), AETHER_ERR_BLOB_LAYOUT);
#undef TAMPER
    memcpy(t, m, mlen);
    t[end - 1] = 'B';
    fix_crc(t, mlen);
    CHECK_STATUS(aether_blob_parse(t, mlen, &v), AETHER_OK);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &model),
                 AETHER_ERR_BLOB_EXTENSION);
    CHECK(model == NULL);
    {
        aether_blob_metadata md;
        memset(&md, 0x5A, sizeof md);
        CHECK_STATUS(aether_blob_metadata_get(&v, &md), AETHER_ERR_BLOB_EXTENSION);
        CHECK_EQ_INT(md.text_len, 0x5A5A5A5A5A5A5A5Aull & (size_t)-1); /* unchanged */
    }
    free(t);
    free(m);
    free(b);
}

/* The typed reader: each known key with an unusable value is
 * BLOB_METADATA; good values come back typed; unknown keys are ignored. */
static void test_typed_keys(void)
{
    static const char *const bad[] = {
        "labels=a,,c\n", /* an empty name */
        "labels=\n",     /* no name at all */
        "pool=max\n",
        "window_frames=0\n",
        "window_stride=0\n",
        "window_frames=-3\n",
        "attn_window=12x\n",
        "attn_block=4294967296\n", /* 2^32 */
        "input_dim=7\n",           /* the header's is 6 */
        "backend=a_backend_name_longer_than_thirty_one\n",
    };
    size_t len = 0, i, n = 0;
    unsigned char *b = demo(0, 0, &len);
    aether_blob_model_meta m;
    aether_blob_view v;
    for (i = 0; i < sizeof bad / sizeof bad[0] && b; ++i) {
        unsigned char *o = with_meta(b, len, bad[i], strlen(bad[i]), &n);
        CHECK_STATUS(aether_blob_parse(o, n, &v), AETHER_OK);
        CHECK_MSG(aether_blob_model_meta_read(&v, &m) == AETHER_ERR_BLOB_METADATA, "'%s'",
                  bad[i]);
        CHECK(m.n_labels == 0 && m.pool == AETHER_META_POOL_UNSET); /* zeroed on error */
        free(o);
    }
    {
        /* the calibration keys and the label count have statuses of their own */
        static const struct {
            const char *text;
            aether_status want;
        } own[] = {
            {"labels=a,b\n", AETHER_ERR_BLOB_LABELS}, /* two names for three classes */
            {"labels=a,b,c,d\n", AETHER_ERR_BLOB_LABELS},
            {"temperature=0\n", AETHER_ERR_BLOB_TEMPERATURE},
            {"temperature=-1\n", AETHER_ERR_BLOB_TEMPERATURE},
            {"temperature=nan\n", AETHER_ERR_BLOB_TEMPERATURE},
            {"temperature=inf\n", AETHER_ERR_BLOB_TEMPERATURE},
            {"temperature=1e9\n", AETHER_ERR_BLOB_TEMPERATURE},
            {"temperature=\n", AETHER_ERR_BLOB_TEMPERATURE},
            {"temperature=2,5\n", AETHER_ERR_BLOB_TEMPERATURE},
            {"unknown_below=1.5\n", AETHER_ERR_BLOB_THRESHOLD},
            {"unknown_below=-0.1\n", AETHER_ERR_BLOB_THRESHOLD},
            {"unknown_below=NaN\n", AETHER_ERR_BLOB_THRESHOLD},
            {"unknown_below=.\n", AETHER_ERR_BLOB_THRESHOLD},
            {"unknown_below=0.5e\n", AETHER_ERR_BLOB_THRESHOLD},
            {"ood_above=-1\n", AETHER_ERR_BLOB_THRESHOLD},
            {"ood_above=2e7\n", AETHER_ERR_BLOB_THRESHOLD},
            {"ood_above=x\n", AETHER_ERR_BLOB_THRESHOLD},
        };
        for (i = 0; i < sizeof own / sizeof own[0] && b; ++i) {
            unsigned char *o = with_meta(b, len, own[i].text, strlen(own[i].text), &n);
            CHECK_STATUS(aether_blob_parse(o, n, &v), AETHER_OK);
            CHECK_MSG(aether_blob_model_meta_read(&v, &m) == own[i].want, "'%s'", own[i].text);
            CHECK(!m.have_temperature && !m.have_unknown_below && !m.have_ood_above &&
                  m.n_labels == 0);
            free(o);
        }
    }
    if (b) {
        static const char calib[] = "temperature=12.5\nunknown_below=0.85\n";
        static const char calib2[] = "temperature=2.5e-1\nunknown_below=1\nood_above=2.08\n";
        unsigned char *o = with_meta(b, len, calib, strlen(calib), &n);
        CHECK_STATUS(aether_blob_parse(o, n, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_model_meta_read(&v, &m), AETHER_OK);
        CHECK(m.have_temperature && m.temperature == 12.5f);
        CHECK(m.have_unknown_below && m.unknown_below == 0.85f);
        free(o);
        o = with_meta(b, len, calib2, strlen(calib2), &n);
        CHECK_STATUS(aether_blob_parse(o, n, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_model_meta_read(&v, &m), AETHER_OK);
        CHECK(m.temperature == 0.25f && m.unknown_below == 1.0f);
        CHECK(m.have_ood_above && m.ood_above == 2.08f);
        free(o);
    }
    if (b) {
        static const char good[] = "labels=x,y,z\npool=last\nwindow_frames=4294967295\n"
                                   "window_stride=3\nattn_window=0\nattn_block=16\n"
                                   "backend=dense\nfeatures=csi-v2\ninput_dim=6\nother=1\n";
        unsigned char *o = with_meta(b, len, good, strlen(good), &n);
        CHECK_STATUS(aether_blob_parse(o, n, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_model_meta_read(&v, &m), AETHER_OK);
        CHECK(m.present && m.n_labels == 3 && m.pool == AETHER_META_POOL_LAST);
        CHECK(!strcmp(aether_blob_model_meta_label(&m, 1), "y"));
        CHECK(m.have_window_frames && m.window_frames == 4294967295u);
        CHECK(m.have_window_stride && m.window_stride == 3);
        CHECK(m.have_attn_window && m.attn_window == 0);
        CHECK(m.have_attn_block && m.attn_block == 16);
        CHECK(m.have_input_dim && m.input_dim == 6);
        CHECK(!strcmp(m.backend, "dense") && !strcmp(m.features, "csi-v2"));
        free(o);
        /* no metadata at all */
        CHECK_STATUS(aether_blob_parse(b, len, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_model_meta_read(&v, &m), AETHER_OK);
        CHECK(!m.present && m.n_labels == 0 && !m.have_window_frames && !m.backend[0]);
        CHECK_STATUS(aether_blob_model_meta_read(NULL, &m), AETHER_ERR_NULL_ARG);
    }
    free(b);
}

TEST_MAIN(test_roundtrip, test_text_rules, test_malformed_records, test_typed_keys)
