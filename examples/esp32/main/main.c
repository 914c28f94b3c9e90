/*
 * aether on an ESP32: the firmware counterpart of tests/baremetal.
 *
 *   1. ruv_temporal_kernel_self_test() (ESP_OK on every C library; a broken
 *      kernel fails it);
 *   2. a context on the shipped gesture model, embedded with EMBED_FILES;
 *      window, classes and input size come from the blob (sdkconfig.defaults
 *      sets the Kconfig values to 0). Window mode (the Kconfig default)
 *      mean-pools the last 64 frames as the model was trained, the
 *      decisions of `aether run`; streaming mode (Kconfig
 *      AETHER_TEMPORAL_MODE_STREAMING) is the cheap per-frame path, pooling
 *      the last frame;
 *   3. 100 frames per second: one CSI frame -> aether_features_compute
 *      (recipe csi-v4, 39 features, what the model was trained on) ->
 *      ruv_temporal_push; every 16 frames (the model's decision stride)
 *      ruv_temporal_classify, a 0xC5110007 classification packet and a log
 *      line with the label, the CPU cycles of the last push and classify
 *      and the task's stack high-water mark.
 *
 * The CSI frames here are synthetic (a deterministic moving pattern over
 * 64 I/Q pairs). On a device, feed the frames of the Wi-Fi CSI callback
 * instead (esp_wifi_set_csi_rx_cb: wifi_csi_info_t.buf holds int8 I/Q pairs,
 * imaginary first, as AETHER_CSI_RAW_IQ expects). The model's decisions on
 * the synthetic input mean nothing; the point is the pipeline and its cost.
 */
#include <stdint.h>
#include <stdio.h>

#include "esp_cpu.h"
#include "esp_err.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "aether/csi.h"
#include "aether/features.h"
#include "ruv_temporal.h"

static const char *TAG = "aether";

extern const uint8_t gesture_rvne_start[] asm("_binary_gesture_rvne_start");
extern const uint8_t gesture_rvne_end[] asm("_binary_gesture_rvne_end");

static const char *const k_labels[] = {"wave", "circle_cw", "no_gesture"};

#define N_PAIRS 64
#define DECISION_STRIDE 16
#define MAX_FEATURES 39

/* A deterministic stand-in for one CSI frame of 64 I/Q pairs. */
static void synthetic_csi(uint32_t t, int8_t iq[2 * N_PAIRS])
{
    uint32_t k;
    for (k = 0; k < N_PAIRS; ++k) {
        uint32_t h = (k * 2654435761u) ^ (t * 40503u);
        int wave = (int)((t + k) % 32u) - 16; /* a slow moving ramp */
        iq[2 * k] = (int8_t)(wave + (int)(h % 7u) - 3);
        iq[2 * k + 1] = (int8_t)(24 - wave / 2 + (int)((h >> 8) % 5u) - 2);
    }
}

