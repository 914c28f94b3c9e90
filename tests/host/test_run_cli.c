/* `aether run` end to end, through the built binary: exact frame and
 * decision counts on the real recordings (checked against the readers
 * directly), packets that decode to the printed decisions, a damaged copy
 * that is counted but never fatal, and the exit statuses.
 *
 * The binary: $AETHER_CLI, else argv[1], else ../aether next to this
 * program (the build tree's layout). */
#define _POSIX_C_SOURCE 200809L
#include "aether/blob.h"
#include "aether/csi.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/packet.h"
#include "aether/recording.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA AETHER_DATA_DIR "/"
#define RAW2 DATA "esp32-raw-2node.csi.jsonl"
#define AMP DATA "amplitude-features.csi.jsonl"
#define AMP_SHORT DATA "amplitude-features-short.csi.jsonl"
#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"

static char g_cli[4096];
static char g_dir[256];
static char g_blob[512];

/* ---------------- running the CLI ---------------- */

typedef struct run_out {
    char *out;      /* stdout, NUL-terminated */
    size_t err_len; /* bytes written to stderr */
    int status;     /* exit status, or -1 if it did not exit normally */
} run_out;

static void run_free(run_out *r)
{
    free(r->out);
    memset(r, 0, sizeof *r);
}

/* Run `aether ARGS` (ARGS already shell-quoted where needed). */
static run_out run(const char *args)
{
    run_out r;
    char cmd[8192], errpath[512];
    FILE *p;
    size_t cap = 1 << 16, n = 0, got;
    struct stat sb;
    int st;
    memset(&r, 0, sizeof r);
    r.status = -1;
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", g_dir);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", g_cli, args, errpath);
    r.out = (char *)malloc(cap);
    p = popen(cmd, "r");
    if (!p || !r.out) {
        if (p)
            pclose(p);
        return r;
    }
    for (;;) {
        if (n + 1 == cap) {
            char *nb = (char *)realloc(r.out, cap * 2);
            if (!nb)
                break;
            r.out = nb;
            cap *= 2;
        }
        got = fread(r.out + n, 1, cap - 1 - n, p);
        if (got == 0)
            break;
        n += got;
    }
    r.out[n] = '\0';
    st = pclose(p);
    if (st != -1 && WIFEXITED(st))
        r.status = WEXITSTATUS(st);
    if (stat(errpath, &sb) == 0)
        r.err_len = (size_t)sb.st_size;
    return r;
}

/* Decision lines and the summary of a --json run. */
typedef struct parsed {
    cJSON *summary;
    size_t n_decisions;
    size_t by_node[256];
    int bad_lines;     /* lines that are not one of the two objects */
    int bad_decisions; /* decisions whose fields disagree with each other */
    double *ts;        /* absolute timestamps of the decisions, in order */
    uint32_t *nodes;
    uint32_t *classes;
} parsed;

static void parsed_free(parsed *p)
{
    cJSON_Delete(p->summary);
    free(p->ts);
    free(p->nodes);
    free(p->classes);
    memset(p, 0, sizeof *p);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(x) ? x->valuedouble : -1.0;
}

static double num2(const cJSON *o, const char *key, const char *sub)
{
    return num(cJSON_GetObjectItemCaseSensitive(o, key), sub);
}

/* A decision's class must be the argmax of its logits, its margin top1 -
 * top2, its frame a multiple of `every` (when > 0). */
static int decision_ok(const cJSON *d, size_t n_classes, size_t every)
{
    const cJSON *lg = cJSON_GetObjectItemCaseSensitive(d, "logits");
    float l[64];
    size_t n = 0, am = 0;
    float top = 0, margin = 0;
    const cJSON *x;
    if (!cJSON_IsArray(lg))
        return 0;
    cJSON_ArrayForEach(x, lg)
    {
        if (!cJSON_IsNumber(x) || n == 64)
            return 0;
        l[n++] = (float)x->valuedouble;
    }
    if (n != n_classes)
        return 0;
    aether_packet_argmax(l, n, &am, &top, &margin);
    if ((size_t)num(d, "class") != am)
        return 0;
    /* logits are printed exactly: the margin is reproduced exactly */
    if ((float)num(d, "margin") != margin)
        return 0;
    if (every && ((size_t)num(d, "frame") % every) != 0)
        return 0;
    return 1;
}

