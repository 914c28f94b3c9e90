/* Recording readers on the real data set (exact counts), on deliberately
 * damaged copies, and on mutated archives: counted, located, never fatal. */
#define _POSIX_C_SOURCE 200809L
#include "aether/csi.h"
#include "aether/features.h"
#include "aether/recording.h"
#include "check.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DATA AETHER_DATA_DIR "/"
#define RAW2 DATA "esp32-raw-2node.csi.jsonl"

static int write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return 0;
    ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Every JSONL line is exactly one frame, skip or malformed record. */
static void check_line_balance(const aether_recording_stats *st)
{
    uint64_t sum = st->frames[0] + st->frames[1] + st->malformed;
    size_t i;
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        sum += st->skipped[i];
    CHECK_EQ_INT(sum, st->records);
}

static uint64_t pair_count(const aether_recording_stats *st, uint32_t pairs)
{
    size_t i;
    for (i = 0; i < AETHER_CSI_PAIR_BINS; ++i)
        if (st->pairs[i].count && st->pairs[i].n_pairs == pairs)
            return st->pairs[i].count;
    return 0;
}

static void test_raw_two_node(void)
{
    REQUIRE_DATA();
    aether_recording *r = NULL;
    aether_csi_frame f;
    const aether_recording_stats *st;
    aether_features *fx = NULL;
    aether_features_config fc = aether_features_config_default();
    uint64_t by[3][3] = {{0}}, n = 0, bad_feat = 0;
    double prev_t = 0.0;
    int monotone = 1;
    aether_status s;
    float v[16];
    CHECK_STATUS(aether_recording_open(RAW2, NULL, &r), AETHER_OK);
    if (!r)
        return;
    CHECK_EQ_INT(aether_recording_get_format(r), AETHER_REC_JSONL);
    CHECK(aether_recording_npz_info(r) == NULL);
    CHECK_STATUS(aether_features_create(&fc, &fx), AETHER_OK);
    while ((s = aether_recording_next(r, &f)) == AETHER_OK) {
        size_t i;
        if (n == 0) {
            /* line 1: iq_hex 00 00 0f 03 ... byte 25 = ff; (imag, real) order */
            CHECK_EQ_INT(f.record, 1);
            CHECK_EQ_INT(f.node_id, 2);
            CHECK_EQ_INT(f.n_pairs, 64);
            CHECK_EQ_INT(f.iq[2], 15);
            CHECK_EQ_INT(f.iq[3], 3);
            CHECK_EQ_INT(f.iq[25], -1);
            CHECK_NEAR(f.timestamp, 1775182186.9577758, 1e-6);
            CHECK_EQ_INT(f.flags, AETHER_CSI_HAS_TIME | AETHER_CSI_HAS_NODE);
        }
        CHECK(f.kind == AETHER_CSI_RAW_IQ);
        if (f.timestamp < prev_t)
            monotone = 0;
        prev_t = f.timestamp;
        if ((f.node_id == 1 || f.node_id == 2) && f.n_pairs % 64 == 0 && f.n_pairs <= 192)
            by[f.node_id][f.n_pairs / 64 - 1]++;
        CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
        for (i = 0; i < 16; ++i)
            if (!aether_isfinite(v[i]))
                bad_feat++;
        n++;
    }
    CHECK_STATUS(s, AETHER_ERR_END);
    CHECK_STATUS(aether_recording_next(r, &f), AETHER_ERR_END);
    CHECK(monotone);
    CHECK_EQ_INT(bad_feat, 0);
    st = aether_recording_get_stats(r);
    CHECK_EQ_INT(n, 5309);
    CHECK_EQ_INT(st->records, 5783);
    CHECK_EQ_INT(st->frames[AETHER_CSI_RAW_IQ], 5309);
    CHECK_EQ_INT(st->frames[AETHER_CSI_AMPLITUDE], 0);
    CHECK_EQ_INT(by[1][0], 2133);
    CHECK_EQ_INT(by[1][1], 503);
    CHECK_EQ_INT(by[1][2], 23);
    CHECK_EQ_INT(by[2][0], 1994);
    CHECK_EQ_INT(by[2][1], 631);
    CHECK_EQ_INT(by[2][2], 25);
    CHECK_EQ_INT(pair_count(st, 64), 4127);
    CHECK_EQ_INT(pair_count(st, 128), 1134);
    CHECK_EQ_INT(pair_count(st, 192), 48);
    CHECK_EQ_INT(st->pairs_other, 0);
    CHECK_EQ_INT(st->frames_by_node[1], 2659);
    CHECK_EQ_INT(st->frames_by_node[2], 2650);
    CHECK_EQ_INT(st->frames_by_node[0], 0);
    CHECK_EQ_INT(st->skipped[AETHER_SKIP_VITALS], 236);
    CHECK_EQ_INT(st->skipped[AETHER_SKIP_FEATURE], 236);
    CHECK_EQ_INT(st->skipped[AETHER_SKIP_COMPRESSED], 2);
    CHECK_EQ_INT(st->skipped[AETHER_SKIP_OTHER], 0);
    CHECK_EQ_INT(st->skipped[AETHER_SKIP_BLANK], 0);
    CHECK_EQ_INT(st->malformed, 0);
    CHECK_EQ_INT(st->n_errors, 0);
    CHECK_NEAR(st->t_last - st->t_first, 120.021066904068, 1e-5);
    check_line_balance(st);
    aether_features_destroy(fx);
    aether_recording_close(r);
}

