/* CRC-32/IEEE with a 16-entry nibble table: constant data (no lazy init, so
 * no data race between threads) and small enough for firmware. */
#include "aether/core.h"

/* clang-format off */
static const uint32_t k_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu,
    0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};
/* clang-format on */

uint32_t aether_crc32_update(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    crc = ~crc;
    for (i = 0; i < len; ++i) {
        crc ^= p[i];
        crc = k_nibble[crc & 0x0Fu] ^ (crc >> 4);
        crc = k_nibble[crc & 0x0Fu] ^ (crc >> 4);
    }
    return ~crc;
}

uint32_t aether_crc32(const void *data, size_t len)
{
    return aether_crc32_update(0, data, len);
}
