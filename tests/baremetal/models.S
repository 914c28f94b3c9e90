/* The models the bare-metal program runs, embedded as firmware embeds a
 * blob (ESP-IDF: EMBED_FILES). The assembler finds the files through -I:
 * models/ of the repository and the stage's data directory (default.rvne,
 * the demo blob `aether init-blob` writes). 4-byte aligned, so the f32
 * payload can be borrowed in place. */
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
