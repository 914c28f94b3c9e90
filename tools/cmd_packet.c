/* `aether packet`: decode a file of concatenated 40-byte 0xC5110007
 * classification packets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/packet.h"
#include "cli_util.h"
#include "commands.h"

static void packet_usage(FILE *f)
{
    fprintf(f, "usage: aether packet FILE [--json]\n"
               "  Decodes every 40-byte classification packet (magic 0xC5110007) in FILE,\n"
               "  one line each (--json: one JSON object per line). A packet the decoder\n"
               "  rejects is reported with its status and the rest are still decoded.\n"
               "  Exit status 0 when all are valid, 4 for any invalid packet (or a trailing\n"
               "  partial one).\n");
    cli_print_exit_statuses(f);
}

/* JSON has no NaN/Inf: print null for them. */
static void print_ok(size_t index, const aether_class_packet *p, int json)
{
    if (json) {
        printf("{\"index\":%lu,\"ok\":true,\"version\":%u,\"n_classes\":%u,\"node_id\":%u,"
               "\"ts_us\":%llu,\"seq\":%lu,\"argmax\":%u,\"top_logit\":",
               (unsigned long)index, p->version, p->n_classes, p->node_id,
               (unsigned long long)p->ts_us, (unsigned long)p->seq, p->argmax);
        cli_json_float(p->top_logit);
        printf(",\"margin\":");
        cli_json_float(p->margin);
        printf(",\"crc\":\"0x%08lX\"}\n", (unsigned long)p->crc);
    } else {
        printf("#%lu node %u seq %lu ts_us %llu classes %u argmax %u top %.9g margin %.9g "
               "crc 0x%08lX\n",
               (unsigned long)index, p->node_id, (unsigned long)p->seq,
               (unsigned long long)p->ts_us, p->n_classes, p->argmax, (double)p->top_logit,
               (double)p->margin, (unsigned long)p->crc);
    }
}

static void print_bad(size_t index, aether_status st, size_t len, int json)
{
    if (json)
        printf("{\"index\":%lu,\"ok\":false,\"bytes\":%lu,\"status\":\"%s\",\"error\":\"%s\"}\n",
               (unsigned long)index, (unsigned long)len, aether_status_name(st),
               aether_strerror(st));
    else
        printf("#%lu INVALID (%lu bytes): %s (%s)\n", (unsigned long)index, (unsigned long)len,
               aether_strerror(st), aether_status_name(st));
}

int cmd_packet(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, bad = 0, rc;
    unsigned char chunk[AETHER_PACKET_LEN];
    size_t index = 0, got;
    FILE *f;

    rc = cli_parse_file_args("packet", argc, argv, packet_usage, &path, &json);
    if (rc >= 0)
        return rc;
    f = cli_open_read(path);
    if (!f)
        return cli_read_error(path, errno);
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        aether_class_packet p;
        aether_status st = aether_packet_decode(chunk, got, &p);
        if (st == AETHER_OK) {
            print_ok(index, &p, json);
        } else {
            print_bad(index, st, got, json);
            bad = 1;
        }
        index++;
    }
    if (ferror(f)) {
        fclose(f);
        fprintf(stderr, "aether packet: read error on %s\n", path);
        return CLI_EXIT_IO;
    }
    fclose(f);
    if (index == 0) {
        fprintf(stderr, "aether packet: %s is empty\n", path);
        return CLI_EXIT_MALFORMED;
    }
    return bad ? CLI_EXIT_MALFORMED : CLI_EXIT_OK;
}
