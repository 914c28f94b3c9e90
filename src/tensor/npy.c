/*
 * NumPy .npy reader and writer.
 *
 * The reader treats its input as hostile (it is fuzzed): every read is
 * bounds-checked against the buffer, every size product is overflow-checked,
 * and nothing is allocated before the header has been fully validated.
 *
 * Accepted header dictionary: exactly the keys 'descr', 'fortran_order' and
 * 'shape' in any order, each once, as Python literals (single- or
 * double-quoted strings without escapes, True/False, a tuple of decimal
 * integers with the Python rule that a 1-tuple needs its comma), arbitrary
 * whitespace, an optional trailing comma. A structured (list) descr parses
 * but is reported as an unsupported dtype. More than AETHER_NPY_MAX_DIMS
 * dimensions is a header error.
 *
 * dtype spellings: '<f4' '<f2' '<i4' '<u2' '|u1' '|i1'; the one-byte types
 * also with '<' (byte order is moot there), and bool 'b1' read as u8 (it is
 * written back as '|u1'). A '>' prefix on a known type is
 * AETHER_ERR_NPY_ENDIAN, anything else AETHER_ERR_NPY_DTYPE.
 */
#include "aether/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC_LEN 6
static const unsigned char k_magic[NPY_MAGIC_LEN] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

size_t aether_dtype_size(aether_dtype dtype)
{
    switch (dtype) {
    case AETHER_DTYPE_F32:
    case AETHER_DTYPE_I32:
        return 4;
    case AETHER_DTYPE_F16:
    case AETHER_DTYPE_U16:
        return 2;
    case AETHER_DTYPE_U8:
    case AETHER_DTYPE_I8:
        return 1;
    }
    return 0;
}

const char *aether_dtype_descr(aether_dtype dtype)
{
    switch (dtype) {
    case AETHER_DTYPE_F32:
        return "<f4";
    case AETHER_DTYPE_F16:
        return "<f2";
    case AETHER_DTYPE_I32:
        return "<i4";
    case AETHER_DTYPE_U16:
        return "<u2";
    case AETHER_DTYPE_U8:
        return "|u1";
    case AETHER_DTYPE_I8:
        return "|i1";
    }
    return "";
}

/* ---------------- header dictionary ---------------- */

typedef struct {
    const char *p;
    const char *end;
} cursor;

/* Parsed header before semantic checks. */
typedef struct {
    const char *descr; /* points into the header, not terminated */
    size_t descr_len;
    int descr_is_string; /* 0: structured (list) descr */
    int fortran;
    size_t ndim;
    size_t shape[AETHER_NPY_MAX_DIMS];
    int dim_overflow; /* a single dimension does not fit size_t */
} npy_header;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int accept_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes; s and n receive its contents. */
static int parse_string(cursor *c, const char **s, size_t *n)
{
    char q;
    const char *start;
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    q = *c->p++;
    start = c->p;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\n')
            return 0;
        c->p++;
    }
    if (c->p >= c->end)
        return 0;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 1;
}

/* Skip a bracketed Python literal (structured descr) without interpreting
 * it; iterative, so hostile nesting cannot exhaust the stack. */
static int skip_bracketed(cursor *c)
{
    size_t depth = 0;
    const char *s;
    size_t n;
    skip_ws(c);
    if (c->p >= c->end || *c->p != '[')
        return 0;
    while (c->p < c->end) {
        char ch = *c->p;
        if (ch == '\'' || ch == '"') {
            if (!parse_string(c, &s, &n))
                return 0;
            continue;
        }
        if (ch == '[' || ch == '(')
            depth++;
        else if (ch == ']' || ch == ')') {
            if (depth == 0)
                return 0;
            if (--depth == 0) {
                c->p++;
                return 1;
            }
        }
        c->p++;
    }
    return 0;
}