static void parse_json_lines(const char *out, size_t n_classes, size_t every, parsed *p)
{
    const char *s = out;
    size_t cap = 0;
    memset(p, 0, sizeof *p);
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *line = (char *)malloc(len + 1);
        cJSON *o;
        const cJSON *type;
        memcpy(line, s, len);
        line[len] = '\0';
        o = cJSON_Parse(line);
        free(line);
        type = cJSON_GetObjectItemCaseSensitive(o, "type");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "decision")) {
            if (p->n_decisions == cap) {
                cap = cap ? 2 * cap : 256;
                p->ts = (double *)realloc(p->ts, cap * sizeof *p->ts);
                p->nodes = (uint32_t *)realloc(p->nodes, cap * sizeof *p->nodes);
                p->classes = (uint32_t *)realloc(p->classes, cap * sizeof *p->classes);
            }
            p->ts[p->n_decisions] = num(o, "timestamp");
            p->nodes[p->n_decisions] = (uint32_t)num(o, "node");
            p->classes[p->n_decisions] = (uint32_t)num(o, "class");
            p->by_node[p->nodes[p->n_decisions] & 0xFF]++;
            p->n_decisions++;
            if (!decision_ok(o, n_classes, every))
                p->bad_decisions++;
            cJSON_Delete(o);
        } else if (cJSON_IsString(type) && !strcmp(type->valuestring, "summary") && !p->summary) {
            p->summary = o;
        } else {
            p->bad_lines++;
            cJSON_Delete(o);
        }
        s = e ? e + 1 : s + len;
    }
}

/* ---------------- independent counts through the readers ---------------- */

typedef struct counts {
    uint64_t frames, by_node[256], malformed, skipped[AETHER_SKIP_COUNT];
    uint64_t period_decisions; /* the --period rule, if period > 0 */
} counts;

static int count_file(const char *path, double period, counts *c)
{
    aether_recording *r = NULL;
    aether_csi_frame f;
    const aether_recording_stats *st;
    double due[256];
    int have[256];
    size_t i;
    memset(c, 0, sizeof *c);
    memset(have, 0, sizeof have);
    if (aether_recording_open(path, NULL, &r) != AETHER_OK)
        return 0;
    while (aether_recording_next(r, &f) == AETHER_OK) {
        unsigned n = f.node_id & 0xFFu;
        c->frames++;
        c->by_node[n]++;
        if (period > 0.0) {
            if (!have[n]) {
                due[n] = f.timestamp + period;
                have[n] = 1;
            } else if (f.timestamp >= due[n]) {
                c->period_decisions++;
                while (due[n] <= f.timestamp)
                    due[n] += period;
            }
        }
    }
    st = aether_recording_get_stats(r);
    c->malformed = st->malformed;
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        c->skipped[i] = st->skipped[i];
    aether_recording_close(r);
    return 1;
}

static uint64_t expected_every(const counts *c, uint64_t every)
{
    uint64_t n = 0;
    size_t i;
    for (i = 0; i < 256; ++i)
        n += c->by_node[i] / every;
    return n;
}

/* Summary fields against the readers' own counts. */
static void check_summary_counts(const cJSON *s, const counts *c)
{
    const cJSON *byn = cJSON_GetObjectItemCaseSensitive(s, "frames_by_node");
    const cJSON *x;
    uint64_t sum = 0;
    size_t i;
    CHECK(s != NULL);
    CHECK_EQ_INT(num2(s, "frames", "raw_iq") + num2(s, "frames", "amplitude"), c->frames);
    CHECK_EQ_INT(num(s, "malformed"), c->malformed);
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        CHECK_EQ_INT(num2(s, "skipped", aether_csi_skip_name((aether_csi_skip)i)), c->skipped[i]);
    cJSON_ArrayForEach(x, byn)
    {
        unsigned n = (unsigned)atoi(x->string);
        CHECK_EQ_INT(x->valuedouble, c->by_node[n & 0xFF]);
        sum += (uint64_t)x->valuedouble;
    }
    CHECK_EQ_INT(sum, c->frames);
    CHECK_EQ_INT(num2(s, "refused", "features") + num2(s, "refused", "model"), 0);
}

/* ---------------- tests ---------------- */

