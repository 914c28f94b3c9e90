/* `aether init-blob` (the deterministic demo blob) and `aether inspect`
 * (both validity levels of an RVNE blob). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/quant.h"
#include "cli_util.h"
#include "commands.h"
#include "model_load.h"
#include "model_meta.h"

/* ---------- init-blob ---------- */

static void init_usage(FILE *f)
{
    fprintf(f,
            "usage: aether init-blob [options] OUT.rvne\n"
            "  Writes the deterministic demo blob (docs/FORMATS.md 2.2: xorshift64*, values in\n"
            "  [-0.1, 0.1]). With no options the output is byte-identical to the reference\n"
            "  init_random_blob example (41,244 bytes, CRC 0xDC807956).\n"
            "options:\n"
            "  --seed S          PRNG seed, decimal or 0x-hex, non-zero (0xC5110007DEADBEEF)\n"
            "  --dtype f32|f16   payload element type (f32)\n"
            "  --input-dim N     per-frame features (16)\n"
            "  --q-heads N       query heads (4)\n"
            "  --kv-heads N      key/value heads, divides q-heads (1)\n"
            "  --head-dim N      per-head width (32)\n"
            "  --layers N        attention layers (2)\n"
            "  --classes N       classifier outputs, >= 2 (4)\n"
            "  --input-norm      set flag bit 1 and append mean / inv_std arrays\n");
    cli_print_exit_statuses(f);
}

enum {
    OPT_INPUT_NORM = 1,
    OPT_SEED,
    OPT_DTYPE,
    OPT_INPUT_DIM,
    OPT_Q_HEADS,
    OPT_KV_HEADS,
    OPT_HEAD_DIM,
    OPT_LAYERS,
    OPT_CLASSES
};

static const struct option k_init_options[] = {
    {"input-norm", no_argument, NULL, OPT_INPUT_NORM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"input-dim", required_argument, NULL, OPT_INPUT_DIM},
    {"q-heads", required_argument, NULL, OPT_Q_HEADS},
    {"kv-heads", required_argument, NULL, OPT_KV_HEADS},
    {"head-dim", required_argument, NULL, OPT_HEAD_DIM},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"classes", required_argument, NULL, OPT_CLASSES},
    {NULL, 0, NULL, 0},
};

int cmd_init_blob(int argc, char **argv)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    const char *out = NULL;
    unsigned char *buf;
    size_t len = 0, n = 0;
    aether_status st;
    cli_command c;
    char **pos;
    int err, opt, rc = 0, npos;

    cli_command_init(&c, "init-blob", k_init_options, init_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        unsigned long long v = 0;
        uint16_t *dim = NULL;
        switch (opt) {
        case CLI_STOP:
            return rc;
        case OPT_INPUT_NORM:
            p.input_norm = 1;
            continue;
        case OPT_SEED:
            if (!cli_parse_ull(c.optarg, 0, ~0ull, &v) || v == 0)
                return cli_usage_error(&c, "--seed must be a non-zero 64-bit integer");
            p.seed = v;
            continue;
        case OPT_DTYPE:
            if (!strcmp(c.optarg, "f32"))
                p.f16 = 0;
            else if (!strcmp(c.optarg, "f16"))
                p.f16 = 1;
            else
                return cli_usage_error(&c, "--dtype is f32 or f16");
            continue;
        case OPT_INPUT_DIM:
            dim = &p.input_dim;
            break;
        case OPT_Q_HEADS:
            dim = &p.n_q_heads;
            break;
        case OPT_KV_HEADS:
            dim = &p.n_kv_heads;
            break;
        case OPT_HEAD_DIM:
            dim = &p.head_dim;
            break;
        case OPT_LAYERS:
            dim = &p.n_layers;
            break;
        case OPT_CLASSES:
            dim = &p.n_classes;
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
        if (!cli_parse_ull(c.optarg, 0, 0xFFFFu, &v))
            return cli_usage_error(&c, "--%s must be an integer in [0, 65535]",
                                   cli_option_name(&c, opt));
        *dim = (uint16_t)v;
    }
    pos = cli_positionals(&c, 1, 1, &npos, &rc);
    if (!pos)
        return rc;
    out = pos[0];
    st = aether_blob_demo_size(&p, &len);
    if (st != AETHER_OK) {
        return cli_usage_error(&c, "invalid shape: %s (%s)", aether_blob_reference_message(st),
                               aether_status_name(st));
    }
    buf = (unsigned char *)malloc(len);
    if (!buf) {
        fprintf(stderr, "aether init-blob: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    st = aether_blob_demo_write(&p, buf, len, &n);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether init-blob: %s\n", aether_strerror(st));
        free(buf);
        return CLI_EXIT_FAILED;
    }
    if ((err = cli_write_file(out, buf, n)) != 0) {
        fprintf(stderr, "aether init-blob: cannot write %s (%s)\n", out, strerror(err));
        free(buf);
        return CLI_EXIT_IO;
    }
    printf("wrote %s: %lu bytes, CRC 0x%08lX\n", out, (unsigned long)n,
           (unsigned long)aether_load_le32(buf + n - 4));
    free(buf);
    return 0;
}