/* Non-negative decimal integer (Python 2 'L' suffix tolerated). */
static int parse_dim(cursor *c, size_t *out, int *overflow)
{
    size_t v = 0;
    int any = 0;
    skip_ws(c);
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t d = (size_t)(*c->p - '0');
        if (v > (SIZE_MAX - d) / 10)
            *overflow = 1;
        else
            v = v * 10 + d;
        any = 1;
        c->p++;
    }
    if (!any)
        return 0;
    if (c->p < c->end && *c->p == 'L')
        c->p++;
    *out = v;
    return 1;
}

static int parse_shape(cursor *c, npy_header *h)
{
    size_t n = 0;
    if (!accept(c, '('))
        return 0;
    if (accept(c, ')')) {
        h->ndim = 0;
        return 1;
    }
    for (;;) {
        size_t d;
        if (n == AETHER_NPY_MAX_DIMS)
            return 0;
        if (!parse_dim(c, &d, &h->dim_overflow))
            return 0;
        h->shape[n++] = d;
        if (accept(c, ')')) {
            if (n == 1)
                return 0; /* "(5)" is an int, not a tuple */
            break;
        }
        if (!accept(c, ','))
            return 0;
        if (accept(c, ')'))
            break;
    }
    h->ndim = n;
    return 1;
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static aether_status parse_dict(const char *text, size_t len, npy_header *h)
{
    cursor c;
    unsigned seen = 0;
    c.p = text;
    c.end = text + len;
    if (!accept(&c, '{'))
        return AETHER_ERR_NPY_HEADER;
    for (;;) {
        const char *key;
        size_t klen;
        unsigned bit;
        if (accept(&c, '}'))
            break;
        if (!parse_string(&c, &key, &klen) || !accept(&c, ':'))
            return AETHER_ERR_NPY_HEADER;
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            bit = KEY_DESCR;
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[') {
                if (!skip_bracketed(&c))
                    return AETHER_ERR_NPY_HEADER;
                h->descr_is_string = 0;
            } else {
                if (!parse_string(&c, &h->descr, &h->descr_len))
                    return AETHER_ERR_NPY_HEADER;
                h->descr_is_string = 1;
            }
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            bit = KEY_FORTRAN;
            if (accept_word(&c, "True"))
                h->fortran = 1;
            else if (accept_word(&c, "False"))
                h->fortran = 0;
            else
                return AETHER_ERR_NPY_HEADER;
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            bit = KEY_SHAPE;
            if (!parse_shape(&c, h))
                return AETHER_ERR_NPY_HEADER;
        } else {
            return AETHER_ERR_NPY_HEADER;
        }
        if (seen & bit)
            return AETHER_ERR_NPY_HEADER;
        seen |= bit;
        if (accept(&c, '}'))
            break;
        if (!accept(&c, ','))
            return AETHER_ERR_NPY_HEADER;
    }
    skip_ws(&c);
    if (c.p != c.end || seen != (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE))
        return AETHER_ERR_NPY_HEADER;
    return AETHER_OK;
}

static aether_status parse_descr(const npy_header *h, aether_dtype *dt)
{
    static const struct {
        const char *code;
        aether_dtype dtype;
        int multibyte;
    } k_types[] = {
        {"f4", AETHER_DTYPE_F32, 1}, {"f2", AETHER_DTYPE_F16, 1}, {"i4", AETHER_DTYPE_I32, 1},
        {"u2", AETHER_DTYPE_U16, 1}, {"u1", AETHER_DTYPE_U8, 0},  {"i1", AETHER_DTYPE_I8, 0},
        {"b1", AETHER_DTYPE_U8, 0},
    };
    size_t i;
    char order;
    if (!h->descr_is_string || h->descr_len != 3)
        return AETHER_ERR_NPY_DTYPE;
    order = h->descr[0];
    for (i = 0; i < sizeof k_types / sizeof k_types[0]; ++i) {
        if (memcmp(h->descr + 1, k_types[i].code, 2) != 0)
            continue;
        if (order == '>')
            return AETHER_ERR_NPY_ENDIAN;
        /* '|' ("not applicable") is only meaningful for one-byte types. */
        if (order == '<' || (order == '|' && !k_types[i].multibyte)) {
            *dt = k_types[i].dtype;
            return AETHER_OK;
        }
        return AETHER_ERR_NPY_DTYPE;
    }
    return AETHER_ERR_NPY_DTYPE;
}

