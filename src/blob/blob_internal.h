/* Internal helpers shared by the blob sources. */
#ifndef AETHER_BLOB_INTERNAL_H
#define AETHER_BLOB_INTERNAL_H

#include "aether/blob.h"

/* Find and check the bit-2 metadata record at the end of a payload of
 * payload_len bytes whose arrays take arrays_bytes. On success *text_len and
 * *record_bytes are set (text at payload + arrays_bytes). Statuses as in
 * blob.h: BLOB_LAYOUT (sizes), BLOB_EXTENSION (tag, length, text). */
aether_status aether_blob_meta_locate_(const unsigned char *payload, size_t payload_len,
                                       size_t arrays_bytes, size_t *text_len,
                                       size_t *record_bytes);

/* The known keys of a checked metadata view into *out (zeroed first):
 * aether_blob_model_meta_read's rules with the header's n_classes and
 * input_dim. Also used for RVNQ blobs (aether/quant.h). */
aether_status aether_blob_model_meta_parse_(const aether_blob_metadata *m, size_t n_classes,
                                           size_t input_dim, aether_blob_model_meta *out);

/* The calibration keys (temperature, unknown_below, ood_above) of a
 * checked metadata view, with aether_blob_model_calibration's checks and
 * statuses (*out zeroed first, and again on error). Shared with the RVNQ
 * readers, whose metadata record is the RVNE one. */
aether_status aether_blob_metadata_calibration_(const aether_blob_metadata *m,
                                               aether_blob_calibration *out);

#endif
