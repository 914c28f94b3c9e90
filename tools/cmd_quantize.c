/* `aether quantize IN.rvne OUT.q8`: the RVNQ blob of the integer path
 * (aether/quant.h, docs/FORMATS.md section 9) from an RVNE blob. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/quant.h"
#include "cli_util.h"
#include "commands.h"
#include "model_meta.h"

static void quantize_usage(FILE *f)
{
    fprintf(f, "usage: aether quantize IN.rvne OUT.q8\n"
               "  Writes the quantized (RVNQ, docs/FORMATS.md 9) form of a model blob: int8\n"
               "  weights with one scale per output row, Q16 input normalisation, the\n"
               "  metadata copied unchanged. The same input gives the same bytes on every\n"
               "  host. `aether eval --model OUT.q8` scores it with the integer model.\n");
    cli_print_exit_statuses(f);
}

static const struct option k_quantize_options[] = {{NULL, 0, NULL, 0}};

int cmd_quantize(int argc, char **argv)
{
    aether_blob_view v;
    aether_qblob_view q;
    model_meta mm;
    char err[256];
    unsigned char *in, *out = NULL;
    size_t len = 0, need = 0, n = 0;
    aether_status st;
    cli_command c;
    char **pos;
    int opt, rc = 0, npos, werr;

    cli_command_init(&c, "quantize", k_quantize_options, quantize_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE)
        if (opt == CLI_STOP)
            return rc;
    pos = cli_positionals(&c, 2, 2, &npos, &rc);
    if (!pos)
        return rc;
    in = cli_read_file(pos[0], &len);
    if (!in)
        return cli_read_error(pos[0], errno);
    st = aether_blob_parse(in, len, &v);
    if (st == AETHER_OK)
        st = aether_qblob_quantize_size(&v, &need);
    if (st == AETHER_OK && !(out = (unsigned char *)malloc(need)))
        st = AETHER_ERR_NO_MEM;
    if (st == AETHER_OK)
        st = aether_qblob_quantize(&v, out, need, &n);
    /* what was written must parse: the same checks a reader applies */
    if (st == AETHER_OK)
        st = aether_qblob_parse(out, n, &q);
    /* and load: metadata the loaders refuse would be copied into a blob
     * that none of them takes */
    if (st == AETHER_OK && model_meta_read_q(&q, &mm, err, sizeof err) != 0) {
        fprintf(stderr, "aether quantize: %s: %s\n", pos[0], err);
        free(out);
        free(in);
        return CLI_EXIT_MALFORMED;
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether quantize: %s: %s (%s)\n", pos[0], aether_strerror(st),
                aether_status_name(st));
        free(out);
        free(in);
        return cli_exit_status(st);
    }
    werr = cli_write_file(pos[1], out, n);
    if (werr)
        fprintf(stderr, "aether quantize: cannot write %s (%s)\n", pos[1], strerror(werr));
    else
        printf("wrote %s: %lu bytes (from %lu), CRC 0x%08lX\n", pos[1], (unsigned long)n,
               (unsigned long)len, (unsigned long)q.crc);
    free(out);
    free(in);
    return werr ? CLI_EXIT_IO : CLI_EXIT_OK;
}