static void test_raw_2node_every_100(void)
{
    REQUIRE_DATA();
    char args[2048];
    run_out r;
    parsed p;
    counts c;
    CHECK(count_file(RAW2, 0.0, &c));
    /* the data set's documented counts */
    CHECK_EQ_INT(c.frames, 5309);
    CHECK_EQ_INT(c.by_node[1], 2659);
    CHECK_EQ_INT(c.by_node[2], 2650);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 100 --json", g_blob, RAW2);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(r.err_len, 0); /* no progress bar when stderr is not a terminal */
    parse_json_lines(r.out, 4, 100, &p);
    CHECK_EQ_INT(p.bad_lines, 0);
    CHECK_EQ_INT(p.bad_decisions, 0);
    /* floor(2659/100) + floor(2650/100) */
    CHECK_EQ_INT(p.n_decisions, 52);
    CHECK_EQ_INT(p.by_node[1], 26);
    CHECK_EQ_INT(p.by_node[2], 26);
    CHECK_EQ_INT(expected_every(&c, 100), 52);
    check_summary_counts(p.summary, &c);
    CHECK_EQ_INT(num2(p.summary, "frames", "raw_iq"), 5309);
    CHECK_EQ_INT(num2(p.summary, "skipped", "vitals"), 236);
    CHECK_EQ_INT(num2(p.summary, "skipped", "feature"), 236);
    CHECK_EQ_INT(num2(p.summary, "skipped", "compressed"), 2);
    CHECK_EQ_INT(num(p.summary, "malformed"), 0);
    CHECK_EQ_INT(num(p.summary, "decisions"), 52);
    CHECK_EQ_INT(num2(p.summary, "decisions_by_node", "1"), 26);
    CHECK_EQ_INT(num2(p.summary, "tracks", "created"), 2);
    CHECK_EQ_INT(num2(p.summary, "tracks", "active"), 2);
    CHECK(num(p.summary, "us_per_frame") > 0.0);
    parsed_free(&p);
    run_free(&r);

    /* Text mode: same counts in the summary. */
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 100", g_blob, RAW2);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.out && strstr(r.out, "frames:     5309 (raw_iq 5309, amplitude 0); node 1: 2659; "
                                 "node 2: 2650") != NULL);
    CHECK(r.out && strstr(r.out, "decisions:  52; node 1: 26; node 2: 26") != NULL);
    CHECK(r.out && strstr(r.out, "skipped:    vitals 236 feature 236 compressed 2") != NULL);
    CHECK(r.out && strstr(r.out, "us/frame") != NULL);
    run_free(&r);
}

static void test_node_filter_and_packets(void)
{
    REQUIRE_DATA();
    char args[2048], pk[512];
    unsigned char *bytes = NULL;
    size_t i;
    size_t len = 0;
    run_out r;
    parsed p;
    snprintf(pk, sizeof pk, "%s/packets.bin", g_dir);
    snprintf(args, sizeof args,
             "run --model '%s' --input '%s' --node 2 --every 100 --json --packets '%s'", g_blob,
             RAW2, pk);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    parse_json_lines(r.out, 4, 100, &p);
    CHECK_EQ_INT(p.n_decisions, 26);
    CHECK_EQ_INT(p.by_node[2], 26);
    CHECK_EQ_INT(num(p.summary, "filtered"), 2659);
    CHECK_EQ_INT(num(p.summary, "packets"), 26);
    bytes = test_read_file(pk, &len);
    CHECK(bytes != NULL);
    if (bytes) {
        CHECK_EQ_INT(len, 26 * AETHER_PACKET_LEN);
        for (i = 0; bytes && i < 26 && i < p.n_decisions; ++i) {
            aether_class_packet pkt;
            CHECK_STATUS(aether_packet_decode(bytes + i * AETHER_PACKET_LEN, AETHER_PACKET_LEN,
                                              &pkt),
                         AETHER_OK);
            CHECK_EQ_INT(pkt.node_id, 2);
            CHECK_EQ_INT(pkt.seq, i + 1);
            CHECK_EQ_INT(pkt.n_classes, 4);
            CHECK_EQ_INT(pkt.argmax, p.classes[i]);
            /* ts_us: the recording timestamp in microseconds (the JSON line
             * prints it to the microsecond) */
            CHECK(fabs((double)pkt.ts_us - p.ts[i] * 1e6) <= 1.0);
        }
    }
    free(bytes);
    parsed_free(&p);
    run_free(&r);
}