void app_main(void)
{
    ruv_temporal_ctx_t *ctx = NULL;
    ruv_temporal_config_t cfg;
    ruv_temporal_info_t info;
    aether_features_config fc = aether_features_config_default();
    aether_features *feat = NULL;
    size_t blob_len = (size_t)(gesture_rvne_end - gesture_rvne_start);
    int8_t iq[2 * N_PAIRS];
    float frame[MAX_FEATURES];
    uint32_t t;
    esp_err_t e;

    e = ruv_temporal_kernel_self_test();
    ESP_LOGI(TAG, "kernel self test: %s", esp_err_to_name(e));
    if (e != ESP_OK)
        return; /* the arithmetic on this chip is not the library's: stop */

    /* Mode from Kconfig; every size from the blob (RUV_TEMPORAL_DEFAULT_*
     * mean "from the model" with the Kconfig values 0). */
    /* The default pooling is the one the model was trained with (its
     * metadata: mean for the shipped gesture model) in window mode. */
    cfg = ruv_temporal_config_default();
    e = ruv_temporal_init_ex(gesture_rvne_start, blob_len, RUV_TEMPORAL_DEFAULT_INPUT_DIM,
                             RUV_TEMPORAL_DEFAULT_WINDOW_LEN, RUV_TEMPORAL_DEFAULT_N_CLASSES,
                             &cfg, &ctx);
    if (e != ESP_OK) {
        ESP_LOGE(TAG, "ruv_temporal_init_ex: %s", esp_err_to_name(e));
        return;
    }
    ESP_ERROR_CHECK(ruv_temporal_get_info(ctx, &info));
    ESP_LOGI(TAG, "model: %u inputs, %u classes, %u layers; %s mode, window %u, %u bytes%s",
             (unsigned)info.input_dim, (unsigned)info.n_classes, (unsigned)info.n_layers,
             info.mode == RUV_TEMPORAL_MODE_STREAMING ? "streaming" : "window",
             (unsigned)info.window_len, (unsigned)info.ctx_bytes,
             info.weights_borrowed ? ", weights read in place" : "");
    if (info.input_dim > MAX_FEATURES || info.n_classes > 3) {
        ESP_LOGE(TAG, "this example is written for the gesture model");
        ruv_temporal_destroy(ctx);
        return;
    }

    fc.input_dim = info.input_dim;
    fc.max_nodes = 1;
    fc.recipe = AETHER_FEATURES_V4;
    if (aether_features_create(&fc, &feat) != AETHER_OK) {
        ESP_LOGE(TAG, "feature extractor: out of memory");
        ruv_temporal_destroy(ctx);
        return;
    }

    for (t = 0;; ++t) {
        aether_csi_frame csi = {0};
        uint32_t c0, c1;
        csi.timestamp = t * 0.01;
        csi.node_id = 1;
        csi.kind = AETHER_CSI_RAW_IQ;
        csi.n_pairs = N_PAIRS;
        synthetic_csi(t, iq);
        csi.iq = iq;
        if (aether_features_compute(feat, &csi, frame, info.input_dim) != AETHER_OK)
            continue; /* a frame the extractor refuses is left out */

        c0 = (uint32_t)esp_cpu_get_cycle_count();
        e = ruv_temporal_push(ctx, frame);
        c1 = (uint32_t)esp_cpu_get_cycle_count();
        if (e != ESP_OK) {
            ESP_LOGW(TAG, "push: %s", esp_err_to_name(e));
            if (e == ESP_ERR_INVALID_STATE)
                ruv_temporal_reset(ctx);
            continue;
        }

        if ((t + 1) % DECISION_STRIDE == 0) {
            float logits[3];
            uint32_t c2, c3;
            uint8_t packet[RUV_TEMPORAL_PACKET_LEN];
            uint32_t i, best = 0;
            c2 = (uint32_t)esp_cpu_get_cycle_count();
            ESP_ERROR_CHECK(ruv_temporal_classify(ctx, logits, info.n_classes));
            c3 = (uint32_t)esp_cpu_get_cycle_count();
            for (i = 1; i < info.n_classes; ++i)
                if (logits[i] > logits[best])
                    best = i;
            /* the same decision as a 40-byte packet, ready to send */
            ESP_ERROR_CHECK(ruv_temporal_make_packet(ctx, 1, (uint64_t)t * 10000u, t, packet));
            ESP_LOGI(TAG,
                     "frame %u: %s (%.2f %.2f %.2f); cycles: push %u, classify %u; "
                     "stack never used: %u bytes",
                     (unsigned)t, k_labels[best], (double)logits[0], (double)logits[1],
                     (double)logits[2], (unsigned)(c1 - c0), (unsigned)(c3 - c2),
                     (unsigned)uxTaskGetStackHighWaterMark(NULL));
        }
        vTaskDelay(pdMS_TO_TICKS(10));
    }
}