/* ---------- inspect ---------- */

static void inspect_usage(FILE *f)
{
    fprintf(f, "usage: aether inspect BLOB [--json]\n"
               "  Reports the header, shapes, parameter count, extension bits, CRC, and\n"
               "  validity at the format level (the reference parser) and at the model level\n"
               "  (exact layout, known extensions, finite weights, metadata values that the\n"
               "  loaders accept). An RVNQ (quantized) blob gets its header, shapes, its one\n"
               "  strict validation and the same metadata check.\n"
               "  Exit status 0 when valid at both levels, 4 when rejected at either.\n");
    cli_print_exit_statuses(f);
}

typedef struct report {
    const char *path;
    size_t size;
    aether_status format, model, peek;
    aether_blob_header h;
    uint32_t magic;
    int have_crc;
    uint32_t crc_stored, crc_computed;
    int have_layout;
    aether_blob_layout layout;
    aether_blob_metadata meta; /* when the model level is valid */
    size_t meta_bytes;
} report;

static void print_json(const report *r)
{
    printf("{\"file\":");
    cli_json_string(r->path);
    printf(",\"size\":%lu,\"format\":{\"ok\":%s,\"status\":\"%s\",\"message\":",
           (unsigned long)r->size, r->format == AETHER_OK ? "true" : "false",
           aether_status_name(r->format));
    cli_json_string(aether_blob_reference_message(r->format));
    printf("}");
    if (r->peek == AETHER_OK) {
        printf(",\"header\":{\"magic\":\"0x%08lX\",\"version\":%u,\"flags\":%u,\"reserved\":%u,"
               "\"dtype\":\"%s\",\"input_dim\":%u,\"n_q_heads\":%u,\"n_kv_heads\":%u,"
               "\"head_dim\":%u,\"n_layers\":%u,\"n_classes\":%u,\"weights_len\":%lu}",
               (unsigned long)r->magic, r->h.version, r->h.flags, r->h.reserved,
               aether_blob_is_f16(&r->h) ? "f16" : "f32", r->h.input_dim, r->h.n_q_heads,
               r->h.n_kv_heads, r->h.head_dim, r->h.n_layers, r->h.n_classes,
               (unsigned long)r->h.weights_len);
        printf(",\"extensions\":{\"input_norm\":%s,\"metadata\":%s,\"unknown_bits\":%u}",
               (r->h.flags & AETHER_BLOB_FLAG_INPUT_NORM) ? "true" : "false",
               (r->h.flags & AETHER_BLOB_FLAG_METADATA) ? "true" : "false",
               (unsigned)(r->h.flags & (uint8_t)~AETHER_BLOB_KNOWN_FLAGS));
    }
    if (r->meta.present) {
        size_t i;
        printf(",\"metadata\":{");
        for (i = 0; i < r->meta.n_entries; ++i) {
            const char *k, *v;
            size_t kl, vl;
            char kb[AETHER_BLOB_META_MAX_KEY + 1], vb[AETHER_BLOB_META_MAX_TEXT + 1];
            aether_blob_metadata_entry(&r->meta, i, &k, &kl, &v, &vl);
            memcpy(kb, k, kl);
            kb[kl] = '\0';
            memcpy(vb, v, vl);
            vb[vl] = '\0';
            printf("%s", i ? "," : "");
            cli_json_string(kb);
            putchar(':');
            cli_json_string(vb);
        }
        printf("}");
    }
    if (r->have_crc)
        printf(",\"crc\":{\"stored\":\"0x%08lX\",\"computed\":\"0x%08lX\",\"match\":%s}",
               (unsigned long)r->crc_stored, (unsigned long)r->crc_computed,
               r->crc_stored == r->crc_computed ? "true" : "false");
    if (r->have_layout)
        printf(",\"params\":%lu,\"payload_elements\":%lu", (unsigned long)r->layout.total_elems,
               (unsigned long)((r->h.weights_len - r->meta_bytes) / r->layout.elem_size));
    if (r->format == AETHER_OK) {
        printf(",\"model\":{\"ok\":%s,\"status\":\"%s\",\"message\":",
               r->model == AETHER_OK ? "true" : "false", aether_status_name(r->model));
        cli_json_string(aether_strerror(r->model));
        printf("}");
    }
    printf("}\n");
}