/* ---------------- reader ---------------- */

static void decode_data(aether_dtype dt, const unsigned char *src, size_t count, void *dst)
{
    size_t i;
    switch (dt) {
    case AETHER_DTYPE_F32: {
        float *d = (float *)dst;
        for (i = 0; i < count; ++i)
            d[i] = aether_load_lef32(src + 4 * i);
        break;
    }
    case AETHER_DTYPE_I32: {
        int32_t *d = (int32_t *)dst;
        for (i = 0; i < count; ++i) {
            uint32_t u = aether_load_le32(src + 4 * i);
            memcpy(&d[i], &u, sizeof u); /* two's complement by definition */
        }
        break;
    }
    case AETHER_DTYPE_F16:
    case AETHER_DTYPE_U16: {
        uint16_t *d = (uint16_t *)dst;
        for (i = 0; i < count; ++i)
            d[i] = aether_load_le16(src + 2 * i);
        break;
    }
    case AETHER_DTYPE_U8:
    case AETHER_DTYPE_I8:
        if (count)
            memcpy(dst, src, count);
        break;
    }
}

aether_status aether_npy_parse(const void *buf, size_t len, aether_npy *out)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t pre, hlen, data_off, i, count, bytes;
    npy_header h;
    aether_dtype dt = AETHER_DTYPE_F32;
    aether_status s;
    void *data;

    if (!out)
        return AETHER_ERR_NULL_ARG;
    memset(out, 0, sizeof *out);
    if (!buf && len)
        return AETHER_ERR_NULL_ARG;
    if (len == 0)
        return AETHER_ERR_NPY_MAGIC;
    if (memcmp(b, k_magic, len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN) != 0)
        return AETHER_ERR_NPY_MAGIC;
    if (len < NPY_MAGIC_LEN + 2)
        return AETHER_ERR_NPY_TRUNCATED;
    if (b[7] != 0 || b[6] < 1 || b[6] > 3)
        return AETHER_ERR_NPY_VERSION;
    pre = b[6] == 1 ? 10 : 12;
    if (len < pre)
        return AETHER_ERR_NPY_TRUNCATED;
    hlen = b[6] == 1 ? (size_t)aether_load_le16(b + 8) : (size_t)aether_load_le32(b + 8);
    /* len >= pre here, so comparing against the remainder cannot wrap even
     * where size_t is 32 bits and hlen is a u32 from the file. */
    if (hlen > len - pre)
        return AETHER_ERR_NPY_TRUNCATED;
    data_off = pre + hlen;

    memset(&h, 0, sizeof h);
    /* The dictionary is pure ASCII in every version (3.0 only permits UTF-8
     * in field names of structured dtypes, which are not supported). */
    for (i = pre; i < data_off; ++i)
        if (b[i] == 0 || b[i] >= 0x80)
            return AETHER_ERR_NPY_HEADER;
    s = parse_dict((const char *)b + pre, hlen, &h);
    if (s != AETHER_OK)
        return s;
    s = parse_descr(&h, &dt);
    if (s != AETHER_OK)
        return s;
    if (h.fortran)
        return AETHER_ERR_NPY_FORTRAN;
    if (h.dim_overflow)
        return AETHER_ERR_OVERFLOW;
    count = 1;
    for (i = 0; i < h.ndim; ++i)
        if (aether_size_mul(count, h.shape[i], &count) != AETHER_OK)
            return AETHER_ERR_OVERFLOW;
    if (aether_size_mul(count, aether_dtype_size(dt), &bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (len - data_off < bytes)
        return AETHER_ERR_NPY_TRUNCATED;
    if (len - data_off > bytes)
        return AETHER_ERR_NPY_SIZE;

    data = malloc(bytes ? bytes : 1);
    if (!data)
        return AETHER_ERR_NO_MEM;
    decode_data(dt, b + data_off, count, data);
    out->dtype = dt;
    out->ndim = h.ndim;
    for (i = 0; i < h.ndim; ++i)
        out->shape[i] = h.shape[i];
    out->count = count;
    out->data = data;
    return AETHER_OK;
}

/* Whole file into a malloc'd buffer; grows geometrically so no size query
 * (ftell is limited to long) is needed. */
static aether_status read_file(const char *path, unsigned char **out, size_t *out_len)
{
    FILE *f;
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    aether_status s = AETHER_OK;

    f = fopen(path, "rb");
    if (!f)
        return AETHER_ERR_IO;
    for (;;) {
        size_t got;
        if (len == cap) {
            size_t ncap;
            unsigned char *nb;
            if (cap == 0)
                ncap = 65536;
            else if (aether_size_mul(cap, 2, &ncap) != AETHER_OK) {
                s = AETHER_ERR_OVERFLOW;
                break;
            }
            nb = (unsigned char *)realloc(buf, ncap);
            if (!nb) {
                s = AETHER_ERR_NO_MEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                s = AETHER_ERR_IO;
            break;
        }
    }
    fclose(f);
    if (s != AETHER_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    *out_len = len;
    return AETHER_OK;
}

aether_status aether_npy_load(const char *path, aether_npy *out)
{
    unsigned char *buf;
    size_t len;
    aether_status s;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    memset(out, 0, sizeof *out);
    if (!path)
        return AETHER_ERR_NULL_ARG;
    s = read_file(path, &buf, &len);
    if (s != AETHER_OK)
        return s;
    s = aether_npy_parse(buf, len, out);
    free(buf);
    return s;
}

void aether_npy_free(aether_npy *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---------------- writer ---------------- */

static size_t put_str(char *dst, size_t pos, const char *s)
{
    size_t n = strlen(s);
    memcpy(dst + pos, s, n);
    return pos + n;
}

static size_t put_size(char *dst, size_t pos, size_t v)
{
    char tmp[3 * sizeof(size_t) + 1];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        dst[pos++] = tmp[--n];
    return pos;
}

/* Worst case: fixed text + AETHER_NPY_MAX_DIMS dims of 20 digits and ", ". */
#define NPY_DICT_MAX 256

static size_t format_dict(char *dst, aether_dtype dtype, size_t ndim, const size_t *shape)
{
    size_t pos = 0, i;
    pos = put_str(dst, pos, "{'descr': '");
    pos = put_str(dst, pos, aether_dtype_descr(dtype));
    pos = put_str(dst, pos, "', 'fortran_order': False, 'shape': (");
    for (i = 0; i < ndim; ++i) {
        if (i)
            pos = put_str(dst, pos, ", ");
        pos = put_size(dst, pos, shape[i]);
    }
    if (ndim == 1)
        pos = put_str(dst, pos, ",");
    pos = put_str(dst, pos, "), }");
    return pos;
}

static void encode_data(aether_dtype dt, const void *src, size_t count, unsigned char *dst)
{
    size_t i;
    switch (dt) {
    case AETHER_DTYPE_F32: {
        const float *s = (const float *)src;
        for (i = 0; i < count; ++i)
            aether_store_lef32(dst + 4 * i, s[i]);
        break;
    }
    case AETHER_DTYPE_I32: {
        const int32_t *s = (const int32_t *)src;
        for (i = 0; i < count; ++i) {
            uint32_t u;
            memcpy(&u, &s[i], sizeof u);
            aether_store_le32(dst + 4 * i, u);
        }
        break;
    }
    case AETHER_DTYPE_F16:
    case AETHER_DTYPE_U16: {
        const uint16_t *s = (const uint16_t *)src;
        for (i = 0; i < count; ++i)
            aether_store_le16(dst + 2 * i, s[i]);
        break;
    }
    case AETHER_DTYPE_U8:
    case AETHER_DTYPE_I8:
        if (count)
            memcpy(dst, src, count);
        break;
    }
}

aether_status aether_npy_encode(aether_dtype dtype, size_t ndim, const size_t *shape,
                                const void *data, unsigned char **out, size_t *out_len)
{
    char dict[NPY_DICT_MAX];
    size_t dict_len, pre, pad, hlen, count = 1, bytes, total, i;
    unsigned char *buf;

    if (!out || !out_len)
        return AETHER_ERR_NULL_ARG;
    if (aether_dtype_size(dtype) == 0 || ndim > AETHER_NPY_MAX_DIMS)
        return AETHER_ERR_INVALID_ARG;
    if (!shape && ndim)
        return AETHER_ERR_NULL_ARG;
    for (i = 0; i < ndim; ++i)
        if (aether_size_mul(count, shape[i], &count) != AETHER_OK)
            return AETHER_ERR_OVERFLOW;
    if (aether_size_mul(count, aether_dtype_size(dtype), &bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (!data && count)
        return AETHER_ERR_NULL_ARG;

    dict_len = format_dict(dict, dtype, ndim, shape);
    /* NumPy's layout: 1..64 spaces and a newline so the data starts on a
     * 64-byte boundary; version 2.0 (u32 length) only when the header does
     * not fit a u16, which the bounded dictionary above never reaches. */
    pre = 10;
    pad = 64 - (pre + dict_len + 1) % 64;
    hlen = dict_len + pad + 1;
    if (hlen > 0xFFFFu) {
        pre = 12;
        pad = 64 - (pre + dict_len + 1) % 64;
        hlen = dict_len + pad + 1;
    }
    if (aether_size_add(pre + hlen, bytes, &total) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    buf = (unsigned char *)malloc(total);
    if (!buf)
        return AETHER_ERR_NO_MEM;
    memcpy(buf, k_magic, NPY_MAGIC_LEN);
    buf[6] = pre == 10 ? 1 : 2;
    buf[7] = 0;
    if (pre == 10)
        aether_store_le16(buf + 8, (uint16_t)hlen);
    else
        aether_store_le32(buf + 8, (uint32_t)hlen);
    memcpy(buf + pre, dict, dict_len);
    memset(buf + pre + dict_len, ' ', pad);
    buf[pre + hlen - 1] = '\n';
    encode_data(dtype, data, count, buf + pre + hlen);
    *out = buf;
    *out_len = total;
    return AETHER_OK;
}

aether_status aether_npy_save(const char *path, aether_dtype dtype, size_t ndim,
                              const size_t *shape, const void *data)
{
    unsigned char *buf;
    size_t len;
    FILE *f;
    aether_status s;
    int bad;
    if (!path)
        return AETHER_ERR_NULL_ARG;
    s = aether_npy_encode(dtype, ndim, shape, data, &buf, &len);
    if (s != AETHER_OK)
        return s;
    f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return AETHER_ERR_IO;
    }
    bad = fwrite(buf, 1, len, f) != len;
    bad |= fclose(f) != 0;
    free(buf);
    return bad ? AETHER_ERR_IO : AETHER_OK;
}

aether_status aether_npy_load_tensor(const char *path, aether_tensor *out)
{
    aether_npy a;
    aether_status s;
    if (!out || !path)
        return AETHER_ERR_NULL_ARG;
    s = aether_npy_load(path, &a);
    if (s != AETHER_OK)
        return s;
    if (a.dtype != AETHER_DTYPE_F32 || a.ndim != 3) {
        aether_npy_free(&a);
        return AETHER_ERR_SHAPE_MISMATCH;
    }
    out->data = (float *)a.data;
    out->seq = a.shape[0];
    out->heads = a.shape[1];
    out->dim = a.shape[2];
    out->owned_ = a.data;
    return AETHER_OK;
}

aether_status aether_npy_save_tensor(const char *path, const aether_tensor *t)
{
    size_t shape[3], n;
    if (!path || !t)
        return AETHER_ERR_NULL_ARG;
    if (aether_tensor_numel(t->seq, t->heads, t->dim, &n) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    shape[0] = t->seq;
    shape[1] = t->heads;
    shape[2] = t->dim;
    return aether_npy_save(path, AETHER_DTYPE_F32, 3, shape, t->data);
}
