/* Library statuses to ESP-IDF codes: the mapping table of ruv_temporal.h
 * (docs/FORMATS.md section 3.3). */
#include "edge/edge_internal.h"

esp_err_t ruv_temporal_err_(aether_status st)
{
    switch (st) {
    case AETHER_OK:
        return ESP_OK;
    case AETHER_ERR_NO_MEM:
    case AETHER_ERR_OVERFLOW:
    case AETHER_ERR_BUFFER_TOO_SMALL:
        return ESP_ERR_NO_MEM;
    case AETHER_ERR_BLOB_VERSION:
        return ESP_ERR_INVALID_VERSION;
    case AETHER_ERR_BLOB_CRC:
        return ESP_ERR_INVALID_CRC;
    case AETHER_ERR_BLOB_ZERO_DIM:
    case AETHER_ERR_BLOB_GQA:
    case AETHER_ERR_BLOB_DEGENERATE:
    case AETHER_ERR_BLOB_ELEM_SIZE:
    case AETHER_ERR_BLOB_LAYOUT:
    case AETHER_ERR_BLOB_SHAPE:
    case AETHER_ERR_QBLOB_SHAPE:
        return ESP_ERR_INVALID_SIZE;
    case AETHER_ERR_BLOB_EXTENSION:
    case AETHER_ERR_UNSUPPORTED:
        return ESP_ERR_NOT_SUPPORTED;
    case AETHER_ERR_BLOB_TOO_SHORT:
    case AETHER_ERR_BLOB_MAGIC:
    case AETHER_ERR_BLOB_LENGTH:
    case AETHER_ERR_BLOB_NONFINITE:
    case AETHER_ERR_BLOB_TEMPERATURE:
    case AETHER_ERR_BLOB_THRESHOLD:
    case AETHER_ERR_QBLOB_SCALE:
    case AETHER_ERR_QBLOB_ZERO_POINT:
    case AETHER_ERR_QBLOB_RANGE:
    case AETHER_ERR_NULL_ARG:
    case AETHER_ERR_INVALID_ARG:
    case AETHER_ERR_NONFINITE:
    case AETHER_ERR_NOT_INITIALIZED:
    case AETHER_ERR_INVALID_CONFIG:
    case AETHER_ERR_BLOCK_SIZE:
    case AETHER_ERR_GQA_RATIO:
    case AETHER_ERR_TOO_MANY_GLOBALS:
        return ESP_ERR_INVALID_ARG;
    case AETHER_ERR_STATE:
    case AETHER_ERR_CACHE_FULL:
    case AETHER_ERR_CACHE_EMPTY:
        return ESP_ERR_INVALID_STATE;
    default:
        return ESP_FAIL;
    }
}
