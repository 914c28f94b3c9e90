/* Byte source of the recording readers: buffered file, stream or caller
 * memory. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat, read */
#include "rec_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__unix) || defined(__APPLE__)
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#define REC_POSIX 1
#else
#define REC_POSIX 0
#endif

#define SRC_BUF_BYTES 65536u

/* Regular file: measure it and rewind. 0 ok, -1 when it cannot seek. */
static int measure(rec_source *s)
{
    long end;
    if (fseek(s->f, 0, SEEK_END) != 0 || (end = ftell(s->f)) < 0 || fseek(s->f, 0, SEEK_SET) != 0)
        return -1;
    s->size = (uint64_t)end;
    s->seekable = 1;
    return 0;
}

aether_status aether_rec_src_open_file_(rec_source *s, const char *path)
{
    int regular = 1;
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (strcmp(path, "-") == 0) {
        s->f = stdin;
    } else {
        s->f = fopen(path, "rb");
        if (!s->f)
            return AETHER_ERR_IO;
        s->owns_file = 1;
    }
#if REC_POSIX
    {
        struct stat sb;
        regular = fstat(fileno(s->f), &sb) == 0 && S_ISREG(sb.st_mode);
    }
#endif
    if (!regular || measure(s) != 0) {
#if REC_POSIX
        s->fd = fileno(s->f);
#endif
        s->seekable = 0;
        s->size = UINT64_MAX;
        clearerr(s->f);
    }
    s->buf = (unsigned char *)malloc(SRC_BUF_BYTES);
    if (!s->buf) {
        aether_rec_src_close_(s);
        return AETHER_ERR_NO_MEM;
    }
    return AETHER_OK;
}

void aether_rec_src_open_memory_(rec_source *s, const void *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->seekable = 1;
    s->mem = (const unsigned char *)buf;
    s->size = len;
}

void aether_rec_src_close_(rec_source *s)
{
    if (s->f && s->owns_file)
        fclose(s->f);
    free(s->buf);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* One read into dst: what is available now (a stream), or up to n bytes (a
 * file). 0 at end of data or on error (flags set). */
static size_t read_some(rec_source *s, unsigned char *dst, size_t n)
{
    size_t got;
    if (s->io_error || s->eof)
        return 0;
#if REC_POSIX
    if (s->fd >= 0) {
        ssize_t k;
        do
            k = read(s->fd, dst, n);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            s->io_error = 1;
        else if (k == 0)
            s->eof = 1;
        return k > 0 ? (size_t)k : 0;
    }
#endif
    /* Without read(2) a stream goes a byte at a time: getc never waits for
     * more than the byte it returns. */
    if (!s->seekable) {
        int c = getc(s->f);
        if (c == EOF) {
            if (ferror(s->f))
                s->io_error = 1;
            else
                s->eof = 1;
            return 0;
        }
        dst[0] = (unsigned char)c;
        return 1;
    }
    got = fread(dst, 1, n, s->f);
    if (got == 0) {
        if (ferror(s->f))
            s->io_error = 1;
        else
            s->eof = 1;
    }
    return got;
}

/* Move the unread bytes to the front and read once behind them. */
static size_t fill_more(rec_source *s)
{
    size_t keep = s->buf_len - s->buf_pos, got;
    if (keep > 0 && s->buf_pos > 0)
        memmove(s->buf, s->buf + s->buf_pos, keep);
    s->buf_pos = 0;
    s->buf_len = keep;
    got = read_some(s, s->buf + keep, SRC_BUF_BYTES - keep);
    s->buf_len += got;
    return got;
}

int aether_rec_src_getc_(rec_source *s)
{
    if (s->mem) {
        if (s->pos >= s->size)
            return -1;
        return s->mem[s->pos++];
    }
    if (s->buf_pos == s->buf_len && fill_more(s) == 0)
        return -1;
    s->pos++;
    return s->buf[s->buf_pos++];
}

size_t aether_rec_src_read_(rec_source *s, void *dst, size_t n)
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
        if (s->buf_pos == s->buf_len && fill_more(s) == 0)
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

size_t aether_rec_src_peek_(rec_source *s, size_t want, const unsigned char **p, int *at_end)
{
    size_t avail;
    if (s->mem) {
        *p = s->mem + s->pos;
        *at_end = 1;
        return (size_t)(s->size - s->pos);
    }
    if (s->buf_len - s->buf_pos < want)
        fill_more(s);
    avail = s->buf_len - s->buf_pos;
    *p = s->buf + s->buf_pos;
    *at_end = s->eof || s->io_error;
    return avail;
}

int aether_rec_src_seek_(rec_source *s, uint64_t off)
{
    if (!s->seekable || off > s->size)
        return -1;
    if (!s->mem) {
        if (off > (uint64_t)LONG_MAX || fseek(s->f, (long)off, SEEK_SET) != 0) {
            s->io_error = 1;
            return -1;
        }
        s->buf_pos = s->buf_len = 0;
        s->eof = 0;
    }
    s->pos = off;
    return 0;
}

int aether_rec_src_read_at_(rec_source *s, uint64_t off, void *dst, size_t n)
{
    if (!s->seekable || off > s->size || (uint64_t)n > s->size - off)
        return -1;
    if (aether_rec_src_seek_(s, off) != 0)
        return -1;
    return aether_rec_src_read_(s, dst, n) == n ? 0 : -1;
}