static void print_text(const report *r)
{
    printf("file        %s (%lu bytes)\n", r->path, (unsigned long)r->size);
    if (r->peek == AETHER_OK) {
        const aether_blob_header *h = &r->h;
        printf("header      magic 0x%08lX%s, version %u, flags 0x%02X (%s payload), reserved "
               "%u\n",
               (unsigned long)r->magic, r->magic == AETHER_BLOB_MAGIC ? "" : " (not RVNE)",
               h->version, h->flags, aether_blob_is_f16(h) ? "f16" : "f32", h->reserved);
        printf("shape       input_dim %u, q_heads %u, kv_heads %u, head_dim %u, layers %u, "
               "classes %u\n",
               h->input_dim, h->n_q_heads, h->n_kv_heads, h->head_dim, h->n_layers, h->n_classes);
        printf("payload     %lu bytes\n", (unsigned long)h->weights_len);
        printf("extensions  input_norm (bit 1): %s; metadata (bit 2): %s; unknown bits: 0x%02X\n",
               (h->flags & AETHER_BLOB_FLAG_INPUT_NORM) ? "yes" : "no",
               (h->flags & AETHER_BLOB_FLAG_METADATA) ? "yes" : "no",
               (unsigned)(h->flags & (uint8_t)~AETHER_BLOB_KNOWN_FLAGS));
    }
    if (r->meta.present) {
        size_t i;
        printf("metadata    %lu entries, %lu bytes of text (record %lu bytes)\n",
               (unsigned long)r->meta.n_entries, (unsigned long)r->meta.text_len,
               (unsigned long)r->meta_bytes);
        for (i = 0; i < r->meta.n_entries; ++i) {
            const char *k, *v;
            size_t kl, vl;
            aether_blob_metadata_entry(&r->meta, i, &k, &kl, &v, &vl);
            printf("            %-14.*s %.*s\n", (int)kl, k, (int)vl, v);
        }
    }
    if (r->have_crc)
        printf("crc         stored 0x%08lX, computed 0x%08lX (%s)\n",
               (unsigned long)r->crc_stored, (unsigned long)r->crc_computed,
               r->crc_stored == r->crc_computed ? "ok" : "MISMATCH");
    if (r->have_layout)
        printf("layout      per layer Wq %ux%lu, Wk %ux%lu, Wv %ux%lu, Wo %lux%u; Wc %ux%u%s;\n"
               "            %lu parameters (payload holds %lu elements)\n",
               r->h.input_dim, (unsigned long)r->layout.q_width, r->h.input_dim,
               (unsigned long)r->layout.kv_width, r->h.input_dim,
               (unsigned long)r->layout.kv_width, (unsigned long)r->layout.q_width,
               r->h.input_dim, r->h.input_dim, r->h.n_classes,
               (r->h.flags & AETHER_BLOB_FLAG_INPUT_NORM) ? "; mean, inv_std" : "",
               (unsigned long)r->layout.total_elems,
               (unsigned long)((r->h.weights_len - r->meta_bytes) / r->layout.elem_size));
    if (r->format == AETHER_OK)
        printf("format      ok\n");
    else
        printf("format      INVALID: %s (%s)\n", aether_blob_reference_message(r->format),
               aether_status_name(r->format));
    if (r->format == AETHER_OK) {
        if (r->model == AETHER_OK)
            printf("model       ok\n");
        else
            printf("model       INVALID: %s (%s)\n", aether_strerror(r->model),
                   aether_status_name(r->model));
    } else {
        printf("model       not checked (format invalid)\n");
    }
}