static void test_amplitude_files(void)
{
    REQUIRE_DATA();
    char args[2048];
    run_out r;
    parsed p;
    counts c;
    CHECK(count_file(AMP, 0.0, &c));
    CHECK_EQ_INT(c.frames, 253);
    snprintf(args, sizeof args,
             "run --model '%s' --input '%s' --every 10 --json --labels sit,stand,walk,empty",
             g_blob, AMP);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    parse_json_lines(r.out, 4, 10, &p);
    CHECK_EQ_INT(p.bad_lines, 0);
    CHECK_EQ_INT(p.bad_decisions, 0);
    CHECK_EQ_INT(p.n_decisions, 25);
    CHECK_EQ_INT(p.by_node[0], 25);
    check_summary_counts(p.summary, &c);
    CHECK_EQ_INT(num2(p.summary, "frames", "amplitude"), 253);
    CHECK(r.out && strstr(r.out, "\"label\":\"") != NULL);
    parsed_free(&p);
    run_free(&r);

    CHECK(count_file(AMP_SHORT, 0.0, &c));
    CHECK_EQ_INT(c.frames, 3);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 1 --json", g_blob,
             AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    parse_json_lines(r.out, 4, 1, &p);
    CHECK_EQ_INT(p.n_decisions, 3);
    check_summary_counts(p.summary, &c);
    parsed_free(&p);
    run_free(&r);
}

/* Every ESPectre archive: exit 0, frames as the reader counts them,
 * floor(frames / 64) decisions. */
static void test_every_npz(void)
{
    REQUIRE_DATA();
    static const char *const dirs[] = {"wave",     "circle_cw", "no_gesture",
                                       "baseline", "movement",  "test"};
    size_t d, files = 0, failures = 0;
    for (d = 0; d < sizeof dirs / sizeof dirs[0]; ++d) {
        char dir[1024];
        DIR *dp;
        struct dirent *e;
        snprintf(dir, sizeof dir, DATA "espectre/%s", dirs[d]);
        dp = opendir(dir);
        CHECK(dp != NULL);
        while (dp && (e = readdir(dp)) != NULL) {
            char path[2048], args[4096];
            size_t nl = strlen(e->d_name);
            run_out r;
            parsed p;
            counts c;
            int ok;
            if (nl < 4 || strcmp(e->d_name + nl - 4, ".npz") != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            files++;
            CHECK(count_file(path, 0.0, &c));
            /* small caches keep the sweep fast; counts do not depend on it */
            snprintf(args, sizeof args,
                     "run --model '%s' --input '%s' --every 64 --json --capacity 256 "
                     "--max-tracks 1",
                     g_blob, path);
            r = run(args);
            parse_json_lines(r.out ? r.out : "", 4, 64, &p);
            ok = r.status == 0 && p.summary && p.bad_lines == 0 && p.bad_decisions == 0 &&
                 p.n_decisions == expected_every(&c, 64) && c.frames > 0 &&
                 num2(p.summary, "frames", "raw_iq") == (double)c.frames &&
                 num(p.summary, "decisions") == (double)p.n_decisions &&
                 num(p.summary, "malformed") == 0.0;
            if (!ok) {
                failures++;
                fprintf(stderr, "aether run on %s: status %d, %lu decisions for %llu frames\n",
                        path, r.status, (unsigned long)p.n_decisions,
                        (unsigned long long)c.frames);
            }
            parsed_free(&p);
            run_free(&r);
        }
        if (dp)
            closedir(dp);
    }
    CHECK_EQ_INT(failures, 0);
    CHECK(files >= 100); /* 101 archives in the data set */
}

static void test_period(void)
{
    REQUIRE_DATA();
    char path[1024], args[2048];
    DIR *dp;
    struct dirent *e;
    run_out r;
    parsed p;
    counts c;
    path[0] = '\0';
    dp = opendir(DATA "espectre/test");
    while (dp && (e = readdir(dp)) != NULL)
        if (strstr(e->d_name, ".npz"))
            snprintf(path, sizeof path, DATA "espectre/test/%s", e->d_name);
    if (dp)
        closedir(dp);
    CHECK(path[0] != '\0');
    CHECK(count_file(path, 5.0, &c));
    CHECK_EQ_INT(c.frames, 6068);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --period 5 --json --capacity 512",
             g_blob, path);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    parse_json_lines(r.out, 4, 0, &p);
    CHECK_EQ_INT(p.n_decisions, c.period_decisions);
    CHECK_EQ_INT(p.n_decisions, 11); /* about 60.7 s of synthesised time */
    CHECK_EQ_INT(num2(p.summary, "frames", "raw_iq"), 6068);
    if (p.n_decisions >= 2)
        CHECK(p.ts[1] - p.ts[0] >= 4.9 && p.ts[1] - p.ts[0] <= 5.1);
    parsed_free(&p);
    run_free(&r);

    /* Both raw-2node nodes by time. */
    CHECK(count_file(RAW2, 10.0, &c));
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --period 10 --json", g_blob, RAW2);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    parse_json_lines(r.out, 4, 0, &p);
    CHECK_EQ_INT(p.n_decisions, c.period_decisions);
    CHECK_EQ_INT(p.by_node[1] + p.by_node[2], p.n_decisions);
    CHECK(p.by_node[1] >= 10 && p.by_node[2] >= 10); /* 120 s of each node */
    parsed_free(&p);
    run_free(&r);
}