static void check_amplitude_file(const char *path, uint64_t expect)
{
    aether_recording *r = NULL;
    aether_csi_frame f;
    const aether_recording_stats *st;
    uint64_t n = 0;
    CHECK_STATUS(aether_recording_open(path, NULL, &r), AETHER_OK);
    if (!r)
        return;
    while (aether_recording_next(r, &f) == AETHER_OK) {
        CHECK(f.kind == AETHER_CSI_AMPLITUDE && f.n_pairs == 56);
        CHECK(f.amp[0] == 0.0f && f.amp[27] == 0.0f && f.amp[37] == 0.0f); /* L-LTF nulls */
        CHECK_EQ_INT(f.flags, AETHER_CSI_HAS_TIME);
        n++;
    }
    st = aether_recording_get_stats(r);
    CHECK_EQ_INT(n, expect);
    CHECK_EQ_INT(st->frames[AETHER_CSI_AMPLITUDE], expect);
    CHECK_EQ_INT(st->records, expect);
    CHECK_EQ_INT(st->malformed, 0);
    CHECK_EQ_INT(pair_count(st, 56), expect);
    check_line_balance(st);
    aether_recording_close(r);
}

static void test_amplitude_files(void)
{
    REQUIRE_DATA();
    check_amplitude_file(DATA "amplitude-features.csi.jsonl", 253);
    check_amplitude_file(DATA "amplitude-features-short.csi.jsonl", 3);
}

/* num_packets of dataset_info.json, for the files it lists (-1 if absent). */
static long listed_packets(const cJSON *info, const char *label, const char *file)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(info, "files");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(files, label), *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(e, "filename");
        const cJSON *np = cJSON_GetObjectItemCaseSensitive(e, "num_packets");
        if (cJSON_IsString(fn) && !strcmp(fn->valuestring, file) && cJSON_IsNumber(np))
            return (long)np->valuedouble;
    }
    return -1;
}