/* The metadata as every loader reads it (model_meta.h: the typed keys, a
 * backend and a recipe this version knows): AETHER_OK, else the status
 * that makes them refuse the blob (exit 4). */
static aether_status meta_status(const aether_blob_view *v, const aether_qblob_view *q)
{
    model_meta mm;
    aether_blob_model_meta tm;
    aether_blob_view hv;
    char err[256];
    aether_status st;
    if ((q ? model_meta_read_q(q, &mm, err, sizeof err) : model_meta_read(v, &mm, err, sizeof err)) ==
        0) {
        /* and an attention configuration (attn_window, attn_block) that
         * validates */
        memset(&hv, 0, sizeof hv);
        hv.header = q ? q->header : v->header;
        return model_load_config_blame(&hv, &mm) == CLI_EXIT_MALFORMED ? AETHER_ERR_BLOB_METADATA
                                                                        : AETHER_OK;
    }
    st = q ? aether_qblob_model_meta_read(q, &tm) : aether_blob_model_meta_read(v, &tm);
    return st != AETHER_OK ? st : AETHER_ERR_BLOB_METADATA;
}

/* An RVNQ blob (aether/quant.h): header, shapes, sizes and the one strict
 * validation (docs/FORMATS.md section 9.2). 0 when valid, else 4. */