/* A damaged copy of the first 1,500 lines of raw-2node: every damaged line
 * is counted as malformed, the rest still give frames and decisions. */
static void test_corrupted_copy(void)
{
    REQUIRE_DATA();
    char out_path[512], args[2048];
    FILE *in = fopen(RAW2, "rb"), *out;
    char *line = NULL;
    size_t cap = 1 << 20, lines = 0, damaged = 0, blank = 0;
    run_out r;
    parsed p;
    counts c;
    snprintf(out_path, sizeof out_path, "%s/damaged.csi.jsonl", g_dir);
    out = fopen(out_path, "wb");
    line = (char *)malloc(cap);
    CHECK(in && out && line);
    while (in && out && line && lines < 1500 && fgets(line, (int)cap, in)) {
        size_t len = strlen(line);
        int raw = strstr(line, "\"raw_csi\"") != NULL;
        lines++;
        if (raw && lines % 97 == 0) {
            /* cut mid-object */
            fwrite(line, 1, len / 2, out);
            fputc('\n', out);
            damaged++;
        } else if (raw && lines % 101 == 0) {
            /* bad hex digits in the I/Q payload */
            char *h = strstr(line, "\"iq_hex\": \"");
            if (h) {
                h[11] = 'z';
                h[12] = 'q';
            }
            fwrite(line, 1, len, out);
            damaged++;
        } else if (lines % 211 == 0) {
            fputs("\x01\x02garbage \xff\xfe not json\n", out);
            fwrite(line, 1, len, out);
            damaged++;
        } else if (lines % 307 == 0) {
            fputs("   \n", out); /* blank: skipped, not malformed */
            fwrite(line, 1, len, out);
            blank++;
        } else {
            fwrite(line, 1, len, out);
        }
    }
    free(line);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    CHECK(damaged >= 20);
    CHECK(count_file(out_path, 0.0, &c));
    CHECK_EQ_INT(c.malformed, damaged);
    CHECK_EQ_INT(c.skipped[AETHER_SKIP_BLANK], blank);
    CHECK(c.frames > 1000);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 50 --json", g_blob,
             out_path);
    r = run(args);
    CHECK_EQ_INT(r.status, 0); /* counted, not fatal */
    parse_json_lines(r.out, 4, 50, &p);
    CHECK_EQ_INT(p.bad_lines, 0);
    CHECK_EQ_INT(p.bad_decisions, 0);
    check_summary_counts(p.summary, &c);
    CHECK_EQ_INT(num(p.summary, "malformed"), damaged);
    {
        const cJSON *errs = cJSON_GetObjectItemCaseSensitive(p.summary, "errors");
        CHECK(cJSON_IsArray(errs) && cJSON_GetArraySize(errs) == (int)AETHER_CSI_KEEP_ERRORS);
        CHECK_EQ_INT(num(cJSON_GetArrayItem(errs, 0), "record"), 97);
    }
    CHECK_EQ_INT(p.n_decisions, expected_every(&c, 50));
    CHECK(p.n_decisions > 20);
    parsed_free(&p);
    run_free(&r);

    /* Text mode names the damaged lines. */
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 50", g_blob, out_path);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.out && strstr(r.out, "    record 97: ") != NULL);
    run_free(&r);
}

