/* The dot product the firmware may accelerate. Under ESP-IDF with
 * CONFIG_AETHER_USE_ESP_DSP the component defines AETHER_USE_ESP_DSP and
 * this calls esp-dsp's dsps_dotprod_f32 (SIMD on the ESP32-S3, different
 * summation order: close to, not bit-equal with, the reference). Everywhere
 * else it is the reference left-to-right sum. */
#include "edge/edge_internal.h"
#include "kernels/osm.h"

#if defined(ESP_PLATFORM) && defined(AETHER_USE_ESP_DSP)
#include "dsps_dotprod.h"
#endif

float ruv_temporal_dot_(const float *a, const float *b, size_t n)
{
#if defined(ESP_PLATFORM) && defined(AETHER_USE_ESP_DSP)
    float r = 0.0f;
    if (n <= 0x7FFFFFFFu && dsps_dotprod_f32(a, b, &r, (int)n) == ESP_OK)
        return r;
#endif
    return aether_dot_ref(a, b, n);
}