static void test_espectre_npz(void)
{
    REQUIRE_DATA();
    static const char *const labels[] = {"wave",     "circle_cw", "no_gesture",
                                         "baseline", "movement",  "test"};
    static const int expect_files[] = {21, 21, 42, 8, 8, 1};
    size_t li;
    uint64_t total_rows = 0, files = 0, listed = 0;
    size_t info_len = 0;
    unsigned char *info_text = test_read_file(DATA "espectre/dataset_info.json", &info_len);
    cJSON *info = info_text ? cJSON_ParseWithLength((const char *)info_text, info_len) : NULL;
    CHECK(info != NULL);
    for (li = 0; li < sizeof labels / sizeof labels[0]; ++li) {
        char dir[512];
        DIR *d;
        struct dirent *de;
        int nfiles = 0;
        snprintf(dir, sizeof dir, DATA "espectre/%s", labels[li]);
        d = opendir(dir);
        CHECK_MSG(d != NULL, "%s", dir);
        if (!d)
            continue;
        while ((de = readdir(d)) != NULL) {
            char path[1024];
            size_t nl = strlen(de->d_name);
            aether_recording *r = NULL;
            aether_csi_frame f;
            const aether_npz_info *in;
            uint64_t n = 0;
            double last_t = 0.0;
            long lp;
            if (nl < 5 || strcmp(de->d_name + nl - 4, ".npz") != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            CHECK_STATUS(aether_recording_open(path, NULL, &r), AETHER_OK);
            if (!r)
                continue;
            nfiles++;
            CHECK_EQ_INT(aether_recording_get_format(r), AETHER_REC_NPZ);
            in = aether_recording_npz_info(r);
            CHECK_MSG(!strcmp(in->label, labels[li]), "%s: label '%s'", path, in->label);
            CHECK_EQ_INT(in->num_subcarriers, 64);
            CHECK_EQ_INT(in->row_bytes, 128);
            CHECK(in->chip[0] != '\0' &&
                  strncmp(de->d_name + strlen(labels[li]) + 1, in->chip, strlen(in->chip)) == 0);
            CHECK(!strcmp(in->format_version, "1.0"));
            CHECK(in->gain_locked == 0 || in->gain_locked == 1);
            CHECK(in->duration_ms > 1000.0);
            CHECK(strncmp(in->collected_at, "2026-", 5) == 0);
            while (aether_recording_next(r, &f) == AETHER_OK) {
                CHECK(f.n_pairs == 64 && f.kind == AETHER_CSI_RAW_IQ);
                last_t = f.timestamp;
                n++;
            }
            CHECK_EQ_INT(n, in->rows);
            CHECK(n > 0);
            /* synthesised time: row i at i * duration / rows */
            CHECK_NEAR(last_t, (double)(n - 1) * in->duration_ms / 1000.0 / (double)n, 1e-9);
            CHECK_EQ_INT(aether_recording_get_stats(r)->frames[AETHER_CSI_RAW_IQ], n);
            CHECK_EQ_INT(aether_recording_get_stats(r)->malformed, 0);
            lp = listed_packets(info, labels[li], de->d_name);
            if (lp >= 0) {
                CHECK_EQ_INT(n, lp);
                listed++;
            }
            if (!strcmp(labels[li], "test"))
                CHECK_EQ_INT(n, 6068);
            total_rows += n;
            files++;
            aether_recording_close(r);
        }
        closedir(d);
        CHECK_EQ_INT(nfiles, expect_files[li]);
    }
    CHECK_EQ_INT(files, 101);
    CHECK_EQ_INT(total_rows, 52277);
    CHECK_EQ_INT(listed, 17);
    cJSON_Delete(info);
    free(info_text);
}

/* ---------------- damaged JSONL ---------------- */

static uint64_t g_cb_lines[32];
static size_t g_cb_n;

static void on_error(void *user, const aether_csi_error *e)
{
    (void)user;
    if (g_cb_n < 32)
        g_cb_lines[g_cb_n++] = e->record;
}

/* Pointers to the first `max` lines of text (terminators replaced by NUL). */
static size_t split_lines(char *text, size_t len, char **lines, size_t max)
{
    size_t n = 0, i, start = 0;
    for (i = 0; i < len && n < max; ++i)
        if (text[i] == '\n') {
            text[i] = '\0';
            lines[n++] = text + start;
            start = i + 1;
        }
    return n;
}

static void test_corrupted_jsonl(void)
{
    REQUIRE_DATA();
    const char *path = "/tmp/aether_test_csi_corrupt.csi.jsonl";
    size_t len = 0, n, i, good = 0, orig_vitals = 0, raw_idx = 0;
    unsigned char *all = test_read_file(RAW2, &len);
    char *lines[64];
    char *buf, *p, *tmp;
    aether_recording *r = NULL;
    aether_recording_options opt;
    aether_csi_frame f;
    const aether_recording_stats *st;
    uint64_t frames = 0;
    static const uint64_t bad_lines[] = {11, 12, 13, 16, 17, 18, 20};
    CHECK(all != NULL);
    if (!all)
        return;
    n = split_lines((char *)all, len, lines, 64);
    CHECK_EQ_INT(n, 64);
    for (i = 0; i < n; ++i)
        if (strstr(lines[i], "\"raw_csi\"")) {
            raw_idx = i;
            break;
        }
    buf = (char *)malloc(1u << 20);
    tmp = (char *)malloc(1u << 16);
    p = buf;
#define EMIT(...) (p += sprintf(p, __VA_ARGS__))
    for (i = 0; i < 10; ++i)
        EMIT("%s\n", lines[i]);                              /* 1..10 */
    EMIT("%.*s\n", (int)(strlen(lines[10]) / 2), lines[10]); /* 11 truncated */
    strcpy(tmp, lines[raw_idx]);
    *(strstr(tmp, "\"iq_hex\": \"") + 20) = 'z';
    EMIT("%s\n", tmp);                              /* 12 bad hex */
    memcpy(p, "\x01\xff\x00garbage\x80\x7f\n", 13); /* 13 garbage + NUL */
    p += 13;
    EMIT("\n");                /* 14 blank */
    EMIT("%s\r\n", lines[11]); /* 15 CRLF: good */
    strcpy(tmp, lines[raw_idx]);
    {
        char *h = strstr(tmp, "\"iq_hex\": \"") + 11;
        memmove(h, h + 1, strlen(h + 1) + 1); /* drop one digit */
    }
    EMIT("%s\n", tmp);                        /* 16 odd length */
    EMIT("{\"timestamp\": 1.0, \"pad\": \""); /* 17 too long */
    for (i = 0; i < 10000; ++i)
        *p++ = 'a';
    EMIT("\"}\n");
    EMIT("[1, 2, 3]\n");                                       /* 18 not an object */
    EMIT("{\"timestamp\": 2.0, \"magic\": \"0xC5110009\"}\n"); /* 19 other: skipped */
    strcpy(tmp, lines[raw_idx]);
    {
        char *sc = strstr(tmp, "\"subcarriers\": 64");
        CHECK(sc != NULL);
        if (sc)
            memcpy(sc, "\"subcarriers\": 65", 17);
    }
    EMIT("%s\n", tmp); /* 20 length mismatch */
    for (i = 12; i < 63; ++i)
        EMIT("%s\n", lines[i]); /* 21..71 */
    EMIT("%s", lines[63]);      /* 72: no final newline */
#undef EMIT
    for (i = 0; i < 10; ++i)
        good += strstr(lines[i], "\"raw_csi\"") != NULL;
    for (i = 11; i < 64; ++i)
        good += strstr(lines[i], "\"raw_csi\"") != NULL;
    for (i = 0; i < 64; ++i)
        orig_vitals += (i != 10) && strstr(lines[i], "\"vitals\"") != NULL;
    CHECK(write_all(path, buf, (size_t)(p - buf)));

    memset(&opt, 0, sizeof opt);
    opt.max_line = 8192;
    opt.on_error = on_error;
    g_cb_n = 0;
    CHECK_STATUS(aether_recording_open(path, &opt, &r), AETHER_OK);
    if (r) {
        while (aether_recording_next(r, &f) == AETHER_OK)
            frames++;
        st = aether_recording_get_stats(r);
        CHECK_EQ_INT(frames, good);
        CHECK_EQ_INT(st->frames[AETHER_CSI_RAW_IQ], good);
        CHECK_EQ_INT(st->records, 72);
        CHECK_EQ_INT(st->malformed, 7);
        CHECK_EQ_INT(st->too_long, 1);
        CHECK_EQ_INT(st->skipped[AETHER_SKIP_BLANK], 1);
        CHECK_EQ_INT(st->skipped[AETHER_SKIP_OTHER], 1);
        CHECK_EQ_INT(st->skipped[AETHER_SKIP_VITALS], orig_vitals);
        CHECK_EQ_INT(st->n_errors, 7);
        CHECK_EQ_INT(g_cb_n, 7);
        for (i = 0; i < 7 && i < st->n_errors; ++i) {
            CHECK_EQ_INT(st->errors[i].record, bad_lines[i]);
            CHECK_EQ_INT(g_cb_lines[i], bad_lines[i]);
            CHECK_STATUS(st->errors[i].status, AETHER_ERR_PARSE);
            CHECK(st->errors[i].reason[0] != '\0');
        }
        CHECK(strstr(st->errors[1].reason, "non-hex") != NULL);
        CHECK(strstr(st->errors[2].reason, "NUL") != NULL);
        CHECK(strstr(st->errors[3].reason, "odd") != NULL);
        CHECK(strstr(st->errors[4].reason, "longer") != NULL);
        CHECK(strstr(st->errors[6].reason, "4 x subcarriers") != NULL);
        check_line_balance(st);
        aether_recording_close(r);
    }

    /* Random damage on the same bytes in memory: nothing ever crashes and the
     * line accounting always balances. */
    {
        size_t total = (size_t)(p - buf), it;
        char *m = (char *)malloc(total);
        uint32_t seed = 99u;
        for (it = 0; it < 300; ++it) {
            size_t k, cut;
            memcpy(m, buf, total);
            for (k = 0; k < 20; ++k) {
                seed = seed * 1664525u + 1013904223u;
                m[(seed >> 4) % total] = (char)(seed >> 24);
            }
            seed = seed * 1664525u + 1013904223u;
            cut = total - (seed >> 8) % 2000;
            r = NULL;
            if (aether_recording_open_memory(m, cut, &opt, &r) == AETHER_OK) {
                while (aether_recording_next(r, &f) == AETHER_OK)
                    CHECK(f.n_pairs >= 1 && f.n_pairs <= AETHER_CSI_MAX_PAIRS);
                if (aether_recording_get_format(r) == AETHER_REC_JSONL)
                    check_line_balance(aether_recording_get_stats(r));
                aether_recording_close(r);
            }
        }
        free(m);
    }
    remove(path);
    free(tmp);
    free(buf);
    free(all);
}

/* ---------------- ADR-018 stream ---------------- */

static void test_adr018_stream(void)
{
    REQUIRE_DATA();
    const char *path = "/tmp/aether_test_csi_stream.bin";
    static int8_t keep[40][2 * 192];
    static size_t keep_n[40];
    static uint32_t keep_node[40];
    unsigned char *buf = (unsigned char *)malloc(1u << 20);
    size_t pos = 0, i, got = 0;
    aether_recording *r = NULL;
    aether_csi_frame f;
    const aether_recording_stats *st;
    int same = 1;
    CHECK_STATUS(aether_recording_open(RAW2, NULL, &r), AETHER_OK);
    for (i = 0; r && i < 40 && aether_recording_next(r, &f) == AETHER_OK; ++i) {
        size_t n = 0;
        f.sequence = (uint32_t)i; /* no header: encoded with n_antennas 1 */
        CHECK_STATUS(aether_adr018_encode(&f, buf + pos, (1u << 20) - pos, &n), AETHER_OK);
        memcpy(keep[i], f.iq, 2 * f.n_pairs);
        keep_n[i] = f.n_pairs;
        keep_node[i] = f.node_id;
        pos += n;
        if (i == 9) { /* a vitals sibling: skipped, counted */
            memset(buf + pos, 0, 32);
            aether_store_le32(buf + pos, AETHER_MAGIC_VITALS);
            pos += 32;
        }
        if (i == 19) { /* garbage: bad magic, resync */
            memcpy(buf + pos, "garbage", 7);
            pos += 7;
        }
        if (i == 29) { /* header with 9 antennas: bad length field, resync */
            memset(buf + pos, 0, 20);
            aether_store_le32(buf + pos, AETHER_ADR018_MAGIC);
            buf[pos + 5] = 9;
            pos += 20;
        }
    }
    aether_recording_close(r);
    /* a truncated frame at the end */
    memcpy(buf + pos, buf, 30);
    pos += 30;
    CHECK(write_all(path, buf, pos));
    r = NULL;
    CHECK_STATUS(aether_recording_open(path, NULL, &r), AETHER_OK);
    if (r) {
        CHECK_EQ_INT(aether_recording_get_format(r), AETHER_REC_ADR018);
        while (aether_recording_next(r, &f) == AETHER_OK) {
            if (got < 40 && (f.n_pairs != keep_n[got] || f.node_id != keep_node[got] ||
                             memcmp(f.iq, keep[got], 2 * f.n_pairs) != 0))
                same = 0;
            CHECK(f.flags & AETHER_CSI_HAS_HEADER);
            CHECK_NEAR(f.timestamp, 0.02 * (double)got, 1e-12);
            got++;
        }
        st = aether_recording_get_stats(r);
        CHECK_EQ_INT(got, 40);
        CHECK(same);
        CHECK_EQ_INT(st->skipped[AETHER_SKIP_VITALS], 1);
        CHECK_EQ_INT(st->malformed, 3);
        CHECK_EQ_INT(st->n_errors, 3);
        CHECK_STATUS(st->errors[0].status, AETHER_ERR_FRAME_MAGIC);
        CHECK_STATUS(st->errors[1].status, AETHER_ERR_FRAME_LENGTH);
        CHECK_STATUS(st->errors[2].status, AETHER_ERR_FRAME_LENGTH);
        CHECK(strstr(st->errors[2].reason, "truncated") != NULL);
        aether_recording_close(r);
    }
    remove(path);
    free(buf);
}

/* ---------------- damaged NPZ ---------------- */

static void test_corrupted_npz(void)
{
    REQUIRE_DATA();
    const char *src = DATA "espectre/no_gesture/no_gesture_c3_64sc_20260314_174306.npz";
    const char *path = "/tmp/aether_test_csi_trunc.npz";
    size_t len = 0, it, opened = 0, cut;
    unsigned char *z = test_read_file(src, &len), *m;
    aether_recording *r = NULL;
    aether_csi_frame f;
    uint32_t seed = 7u;
    size_t rows;
    CHECK(z != NULL);
    if (!z)
        return;
    CHECK_STATUS(aether_recording_open_memory(z, len, NULL, &r), AETHER_OK);
    rows = r ? aether_recording_npz_info(r)->rows : 0;
    CHECK(rows > 200);
    aether_recording_close(r);

    /* truncated file on disk: the container is refused, cleanly */
    CHECK(write_all(path, z, len / 2));
    r = NULL;
    CHECK_STATUS(aether_recording_open(path, NULL, &r), AETHER_ERR_ZIP);
    CHECK(r == NULL);
    remove(path);
    CHECK_STATUS(aether_recording_open("/nonexistent/x.npz", NULL, &r), AETHER_ERR_IO);

    /* every truncation point, coarse steps */
    for (cut = 0; cut < len; cut += 97) {
        aether_status s = aether_recording_open_memory(z, cut, NULL, &r);
        CHECK(s != AETHER_OK || cut == 0);
        if (s == AETHER_OK)
            aether_recording_close(r);
    }
    /* a flipped byte in the deflated csi_data: CRC or inflate error */
    m = (unsigned char *)malloc(len);
    memcpy(m, z, len);
    m[200] ^= 0x55;
    CHECK_STATUS(aether_recording_open_memory(m, len, NULL, &r), AETHER_ERR_ZIP);
    /* a damaged scalar member is reported but the frames still come */
    memcpy(m, z, len);
    {
        size_t i;
        for (i = 0; i + 9 < len; ++i)
            if (!memcmp(m + i, "label.npy", 9) && m[i - 30] == 'P') {
                m[i + 9 + 20] ^= 0xFF; /* inside label's deflate data */
                break;
            }
    }
    r = NULL;
    CHECK_STATUS(aether_recording_open_memory(m, len, NULL, &r), AETHER_OK);
    if (r) {
        size_t n = 0;
        while (aether_recording_next(r, &f) == AETHER_OK)
            n++;
        CHECK_EQ_INT(n, rows);
        CHECK_EQ_INT(aether_recording_get_stats(r)->malformed, 1);
        CHECK(aether_recording_npz_info(r)->label[0] == '\0');
        CHECK(strstr(aether_recording_get_stats(r)->errors[0].reason, "label.npy") != NULL);
        aether_recording_close(r);
    }
    /* random mutations: never a crash, a successful open yields all its rows */
    for (it = 0; it < 1500; ++it) {
        size_t k, nflip;
        memcpy(m, z, len);
        seed = seed * 1664525u + 1013904223u;
        nflip = 1 + (seed >> 28) % 4;
        for (k = 0; k < nflip; ++k) {
            size_t at;
            seed = seed * 1664525u + 1013904223u;
            /* aim half of the damage at the headers and directory */
            at = (k % 2) ? (seed >> 6) % len : len - 1 - (seed >> 6) % 700;
            m[at] = (unsigned char)(seed >> 24);
        }
        r = NULL;
        if (aether_recording_open_memory(m, len, NULL, &r) == AETHER_OK) {
            size_t n = 0;
            const aether_npz_info *in = aether_recording_npz_info(r);
            while (aether_recording_next(r, &f) == AETHER_OK)
                n++;
            CHECK_EQ_INT(n, in->rows);
            aether_recording_close(r);
            opened++;
        }
    }
    CHECK(opened > 0);
    free(m);
    free(z);
}

static void test_detection_and_args(void)
{
    REQUIRE_DATA();
    aether_recording *r = NULL;
    aether_csi_frame f;
    const char *path = "/tmp/aether_test_csi_detect.bin";
    CHECK_STATUS(aether_recording_open(NULL, NULL, &r), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_recording_open(RAW2, NULL, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_recording_next(NULL, &f), AETHER_ERR_NULL_ARG);
    CHECK(aether_recording_get_stats(NULL) == NULL);
    CHECK_STATUS(aether_recording_open_memory("\x01\x02\x03garbage", 10, NULL, &r),
                 AETHER_ERR_FORMAT);
    CHECK(write_all(path, "not a recording\n", 16));
    CHECK_STATUS(aether_recording_open(path, NULL, &r), AETHER_ERR_FORMAT);
    remove(path);
    /* empty input: an empty JSONL recording */
    CHECK_STATUS(aether_recording_open_memory("", 0, NULL, &r), AETHER_OK);
    if (r) {
        CHECK_STATUS(aether_recording_next(r, &f), AETHER_ERR_END);
        CHECK_EQ_INT(aether_recording_get_stats(r)->records, 0);
        aether_recording_close(r);
    }
    /* BOM, CRLF, an amplitude line with a node id, unknown keys ignored */
    {
        const char *t = "\xEF\xBB\xBF{\"timestamp\": 5.5, \"subcarriers\": [1, 2.5, 0], "
                        "\"node_id\": 9, \"x\": {\"y\": []}}\r\n";
        CHECK_STATUS(aether_recording_open_memory(t, strlen(t), NULL, &r), AETHER_OK);
        if (r) {
            CHECK_STATUS(aether_recording_next(r, &f), AETHER_OK);
            CHECK(f.kind == AETHER_CSI_AMPLITUDE && f.n_pairs == 3 && f.amp[1] == 2.5f);
            CHECK_EQ_INT(f.node_id, 9);
            CHECK_EQ_INT(f.flags, AETHER_CSI_HAS_TIME | AETHER_CSI_HAS_NODE);
            CHECK_STATUS(aether_recording_next(r, &f), AETHER_ERR_END);
            aether_recording_close(r);
        }
    }
    CHECK(!strcmp(aether_csi_skip_name(AETHER_SKIP_COMPRESSED), "compressed"));
    CHECK(!strcmp(aether_recording_format_name(AETHER_REC_NPZ), "npz"));
    CHECK(!strcmp(aether_csi_kind_name(AETHER_CSI_AMPLITUDE), "amplitude"));
}

/* README: C3 packets switch gain by exactly x2. The energy feature sees the
 * jump (ln 4), the gain-normalised motion feature must not. */
static void test_gain_jumps_real(void)
{
    REQUIRE_DATA();
    const char *dir = DATA "espectre/wave";
    DIR *d = opendir(dir);
    struct dirent *de;
    aether_features_config c = aether_features_config_default();
    aether_features *fx = NULL;
    double m_jump = 0.0, m_other = 0.0;
    uint64_t n_jump = 0, n_other = 0;
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_STATUS(aether_features_create(&c, &fx), AETHER_OK);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        aether_recording *r = NULL;
        aether_csi_frame f;
        float v[16], prev_e = 0.0f;
        int first = 1;
        if (!strstr(de->d_name, ".npz"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (aether_recording_open(path, NULL, &r) != AETHER_OK)
            continue;
        CHECK_STATUS(aether_features_reset(fx), AETHER_OK);
        while (aether_recording_next(r, &f) == AETHER_OK) {
            CHECK_STATUS(aether_features_compute(fx, &f, v, 16), AETHER_OK);
            if (!first) {
                if (fabs(fabs((double)(v[0] - prev_e)) - log(4.0)) < 0.3) {
                    m_jump += v[AETHER_FEAT_MOTION];
                    n_jump++;
                } else {
                    m_other += v[AETHER_FEAT_MOTION];
                    n_other++;
                }
            }
            prev_e = v[0];
            first = 0;
        }
        aether_recording_close(r);
    }
    closedir(d);
    aether_features_destroy(fx);
    CHECK(n_jump > 50);
    CHECK(n_other > 5000);
    if (n_jump && n_other) {
        m_jump /= (double)n_jump;
        m_other /= (double)n_other;
        CHECK_MSG(m_jump < 1.5 * m_other && m_jump < 0.1, "motion at jumps %.4f, elsewhere %.4f",
                  m_jump, m_other);
    }
}

TEST_MAIN(test_raw_two_node, test_amplitude_files, test_espectre_npz, test_gain_jumps_real,
          test_corrupted_jsonl, test_adr018_stream, test_corrupted_npz, test_detection_and_args)
