/* Little-endian loads and stores built from bytes, so wire formats are
 * identical on little- and big-endian hosts and on alignment-strict CPUs. */
#include "aether/core.h"

uint16_t aether_load_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t aether_load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

uint64_t aether_load_le64(const unsigned char *p)
{
    return (uint64_t)aether_load_le32(p) | ((uint64_t)aether_load_le32(p + 4) << 32);
}

float aether_load_lef32(const unsigned char *p)
{
    return aether_f32_from_bits(aether_load_le32(p));
}

void aether_store_le16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v & 0xFFu);
    p[1] = (unsigned char)(v >> 8);
}

void aether_store_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xFFu);
    p[1] = (unsigned char)((v >> 8) & 0xFFu);
    p[2] = (unsigned char)((v >> 16) & 0xFFu);
    p[3] = (unsigned char)(v >> 24);
}

void aether_store_le64(unsigned char *p, uint64_t v)
{
    aether_store_le32(p, (uint32_t)(v & 0xFFFFFFFFu));
    aether_store_le32(p + 4, (uint32_t)(v >> 32));
}

void aether_store_lef32(unsigned char *p, float v)
{
    aether_store_le32(p, aether_f32_bits(v));
}