/* The excerpt shipped for the README demo: byte-for-byte the start of the
 * original recording, and what the demo prints. */
static void test_shipped_excerpt(void)
{
    REQUIRE_DATA();
    char args[2048];
    FILE *a = fopen(EXCERPT, "rb"), *b = fopen(RAW2, "rb");
    size_t n = 0, differ = 0;
    int ca;
    run_out r;
    parsed p;
    counts c;
    CHECK(a && b);
    while (a && b && (ca = fgetc(a)) != EOF) {
        n++;
        differ += ca != fgetc(b);
    }
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    CHECK_EQ_INT(differ, 0);
    CHECK(n > 100000 && n < 400000); /* a few hundred KB */
    CHECK(count_file(EXCERPT, 0.0, &c));
    CHECK_EQ_INT(c.frames, 670);
    CHECK_EQ_INT(c.by_node[1], 334);
    CHECK_EQ_INT(c.by_node[2], 336);
    CHECK_EQ_INT(c.malformed, 0);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 50 --json", g_blob,
             EXCERPT);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    parse_json_lines(r.out, 4, 50, &p);
    CHECK_EQ_INT(p.n_decisions, 12); /* 334/50 + 336/50 */
    CHECK_EQ_INT(p.bad_decisions, 0);
    check_summary_counts(p.summary, &c);
    CHECK_EQ_INT(num2(p.summary, "skipped", "vitals"), 30);
    parsed_free(&p);
    run_free(&r);
}

/* g_blob with a metadata record, written to path. */
static int write_meta_blob(const char *path, const char *text)
{
    size_t len = 0, need = 0;
    unsigned char *b = test_read_file(g_blob, &len), *o = NULL;
    aether_blob_view v;
    FILE *f;
    int ok = 0;
    if (b && aether_blob_parse(b, len, &v) == AETHER_OK &&
        aether_blob_with_metadata_size(&v, strlen(text), &need) == AETHER_OK &&
        (o = (unsigned char *)malloc(need)) != NULL &&
        aether_blob_with_metadata(&v, text, strlen(text), o, need, NULL) == AETHER_OK &&
        (f = fopen(path, "wb")) != NULL) {
        ok = fwrite(o, 1, need, f) == need;
        ok = fclose(f) == 0 && ok;
    }
    free(o);
    free(b);
    return ok;
}

#define WIN 20u
#define EVERY 25u

/* Pool mean from the metadata: every decision equals a window forward
 * (mean pooling) over the node's last WIN feature frames of recipe v2,
 * computed here through the library; labels come from the metadata unless
 * --labels is given. */
