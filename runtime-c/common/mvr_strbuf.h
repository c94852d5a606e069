/* A growable string: the one way the runtime's programs build text (messages, reports, JSON,
 * trace lines). It allocates with malloc, so it is never for the agent's signal handler; running
 * out of memory ends the program (mvr_die). */
#ifndef MVR_STRBUF_H
#define MVR_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* p[len] is always 0 once anything was added; p is NULL (and len 0) before. */
typedef struct mvr_strbuf {
  char *p;
  size_t len, cap;
} mvr_strbuf;
#define MVR_STRBUF_INIT {NULL, 0, 0}

/* Room for `more` bytes after the current end (and the terminating 0). */
void mvr_sb_reserve(mvr_strbuf *b, size_t more);
void mvr_sb_addn(mvr_strbuf *b, const void *s, size_t n);
void mvr_sb_add(mvr_strbuf *b, const char *s);
void mvr_sb_addc(mvr_strbuf *b, char c);
void mvr_sb_printf(mvr_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mvr_sb_vprintf(mvr_strbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* A decimal number. */
void mvr_sb_i64(mvr_strbuf *b, int64_t v);
/* n bytes as lowercase hex digits, two per byte. */
void mvr_sb_hex(mvr_strbuf *b, const void *p, size_t n);

/* The text so far ("" when empty); valid until the next change. */
const char *mvr_sb_str(const mvr_strbuf *b);
/* The text as a malloc'ed string the caller frees (never NULL); b is left empty. */
char *mvr_sb_take(mvr_strbuf *b);
/* Empties b, keeping its memory for reuse. */
void mvr_sb_clear(mvr_strbuf *b);
void mvr_sb_free(mvr_strbuf *b);

/* A formatted, malloc'ed string the caller frees (never NULL). */
char *mvr_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mvr_vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
