#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aether/core.h"

void textbuf_init(textbuf *t, char *mem, size_t cap)
{
    t->p = mem;
    t->cap = cap;
    textbuf_clear(t);
}

void textbuf_clear(textbuf *t)
{
    t->len = 0;
    t->overflow = t->cap == 0;
    if (t->cap)
        t->p[0] = '\0';
}

void textbuf_printf(textbuf *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room;
    if (t->overflow)
        return;
    room = t->cap - t->len;
    va_start(ap, fmt);
    n = vsnprintf(t->p + t->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        t->overflow = 1;
        t->p[t->len] = '\0';
        return;
    }
    t->len += (size_t)n;
}

void textbuf_putc(textbuf *t, char c)
{
    if (t->overflow)
        return;
    if (t->len + 1 >= t->cap) {
        t->overflow = 1;
        return;
    }
    t->p[t->len++] = c;
    t->p[t->len] = '\0';
}

void textbuf_json_string(textbuf *t, const char *s)
{
    textbuf_putc(t, '"');
    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            textbuf_putc(t, '\\');
            textbuf_putc(t, (char)c);
        } else if (c < 0x20) {
            textbuf_printf(t, "\\u%04x", (unsigned)c);
        } else {
            textbuf_putc(t, (char)c);
        }
    }
    textbuf_putc(t, '"');
}

void textbuf_json_float(textbuf *t, float x)
{
    if (aether_isfinite(x))
        textbuf_printf(t, "%.9g", (double)x);
    else
        textbuf_printf(t, "null");
}
