/* .csi.jsonl reader (docs/FORMATS.md section 7): one JSON object a line, parsed
 * with cJSON. Lines of any length are read into a buffer that grows up to
 * max_line; longer lines are consumed and counted as malformed. */
#include "rec_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aether/recording.h"

typedef enum line_result { LINE_FRAME, LINE_SKIP, LINE_BAD } line_result;

typedef struct line_outcome {
    aether_csi_skip skip;
    const char *reason;
} line_outcome;

/* Read one line (without '\n') into r->line. Returns 0 at end of data, else 1;
 * *len is its length, *too_long set when it exceeded max_line. */
static int read_line(aether_recording *r, size_t *len, int *too_long, aether_status *io)
{
    size_t n = 0;
    int c, any = 0;
    *too_long = 0;
    *io = AETHER_OK;
    while ((c = aether_rec_src_getc_(&r->src)) != -1) {
        any = 1;
        if (c == '\n')
            break;
        if (*too_long)
            continue;
        if (n >= r->opt.max_line) {
            *too_long = 1;
            continue;
        }
        if (n + 1 >= r->line_cap) {
            size_t cap = r->line_cap ? r->line_cap * 2 : 4096;
            char *p;
            if (cap > r->opt.max_line + 1)
                cap = r->opt.max_line + 1;
            p = (char *)realloc(r->line, cap);
            if (!p) {
                *io = AETHER_ERR_NO_MEM;
                return 0;
            }
            r->line = p;
            r->line_cap = cap;
        }
        r->line[n++] = (char)c;
    }
    if (r->src.io_error)
        *io = AETHER_ERR_IO;
    if (!any)
        return 0;
    if (n > 0 && r->line[n - 1] == '\r')
        n--;
    *len = n;
    return 1;
}