static void test_window_mode(void)
{
    REQUIRE_DATA();
    char path[512], args[4096];
    size_t len = 0, n_dec = 0, n_node = 0, head = 0, count = 0, i;
    unsigned char *blob;
    aether_blob_view v;
    aether_model *model = NULL;
    aether_features *fx = NULL;
    aether_features_config fc = aether_features_config_default();
    aether_recording *rec = NULL;
    aether_csi_frame f;
    float ring[WIN * 16], win[WIN * 16], logits[4];
    run_out r;
    char *line, *save = NULL;
    int mismatches = 0, labels_ok = 1;

    snprintf(path, sizeof path, "%s/meta.rvne", g_dir);
    CHECK(write_meta_blob(path, "labels=a,b,c,d\npool=mean\nwindow_frames=20\n"
                                "features=csi-v2\nfuture_key=ignored\n"));
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --node 1 --every %u --json", path,
             EXCERPT, EVERY);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.out &&
          strstr(r.out, "\"pool\":\"mean\",\"window_frames\":20,\"features\":\"csi-v2\""));

    blob = test_read_file(path, &len);
    CHECK(blob && aether_blob_parse(blob, len, &v) == AETHER_OK);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &model), AETHER_OK);
    fc.max_nodes = 256;
    fc.recipe = AETHER_FEATURES_V2;
    CHECK_STATUS(aether_features_create(&fc, &fx), AETHER_OK);
    CHECK_STATUS(aether_recording_open(EXCERPT, NULL, &rec), AETHER_OK);
    line = r.out ? strtok_r(r.out, "\n", &save) : NULL;
    while (model && fx && rec && aether_recording_next(rec, &f) == AETHER_OK) {
        float x[16];
        if (f.node_id != 1)
            continue;
        if (aether_features_compute(fx, &f, x, 16) != AETHER_OK)
            continue;
        memcpy(ring + head * 16, x, sizeof x);
        head = (head + 1) % WIN;
        count += count < WIN;
        if (++n_node % EVERY)
            continue;
        for (i = 0; i < count; ++i)
            memcpy(win + i * 16, ring + ((head + WIN - count + i) % WIN) * 16, sizeof x);
        CHECK_STATUS(ws_model_forward(model, win, count, AETHER_POOL_MEAN, logits, NULL),
                     AETHER_OK);
        /* the next decision line of the CLI */
        {
            cJSON *o = line ? cJSON_Parse(line) : NULL;
            const cJSON *lg = cJSON_GetObjectItemCaseSensitive(o, "logits");
            const cJSON *lb = cJSON_GetObjectItemCaseSensitive(o, "label");
            size_t c, best = 0;
            for (c = 1; c < 4; ++c)
                if (logits[c] > logits[best])
                    best = c;
            if (!cJSON_IsArray(lg) || cJSON_GetArraySize(lg) != 4)
                mismatches++;
            else
                for (c = 0; c < 4; ++c)
                    if ((float)cJSON_GetArrayItem(lg, (int)c)->valuedouble != logits[c])
                        mismatches++;
            if (!cJSON_IsString(lb) || lb->valuestring[0] != "abcd"[best] || lb->valuestring[1])
                labels_ok = 0;
            cJSON_Delete(o);
            n_dec++;
            line = strtok_r(NULL, "\n", &save);
        }
    }
    CHECK(n_dec == 334 / EVERY); /* node 1 has 334 frames in the excerpt */
    CHECK_EQ_INT(mismatches, 0);
    CHECK(labels_ok);
    CHECK(line && strstr(line, "\"type\":\"summary\""));
    aether_recording_close(rec);
    aether_features_destroy(fx);
    aether_model_destroy(model);
    free(blob);
    run_free(&r);

    /* --labels wins over the metadata; --pool last brings the sessions back */
    snprintf(args, sizeof args,
             "run --model '%s' --input '%s' --labels w,x,y,z --pool last --every 100", path,
             EXCERPT);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.out && strstr(r.out, "streaming session per node, pooling last; features csi-v2; "
                                 "labels from --labels"));
    CHECK(r.out && strstr(r.out, "tracks:") != NULL);
    CHECK(r.out && (strstr(r.out, " w ") || strstr(r.out, " x ") || strstr(r.out, " y ") ||
                    strstr(r.out, " z ")));
    run_free(&r);
    /* metadata labels of another count than the blob's classes: the blob
     * contradicts itself (AETHER_ERR_BLOB_METADATA), malformed */
    snprintf(path, sizeof path, "%s/meta3.rvne", g_dir);
    CHECK(write_meta_blob(path, "labels=a,b,c\n"));
    snprintf(args, sizeof args, "run --model '%s' --input '%s'", path, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 4);
    run_free(&r);
    /* a known key with a value this version cannot use */
    snprintf(path, sizeof path, "%s/metabad.rvne", g_dir);
    CHECK(write_meta_blob(path, "pool=max\n"));
    snprintf(args, sizeof args, "run --model '%s' --input '%s'", path, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 4);
    run_free(&r);
    /* without metadata: --pool mean needs --window-frames */
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --pool mean", g_blob, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    snprintf(args, sizeof args,
             "run --model '%s' --input '%s' --pool mean --window-frames 8 --every 5 --json",
             g_blob, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.out &&
          strstr(r.out, "\"pool\":\"mean\",\"window_frames\":8,\"features\":\"csi-v1\""));
    run_free(&r);
}

