/* A text buffer over caller memory for JSON lines and MQTT payloads: appends
 * never allocate; what does not fit sets `overflow` and is cut, so a caller
 * checks once at the end. */
#ifndef AETHER_TOOLS_TEXTBUF_H
#define AETHER_TOOLS_TEXTBUF_H

#include <stddef.h>

typedef struct textbuf {
    char *p;
    size_t len, cap; /* p[len] is always '\0' (cap >= 1) */
    int overflow;
} textbuf;

void textbuf_init(textbuf *t, char *mem, size_t cap);
void textbuf_clear(textbuf *t);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void textbuf_printf(textbuf *t, const char *fmt, ...);
void textbuf_putc(textbuf *t, char c);
/* s as a JSON string literal (quotes, backslashes, control characters escaped). */
void textbuf_json_string(textbuf *t, const char *s);
/* x as JSON: %.9g (gives back the exact float), null for NaN and Inf. */
void textbuf_json_float(textbuf *t, float x);

#endif