static line_result bad(line_outcome *o, const char *why)
{
    o->reason = why;
    return LINE_BAD;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "0x" + 1..8 hex digits. */
static int parse_magic(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    size_t i, n;
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return 0;
    n = strlen(s + 2);
    if (n < 1 || n > 8)
        return 0;
    for (i = 0; i < n; ++i) {
        int h = hex_value((unsigned char)s[2 + i]);
        if (h < 0)
            return 0;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return 1;
}

/* A JSON number that is an integer in [lo, hi]. */
static int get_int(const cJSON *obj, const char *key, double lo, double hi, long *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    double v;
    if (!cJSON_IsNumber(it))
        return 0;
    v = it->valuedouble;
    if (!(v >= lo && v <= hi) || floor(v) != v)
        return 0;
    *out = (long)v;
    return 1;
}

static int get_time(const cJSON *obj, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return 0;
    *out = it->valuedouble;
    return 1;
}

static line_result parse_raw(aether_recording *r, const cJSON *obj, aether_csi_frame *f,
                             line_outcome *o)
{
    const cJSON *hex = cJSON_GetObjectItemCaseSensitive(obj, "iq_hex");
    long sc, node, size;
    size_t len, i;
    double t;
    if (!get_time(obj, &t))
        return bad(o, "raw_csi: missing or non-numeric timestamp");
    if (!get_int(obj, "node_id", 0, 255, &node))
        return bad(o, "raw_csi: node_id missing or not an integer 0..255");
    if (!get_int(obj, "subcarriers", 1, AETHER_CSI_MAX_PAIRS, &sc))
        return bad(o, "raw_csi: subcarriers missing or not an integer 1..1024");
    if (!cJSON_IsString(hex) || !hex->valuestring)
        return bad(o, "raw_csi: iq_hex missing or not a string");
    len = strlen(hex->valuestring);
    if (len % 2 != 0)
        return bad(o, "raw_csi: iq_hex has odd length");
    if (len != 4u * (size_t)sc)
        return bad(o, "raw_csi: iq_hex length != 4 x subcarriers");
    if (cJSON_GetObjectItemCaseSensitive(obj, "size")) {
        if (!get_int(obj, "size", 0, 1e9, &size) || (size_t)size != 20u + len / 2u)
            return bad(o, "raw_csi: size != 20 + bytes of iq_hex");
    }
    for (i = 0; i < len; i += 2) {
        int hi = hex_value((unsigned char)hex->valuestring[i]);
        int lo = hex_value((unsigned char)hex->valuestring[i + 1]);
        int b;
        if (hi < 0 || lo < 0)
            return bad(o, "raw_csi: iq_hex has a non-hex character");
        b = hi * 16 + lo;
        r->iq[i / 2] = (int8_t)(b >= 128 ? b - 256 : b);
    }
    memset(f, 0, sizeof *f);
    f->timestamp = t;
    f->node_id = (uint32_t)node;
    f->kind = AETHER_CSI_RAW_IQ;
    f->n_pairs = (size_t)sc;
    f->iq = r->iq;
    f->flags = AETHER_CSI_HAS_TIME | AETHER_CSI_HAS_NODE;
    return LINE_FRAME;
}

static line_result parse_amplitude(aether_recording *r, const cJSON *obj, const cJSON *arr,
                                   aether_csi_frame *f, line_outcome *o)
{
    const cJSON *it;
    size_t n = 0;
    long node = 0;
    int has_node = 0;
    double t;
    if (!get_time(obj, &t))
        return bad(o, "amplitude: missing or non-numeric timestamp");
    if (cJSON_GetObjectItemCaseSensitive(obj, "node_id")) {
        if (!get_int(obj, "node_id", 0, 255, &node))
            return bad(o, "amplitude: node_id not an integer 0..255");
        has_node = 1;
    }
    cJSON_ArrayForEach(it, arr)
    {
        double v;
        if (n >= AETHER_CSI_MAX_PAIRS)
            return bad(o, "amplitude: more than 1024 subcarriers");
        if (!cJSON_IsNumber(it))
            return bad(o, "amplitude: non-numeric subcarrier value");
        v = it->valuedouble;
        if (!isfinite(v) || v < 0.0 || v > 3.0e38)
            return bad(o, "amplitude: negative or non-finite amplitude");
        r->amp[n++] = (float)v;
    }
    if (n == 0)
        return bad(o, "amplitude: empty subcarriers array");
    memset(f, 0, sizeof *f);
    f->timestamp = t;
    f->node_id = (uint32_t)node;
    f->kind = AETHER_CSI_AMPLITUDE;
    f->n_pairs = n;
    f->amp = r->amp;
    f->flags = AETHER_CSI_HAS_TIME | (has_node ? AETHER_CSI_HAS_NODE : 0u);
    return LINE_FRAME;
}

static int type_to_magic(const char *type, uint32_t *magic)
{
    static const struct {
        const char *name;
        uint32_t magic;
    } k[] = {{"raw_csi", AETHER_ADR018_MAGIC},
             {"vitals", AETHER_MAGIC_VITALS},
             {"feature", AETHER_MAGIC_FEATURE},
             {"fused_vitals", AETHER_MAGIC_FUSED_VITALS},
             {"compressed", AETHER_MAGIC_COMPRESSED},
             {"feature_state", AETHER_MAGIC_FEATURE_STATE},
             {"classification", AETHER_MAGIC_CLASSIFICATION}};
    size_t i;
    for (i = 0; i < sizeof k / sizeof k[0]; ++i)
        if (strcmp(type, k[i].name) == 0) {
            *magic = k[i].magic;
            return 1;
        }
    return 0;
}

/* Dispatch on magic/type (docs/FORMATS.md section 7.1), else on a subcarriers array (7.2). */
static line_result classify(aether_recording *r, const cJSON *obj, aether_csi_frame *f,
                            line_outcome *o)
{
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(obj, "magic");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(obj, "type");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(obj, "subcarriers");
    uint32_t magic = 0, tmagic = 0;
    int has_magic = 0, has_tmagic = 0;
    if (jm) {
        if (!cJSON_IsString(jm) || !jm->valuestring || !parse_magic(jm->valuestring, &magic))
            return bad(o, "magic is not a \"0x\" hex string");
        has_magic = 1;
    }
    if (jt) {
        if (!cJSON_IsString(jt) || !jt->valuestring)
            return bad(o, "type is not a string");
        has_tmagic = type_to_magic(jt->valuestring, &tmagic);
        if (!has_tmagic && !has_magic) {
            o->skip = AETHER_SKIP_OTHER;
            return LINE_SKIP;
        }
    }
    if (has_magic && has_tmagic && magic != tmagic)
        return bad(o, "type and magic disagree");
    if (!has_magic && has_tmagic) {
        magic = tmagic;
        has_magic = 1;
    }
    if (has_magic) {
        if (magic == AETHER_ADR018_MAGIC)
            return parse_raw(r, obj, f, o);
        if (magic >= AETHER_MAGIC_VITALS && magic <= AETHER_MAGIC_CLASSIFICATION)
            o->skip = (aether_csi_skip)(AETHER_SKIP_VITALS + (magic - AETHER_MAGIC_VITALS));
        else
            o->skip = AETHER_SKIP_OTHER;
        return LINE_SKIP;
    }
    if (sc) {
        if (!cJSON_IsArray(sc))
            return bad(o, "subcarriers is neither a raw_csi count nor an array");
        return parse_amplitude(r, obj, sc, f, o);
    }
    o->skip = AETHER_SKIP_OTHER;
    return LINE_SKIP;
}

static line_result parse_line(aether_recording *r, size_t len, uint64_t line_no,
                              aether_csi_frame *f, line_outcome *o)
{
    const char *text = r->line;
    const char *end = NULL;
    size_t i = 0;
    cJSON *obj;
    line_result res;
    if (line_no == 1 && len >= 3 && (unsigned char)text[0] == 0xEF &&
        (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
        i = 3;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
        i++;
    if (i == len) {
        o->skip = AETHER_SKIP_BLANK;
        return LINE_SKIP;
    }
    if (memchr(text + i, '\0', len - i))
        return bad(o, "NUL byte in line");
    obj = cJSON_ParseWithLengthOpts(text + i, len - i, &end, 0);
    if (!obj)
        return bad(o, "invalid JSON");
    /* Anything but blanks after the object means a damaged line. */
    while (end && end < text + len && (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (!end || end != text + len) {
        cJSON_Delete(obj);
        return bad(o, "trailing bytes after the JSON object");
    }
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return bad(o, "line is not a JSON object");
    }
    res = classify(r, obj, f, o);
    cJSON_Delete(obj);
    return res;
}

aether_status aether_rec_jsonl_next_(aether_recording *r, aether_csi_frame *f)
{
    for (;;) {
        size_t len = 0;
        int too_long;
        aether_status io;
        uint64_t offset = r->src.pos;
        uint64_t line_no;
        line_outcome o;
        line_result res;
        if (!read_line(r, &len, &too_long, &io))
            return io != AETHER_OK ? io : AETHER_ERR_END;
        line_no = ++r->stats.records;
        if (too_long) {
            r->stats.too_long++;
            aether_rec_error_(r, line_no, offset, AETHER_ERR_PARSE, "line longer than max_line");
            continue;
        }
        o.skip = AETHER_SKIP_OTHER;
        o.reason = "";
        res = parse_line(r, len, line_no, f, &o);
        if (res == LINE_FRAME) {
            f->record = line_no;
            return AETHER_OK;
        }
        if (res == LINE_SKIP)
            r->stats.skipped[o.skip]++;
        else
            aether_rec_error_(r, line_no, offset, AETHER_ERR_PARSE, o.reason);
        if (io != AETHER_OK)
            return io;
    }
}
