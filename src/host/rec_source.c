/* Byte source of the recording readers: buffered file or caller memory. */
#include "rec_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define SRC_BUF_BYTES 65536u

aether_status aether_rec_src_open_file(rec_source *s, const char *path)
{
    long end;
    memset(s, 0, sizeof *s);
    s->f = fopen(path, "rb");
    if (!s->f)
        return AETHER_ERR_IO;
    if (fseek(s->f, 0, SEEK_END) != 0 || (end = ftell(s->f)) < 0 || fseek(s->f, 0, SEEK_SET) != 0) {
        fclose(s->f);
        s->f = NULL;
        return AETHER_ERR_IO;
    }
    s->size = (uint64_t)end;
    s->buf = (unsigned char *)malloc(SRC_BUF_BYTES);
    if (!s->buf) {
        fclose(s->f);
        s->f = NULL;
        return AETHER_ERR_NO_MEM;
    }
    return AETHER_OK;
}

void aether_rec_src_open_memory(rec_source *s, const void *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->mem = (const unsigned char *)buf;
    s->size = len;
}

void aether_rec_src_close(rec_source *s)
{
    if (s->f)
        fclose(s->f);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static int refill(rec_source *s)
{
    size_t n;
    s->buf_pos = 0;
    s->buf_len = 0;
    if (s->io_error)
        return -1;
    n = fread(s->buf, 1, SRC_BUF_BYTES, s->f);
    if (n == 0) {
        if (ferror(s->f))
            s->io_error = 1;
        return -1;
    }
    s->buf_len = n;
    return 0;
}

int aether_rec_src_getc(rec_source *s)
{
    if (s->mem) {
        if (s->pos >= s->size)
            return -1;
        return s->mem[s->pos++];
    }
    if (s->buf_pos == s->buf_len && refill(s) != 0)
        return -1;
    s->pos++;
    return s->buf[s->buf_pos++];
}

size_t aether_rec_src_read(rec_source *s, void *dst, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    size_t got = 0;
    if (s->mem) {
        uint64_t left = s->size - s->pos;
        got = (uint64_t)n < left ? n : (size_t)left;
        memcpy(d, s->mem + s->pos, got);
        s->pos += got;
        return got;
    }
    while (got < n) {
        size_t take;
        if (s->buf_pos == s->buf_len && refill(s) != 0)
            break;
        take = s->buf_len - s->buf_pos;
        if (take > n - got)
            take = n - got;
        memcpy(d + got, s->buf + s->buf_pos, take);
        s->buf_pos += take;
        got += take;
    }
    s->pos += got;
    return got;
}

int aether_rec_src_seek(rec_source *s, uint64_t off)
{
    if (off > s->size)
        return -1;
    if (!s->mem) {
        if (off > (uint64_t)LONG_MAX || fseek(s->f, (long)off, SEEK_SET) != 0) {
            s->io_error = 1;
            return -1;
        }
        s->buf_pos = s->buf_len = 0;
    }
    s->pos = off;
    return 0;
}

int aether_rec_src_read_at(rec_source *s, uint64_t off, void *dst, size_t n)
{
    if (off > s->size || (uint64_t)n > s->size - off)
        return -1;
    if (aether_rec_src_seek(s, off) != 0)
        return -1;
    return aether_rec_src_read(s, dst, n) == n ? 0 : -1;
}