static int inspect_rvnq(const char *path, const unsigned char *buf, size_t size, int json)
{
    aether_qblob_view v;
    aether_blob_header h;
    aether_blob_metadata md;
    aether_status st = aether_qblob_parse(buf, size, &v);
    int have_md = st == AETHER_OK && aether_qblob_metadata_get(&v, &md) == AETHER_OK;
    (void)aether_blob_peek_header(buf, size, &h);
    if (st == AETHER_OK)
        st = meta_status(NULL, &v);
    if (json) {
        printf("{\"path\":");
        cli_json_string(path);
        printf(",\"size\":%lu,\"format\":\"rvnq\",\"version\":%u,\"flags\":%u,"
               "\"input_dim\":%u,\"q_heads\":%u,\"kv_heads\":%u,\"head_dim\":%u,"
               "\"layers\":%u,\"classes\":%u,\"payload\":%lu,\"valid\":%s,\"status\":\"%s\","
               "\"metadata_entries\":%lu}\n",
               (unsigned long)size, (unsigned)h.version, (unsigned)h.flags, (unsigned)h.input_dim,
               (unsigned)h.n_q_heads, (unsigned)h.n_kv_heads, (unsigned)h.head_dim,
               (unsigned)h.n_layers, (unsigned)h.n_classes, (unsigned long)h.weights_len,
               st == AETHER_OK ? "true" : "false", aether_status_name(st),
               (unsigned long)(have_md ? md.n_entries : 0));
    } else {
        printf("file        %s (%lu bytes)\n", path, (unsigned long)size);
        printf("header      RVNQ quantized blob (docs/FORMATS.md 9), version %u, flags 0x%02X "
               "(input_norm %s, metadata %s)\n",
               (unsigned)h.version, (unsigned)h.flags,
               h.flags & AETHER_BLOB_FLAG_INPUT_NORM ? "yes" : "no",
               h.flags & AETHER_BLOB_FLAG_METADATA ? "yes" : "no");
        printf("shape       input_dim %u, q_heads %u, kv_heads %u, head_dim %u, layers %u, "
               "classes %u\n",
               (unsigned)h.input_dim, (unsigned)h.n_q_heads, (unsigned)h.n_kv_heads,
               (unsigned)h.head_dim, (unsigned)h.n_layers, (unsigned)h.n_classes);
        printf("payload     %lu bytes: int8 weights, one scale per output row\n",
               (unsigned long)h.weights_len);
        if (have_md)
            printf("metadata    %lu entries\n", (unsigned long)md.n_entries);
        if (st == AETHER_OK)
            printf("valid       yes (CRC 0x%08lX)\n", (unsigned long)v.crc);
        else
            printf("valid       NO: %s (%s)\n", aether_strerror(st), aether_status_name(st));
    }
    return st == AETHER_OK ? CLI_EXIT_OK : CLI_EXIT_MALFORMED;
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, rc;
    unsigned char *buf;
    report r;
    aether_blob_view v;

    rc = cli_parse_file_args("inspect", argc, argv, inspect_usage, &path, &json);
    if (rc >= 0)
        return rc;
    memset(&r, 0, sizeof r);
    r.path = path;
    buf = cli_read_file(path, &r.size);
    if (!buf)
        return cli_read_error(path, errno);
    if (aether_qblob_is(buf, r.size) && r.size >= AETHER_BLOB_HEADER_LEN) {
        rc = inspect_rvnq(path, buf, r.size, json);
        free(buf);
        return rc;
    }
    r.peek = aether_blob_peek_header(buf, r.size, &r.h);
    if (r.peek == AETHER_OK)
        r.magic = aether_load_le32(buf);
    /* The CRC can be shown whenever the length is self-consistent. */
    if (r.peek == AETHER_OK && r.size >= AETHER_BLOB_OVERHEAD &&
        (uint64_t)(r.size - AETHER_BLOB_OVERHEAD) == (uint64_t)r.h.weights_len) {
        r.have_crc = 1;
        r.crc_stored = aether_load_le32(buf + r.size - 4);
        r.crc_computed = aether_crc32(buf, r.size - 4);
    }
    if (r.peek == AETHER_OK && aether_blob_check_header(&r.h) == AETHER_OK &&
        aether_blob_layout_of(&r.h, &r.layout) == AETHER_OK)
        r.have_layout = 1;
    r.format = aether_blob_parse(buf, r.size, &v);
    r.model = r.format == AETHER_OK ? aether_blob_validate_model(&v, NULL) : r.format;
    if (r.model == AETHER_OK) {
        aether_blob_layout l;
        aether_blob_validate_model(&v, &l);
        r.meta_bytes = l.meta_bytes;
        aether_blob_metadata_get(&v, &r.meta);
        /* a blob whose metadata the loaders refuse is no usable model */
        r.model = meta_status(&v, NULL);
    }
    if (json)
        print_json(&r);
    else
        print_text(&r);
    free(buf);
    return r.format != AETHER_OK ? CLI_EXIT_MALFORMED : cli_exit_status(r.model);
}