static void test_exit_statuses(void)
{
    REQUIRE_DATA();
    char args[4096], path[512];
    unsigned char *b;
    size_t len = 0;
    run_out r;

    /* 5: the blob is a model, but not one for these features */
    snprintf(path, sizeof path, "%s/dim4.rvne", g_dir);
    snprintf(args, sizeof args, "init-blob --input-dim 4 '%s' >/dev/null", path);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s'", path, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 5);
    CHECK(r.err_len > 0);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --input-dim 20", g_blob,
             AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 5);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --labels a,b,c", g_blob,
             AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 5);
    run_free(&r);
    /* --input-dim equal to the blob's is fine; a 20-input blob too */
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --input-dim 16 --every 1 --json",
             g_blob, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    run_free(&r);
    snprintf(path, sizeof path, "%s/dim20.rvne", g_dir);
    snprintf(args, sizeof args, "init-blob --input-dim 20 --classes 3 '%s' >/dev/null", path);
    r = run(args);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 1 --json", path,
             AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 0);
    {
        parsed p;
        parse_json_lines(r.out, 3, 1, &p);
        CHECK_EQ_INT(p.n_decisions, 3);
        CHECK_EQ_INT(p.bad_decisions, 0);
        parsed_free(&p);
    }
    run_free(&r);

    /* 4: a damaged blob (one payload byte flipped: CRC mismatch), a file
     * that is no recording */
    b = test_read_file(g_blob, &len);
    CHECK(b != NULL);
    if (b) {
        FILE *g;
        b[100] ^= 0x40;
        snprintf(path, sizeof path, "%s/bad.rvne", g_dir);
        g = fopen(path, "wb");
        if (g) {
            fwrite(b, 1, len, g);
            fclose(g);
        }
        free(b);
    }
    snprintf(args, sizeof args, "run --model '%s' --input '%s'", path, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 4);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s'", g_blob, g_blob);
    r = run(args);
    CHECK_EQ_INT(r.status, 4);
    run_free(&r);

    /* 3: unreadable files */
    snprintf(args, sizeof args, "run --model '%s/none.rvne' --input '%s'", g_dir, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 3);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s/none.jsonl'", g_blob, g_dir);
    r = run(args);
    CHECK_EQ_INT(r.status, 3);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --packets '%s/no/such/dir/p'",
             g_blob, AMP_SHORT, g_dir);
    r = run(args);
    CHECK_EQ_INT(r.status, 3);
    run_free(&r);

    /* 2: usage */
    r = run("run");
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 0", g_blob, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --every 5 --period 1", g_blob,
             AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --bogus", g_blob, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    snprintf(args, sizeof args, "run --model '%s' --input '%s' --node 256", g_blob, AMP_SHORT);
    r = run(args);
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    r = run("run --help");
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.out && strstr(r.out, "usage: aether run") != NULL);
    run_free(&r);
}

/* ---------------- setup ---------------- */

static int locate_cli(int argc, char **argv)
{
    const char *env = getenv("AETHER_CLI");
    const char *slash;
    if (env && *env) {
        snprintf(g_cli, sizeof g_cli, "%s", env);
    } else if (argc > 1) {
        snprintf(g_cli, sizeof g_cli, "%s", argv[1]);
    } else {
        slash = strrchr(argv[0], '/');
        if (slash)
            snprintf(g_cli, sizeof g_cli, "%.*s/../aether", (int)(slash - argv[0]), argv[0]);
        else
            snprintf(g_cli, sizeof g_cli, "../aether");
    }
    return access(g_cli, X_OK) == 0;
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_raw_2node_every_100,
                                          test_node_filter_and_packets,
                                          test_amplitude_files,
                                          test_every_npz,
                                          test_period,
                                          test_corrupted_copy,
                                          test_shipped_excerpt,
                                          test_exit_statuses,
                                          test_window_mode};
    static const char *const names[] = {"test_raw_2node_every_100",
                                        "test_node_filter_and_packets",
                                        "test_amplitude_files",
                                        "test_every_npz",
                                        "test_period",
                                        "test_corrupted_copy",
                                        "test_shipped_excerpt",
                                        "test_exit_statuses",
                                        "test_window_mode"};
    char cmd[8192];
    int rc, st;
    if (!locate_cli(argc, argv)) {
        fprintf(stderr, "test_run_cli: no aether binary at '%s' (set AETHER_CLI)\n", g_cli);
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/aether-run-test-%ld", (long)getpid());
    if (mkdir(g_dir, 0700) != 0) {
        fprintf(stderr, "test_run_cli: cannot create %s\n", g_dir);
        return 1;
    }
    snprintf(g_blob, sizeof g_blob, "%s/demo.rvne", g_dir);
    snprintf(cmd, sizeof cmd, "'%s' init-blob '%s' >/dev/null", g_cli, g_blob);
    st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "test_run_cli: '%s' init-blob failed\n", g_cli);
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_run_cli: could not remove %s\n", g_dir);
    return rc;
}
