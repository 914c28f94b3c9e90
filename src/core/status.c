/* Status messages: one static string per code, no allocation. */
#include "aether/core.h"

typedef struct {
    aether_status code;
    const char *name;
    const char *message;
} status_entry;

static const status_entry k_status[] = {
    {AETHER_OK, "AETHER_OK", "ok"},
    {AETHER_ERR_NULL_ARG, "AETHER_ERR_NULL_ARG", "a required pointer argument is NULL"},
    {AETHER_ERR_INVALID_ARG, "AETHER_ERR_INVALID_ARG", "invalid argument value"},
    {AETHER_ERR_OVERFLOW, "AETHER_ERR_OVERFLOW", "size computation overflows size_t"},
    {AETHER_ERR_NO_MEM, "AETHER_ERR_NO_MEM", "out of memory"},
    {AETHER_ERR_BUFFER_TOO_SMALL, "AETHER_ERR_BUFFER_TOO_SMALL",
     "caller-provided buffer is too small"},
    {AETHER_ERR_NOT_INITIALIZED, "AETHER_ERR_NOT_INITIALIZED",
     "object or config was not initialised"},
    {AETHER_ERR_STATE, "AETHER_ERR_STATE", "operation not valid in the current state"},
    {AETHER_ERR_UNSUPPORTED, "AETHER_ERR_UNSUPPORTED", "operation not supported"},
    {AETHER_ERR_NONFINITE, "AETHER_ERR_NONFINITE", "input contains NaN or Inf"},
    {AETHER_ERR_SHAPE_MISMATCH, "AETHER_ERR_SHAPE_MISMATCH",
     "shape mismatch between q, k, v or output"},
    {AETHER_ERR_ZERO_HEAD_DIM, "AETHER_ERR_ZERO_HEAD_DIM",
     "head dimension must be greater than zero"},
    {AETHER_ERR_BLOCK_SIZE, "AETHER_ERR_BLOCK_SIZE", "block_size must be greater than zero"},
    {AETHER_ERR_GQA_RATIO, "AETHER_ERR_GQA_RATIO",
     "q_heads must be a non-zero multiple of kv_heads"},
    {AETHER_ERR_HEAD_DIM_MISMATCH, "AETHER_ERR_HEAD_DIM_MISMATCH",
     "head dim mismatch between q, k and v"},
    {AETHER_ERR_KV_HEADS_MISMATCH, "AETHER_ERR_KV_HEADS_MISMATCH", "kv_heads mismatch"},
    {AETHER_ERR_MASK_LENGTH, "AETHER_ERR_MASK_LENGTH", "keep_mask length differs from seq"},
    {AETHER_ERR_INVALID_CONFIG, "AETHER_ERR_INVALID_CONFIG", "invalid configuration"},
    {AETHER_ERR_TOO_MANY_GLOBALS, "AETHER_ERR_TOO_MANY_GLOBALS", "too many global tokens"},
    {AETHER_ERR_CACHE_FULL, "AETHER_ERR_CACHE_FULL", "KV cache capacity exceeded"},
    {AETHER_ERR_CACHE_EMPTY, "AETHER_ERR_CACHE_EMPTY", "KV cache is empty"},
    {AETHER_ERR_SEQ_NOT_ONE, "AETHER_ERR_SEQ_NOT_ONE", "single-token call requires seq == 1"},
    {AETHER_ERR_BLOCK_MISMATCH, "AETHER_ERR_BLOCK_MISMATCH",
     "cache block_size differs from the attention block_size"},
    {AETHER_ERR_ALL_PROTECTED, "AETHER_ERR_ALL_PROTECTED",
     "every cache slot is protected; nothing can be evicted"},
    {AETHER_ERR_SCORES_LENGTH, "AETHER_ERR_SCORES_LENGTH",
     "eviction scores length differs from cache length"},
    {AETHER_ERR_IO, "AETHER_ERR_IO", "file could not be opened, read or written"},
    {AETHER_ERR_NPY_MAGIC, "AETHER_ERR_NPY_MAGIC", "not a .npy file (bad magic)"},
    {AETHER_ERR_NPY_VERSION, "AETHER_ERR_NPY_VERSION", "unsupported .npy format version"},
    {AETHER_ERR_NPY_HEADER, "AETHER_ERR_NPY_HEADER", "malformed .npy header"},
    {AETHER_ERR_NPY_DTYPE, "AETHER_ERR_NPY_DTYPE", "unsupported .npy dtype"},
    {AETHER_ERR_NPY_FORTRAN, "AETHER_ERR_NPY_FORTRAN",
     "Fortran-order .npy arrays are not supported"},
    {AETHER_ERR_NPY_ENDIAN, "AETHER_ERR_NPY_ENDIAN", "big-endian .npy data is not supported"},
    {AETHER_ERR_NPY_TRUNCATED, "AETHER_ERR_NPY_TRUNCATED", ".npy data is truncated"},
    {AETHER_ERR_NPY_SIZE, "AETHER_ERR_NPY_SIZE", ".npy data size does not match its shape"},
    {AETHER_ERR_BLOB_TOO_SHORT, "AETHER_ERR_BLOB_TOO_SHORT", "blob too short"},
    {AETHER_ERR_BLOB_MAGIC, "AETHER_ERR_BLOB_MAGIC", "bad magic"},
    {AETHER_ERR_BLOB_VERSION, "AETHER_ERR_BLOB_VERSION", "unsupported blob version"},
    {AETHER_ERR_BLOB_LENGTH, "AETHER_ERR_BLOB_LENGTH",
     "blob length doesn't match weights_len in header"},
    {AETHER_ERR_BLOB_CRC, "AETHER_ERR_BLOB_CRC", "blob CRC mismatch"},
    {AETHER_ERR_BLOB_ZERO_DIM, "AETHER_ERR_BLOB_ZERO_DIM", "header: zero-valued dimension(s)"},
    {AETHER_ERR_BLOB_GQA, "AETHER_ERR_BLOB_GQA",
     "header: n_q_heads must be divisible by n_kv_heads (GQA)"},
    {AETHER_ERR_BLOB_DEGENERATE, "AETHER_ERR_BLOB_DEGENERATE",
     "header: n_layers must be >= 1 and n_classes >= 2"},
    {AETHER_ERR_BLOB_ELEM_SIZE, "AETHER_ERR_BLOB_ELEM_SIZE",
     "payload length is not a multiple of the element size"},
    {AETHER_ERR_BLOB_LAYOUT, "AETHER_ERR_BLOB_LAYOUT",
     "payload size does not match the declared shapes"},
    {AETHER_ERR_BLOB_NONFINITE, "AETHER_ERR_BLOB_NONFINITE", "blob contains a NaN or Inf weight"},
    {AETHER_ERR_BLOB_EXTENSION, "AETHER_ERR_BLOB_EXTENSION",
     "unknown or malformed blob extension"},
    {AETHER_ERR_BLOB_SHAPE, "AETHER_ERR_BLOB_SHAPE",
     "blob shape does not match the requested shape"},
    {AETHER_ERR_BLOB_METADATA, "AETHER_ERR_BLOB_METADATA",
     "a model metadata key has a value this version cannot use"},
    {AETHER_ERR_QBLOB_SCALE, "AETHER_ERR_QBLOB_SCALE",
     "quantized blob: a scale or input-normalisation value is out of range"},
    {AETHER_ERR_QBLOB_ZERO_POINT, "AETHER_ERR_QBLOB_ZERO_POINT",
     "quantized blob: a zero point is not 0 (version 1 is symmetric)"},
    {AETHER_ERR_QBLOB_RANGE, "AETHER_ERR_QBLOB_RANGE",
     "quantized blob: an int8 weight is -128, a zero-scale row is not zero, or padding is not "
     "zero"},
    {AETHER_ERR_QBLOB_SHAPE, "AETHER_ERR_QBLOB_SHAPE",
     "quantized blob: shape exceeds the integer path's bounds (widths <= 512, head_dim <= 256)"},
    {AETHER_ERR_PACKET_SIZE, "AETHER_ERR_PACKET_SIZE", "classification packet is not 40 bytes"},
    {AETHER_ERR_PACKET_MAGIC, "AETHER_ERR_PACKET_MAGIC", "classification packet has a bad magic"},
    {AETHER_ERR_PACKET_VERSION, "AETHER_ERR_PACKET_VERSION",
     "unsupported classification packet version"},
    {AETHER_ERR_PACKET_CRC, "AETHER_ERR_PACKET_CRC", "classification packet CRC mismatch"},
    {AETHER_ERR_PACKET_CLASSES, "AETHER_ERR_PACKET_CLASSES",
     "classification packet has n_classes = 0"},
    {AETHER_ERR_PACKET_ARGMAX, "AETHER_ERR_PACKET_ARGMAX",
     "classification packet argmax >= n_classes"},
    {AETHER_ERR_PARSE, "AETHER_ERR_PARSE", "malformed record"},
    {AETHER_ERR_FRAME_MAGIC, "AETHER_ERR_FRAME_MAGIC", "CSI frame has a bad magic"},
    {AETHER_ERR_FRAME_LENGTH, "AETHER_ERR_FRAME_LENGTH",
     "CSI frame length fields are inconsistent"},
    {AETHER_ERR_FORMAT, "AETHER_ERR_FORMAT", "unrecognised file format"},
    {AETHER_ERR_END, "AETHER_ERR_END", "end of stream"},
    {AETHER_ERR_ZIP, "AETHER_ERR_ZIP", "malformed zip/npz container"},
    {AETHER_ERR_TRACK_NOT_FOUND, "AETHER_ERR_TRACK_NOT_FOUND", "track not found"},
    {AETHER_ERR_TRACKS_FULL, "AETHER_ERR_TRACKS_FULL", "track table is full"},
    {AETHER_ERR_BLOB_LABELS, "AETHER_ERR_BLOB_LABELS",
     "the model metadata does not name one label per class"},
    {AETHER_ERR_BLOB_TEMPERATURE, "AETHER_ERR_BLOB_TEMPERATURE",
     "the model metadata temperature is not a number in [1e-6, 1e6]"},
    {AETHER_ERR_BLOB_THRESHOLD, "AETHER_ERR_BLOB_THRESHOLD",
     "the model metadata unknown_below is not in [0, 1] or ood_above not in [0, 1e6]"},
};

static const status_entry *find(aether_status s)
{
    size_t i;
    for (i = 0; i < sizeof k_status / sizeof k_status[0]; ++i)
        if (k_status[i].code == s)
            return &k_status[i];
    return NULL;
}

const char *aether_strerror(aether_status status)
{
    const status_entry *e = find(status);
    return e ? e->message : "unknown status";
}

const char *aether_status_name(aether_status status)
{
    const status_entry *e = find(status);
    return e ? e->name : "AETHER_ERR_UNKNOWN";
}

const char *aether_version(void)
{
    return AETHER_VERSION_STRING;
}
