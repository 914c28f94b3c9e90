/*
 * A program built against an installed aether's host readers: writes a
 * three-line .csi.jsonl recording (one raw_csi frame, one amplitude frame,
 * one malformed line) to argv[1], reads it back through
 * aether_recording_open and checks every decoded value. Prints "PASS ..."
 * and exits 0, or names the failed check and exits 1.
 */
#include <aether/core.h>
#include <aether/csi.h>

#include <stdio.h>
#include <string.h>
#include "aether/recording.h"

static int failures;
static int checks;

static void check(int ok, const char *what)
{
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL %s\n", what);
    }
}

static const char RECORDING[] =
    /* pairs (imag, real): (3, 4) and (-3, 5) */
    "{\"timestamp\": 1.5, \"node_id\": 2, \"type\": \"raw_csi\", \"iq_hex\": \"0304fd05\", "
    "\"subcarriers\": 2}\n"
    "{\"timestamp\": 2.25, \"subcarriers\": [3.0, 4.5, 0.25]}\n"
    "this line is not JSON\n";

int main(int argc, char **argv)
{
    aether_recording *rec = NULL;
    aether_csi_frame f;
    FILE *fp;

    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_FILE\n", argv[0]);
        return 2;
    }
    fp = fopen(argv[1], "wb");
    if (!fp || fwrite(RECORDING, 1, sizeof RECORDING - 1, fp) != sizeof RECORDING - 1) {
        fprintf(stderr, "cannot write %s\n", argv[1]);
        if (fp)
            fclose(fp);
        return 2;
    }
    fclose(fp);

    check(strcmp(aether_version(), AETHER_VERSION_STRING) == 0,
          "aether_version() matches the header");
    check(aether_recording_open(argv[1], NULL, &rec) == AETHER_OK, "aether_recording_open");
    if (!rec) {
        printf("host consumer: cannot open the recording\n");
        return 1;
    }
    check(strcmp(aether_recording_format_name(aether_recording_get_format(rec)), "jsonl") == 0,
          "format jsonl");

    check(aether_recording_next(rec, &f) == AETHER_OK, "first frame");
    check(f.kind == AETHER_CSI_RAW_IQ && f.n_pairs == 2, "raw_csi frame, 2 pairs");
    check(f.iq && f.iq[0] == 3 && f.iq[1] == 4 && f.iq[2] == -3 && f.iq[3] == 5, "iq bytes");
    check(f.node_id == 2 && f.timestamp == 1.5, "node 2 at 1.5 s");

    check(aether_recording_next(rec, &f) == AETHER_OK, "second frame");
    check(f.kind == AETHER_CSI_AMPLITUDE && f.n_pairs == 3, "amplitude frame, 3 values");
    check(f.amp && f.amp[0] == 3.0f && f.amp[1] == 4.5f && f.amp[2] == 0.25f, "amplitudes");
    check(f.timestamp == 2.25, "amplitude frame at 2.25 s");

    check(aether_recording_next(rec, &f) == AETHER_ERR_END, "end after two frames");
    {
        const aether_recording_stats *st = aether_recording_get_stats(rec);
        check(st != NULL, "stats");
        if (st) {
            check(st->records == 3, "3 records seen");
            check(st->frames[AETHER_CSI_RAW_IQ] == 1 && st->frames[AETHER_CSI_AMPLITUDE] == 1,
                  "one frame of each kind");
            check(st->malformed == 1 && st->n_errors == 1 && st->errors[0].record == 3,
                  "line 3 malformed");
        }
    }
    aether_recording_close(rec);
    remove(argv[1]);

    if (failures) {
        printf("host consumer: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("PASS host consumer: aether %s, %d checks\n", aether_version(), checks);
    return 0;
}
