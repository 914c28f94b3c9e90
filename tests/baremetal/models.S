/* The models the bare-metal program runs, embedded as firmware embeds a
 * blob (ESP-IDF: EMBED_FILES). The assembler finds the files through -I:
 * models/ of the repository and the stage's data directory (default.rvne,
 * the demo blob `aether init-blob` writes, and its quantized default.q8).
 * 4-byte aligned, so the f32 payload can be borrowed in place. The .q8
 * blobs (RVNQ, `aether quantize`) run the integer path. */
    .section .rodata.bm_models, "a"

    .balign 4
    .global bm_blob_gesture
bm_blob_gesture:
    .incbin "gesture.rvne"
    .global bm_blob_gesture_end
bm_blob_gesture_end:

    .balign 4
    .global bm_blob_motion
bm_blob_motion:
    .incbin "motion.rvne"
    .global bm_blob_motion_end
bm_blob_motion_end:

    .balign 4
    .global bm_blob_default
bm_blob_default:
    .incbin "default.rvne"
    .global bm_blob_default_end
bm_blob_default_end:

    .balign 4
    .global bm_qblob_gesture
bm_qblob_gesture:
    .incbin "gesture.q8"
    .global bm_qblob_gesture_end
bm_qblob_gesture_end:

    .balign 4
    .global bm_qblob_motion
bm_qblob_motion:
    .incbin "motion.q8"
    .global bm_qblob_motion_end
bm_qblob_motion_end:

    .balign 4
    .global bm_qblob_default
bm_qblob_default:
    .incbin "default.q8"
    .global bm_qblob_default_end
bm_qblob_default_end:
