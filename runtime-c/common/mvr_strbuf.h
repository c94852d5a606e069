/* A string builder: the one way the runtime's programs build text (messages, reports, JSON,
 * trace lines). Two modes:
 *  - growable (MVR_STRBUF_INIT): allocates with malloc; running out of memory ends the program
 *    (mvr_die). Never for the agent's signal handler.
 *  - fixed (mvr_sb_fixed): writes into a buffer the caller owns, never allocates, never writes
 *    past it: what does not fit is cut (at a byte boundary; hex at a whole byte) and `truncated`
 *    is set. The agent builds its reports this way on its trap path (no malloc, no syscalls). */
#ifndef MVR_STRBUF_H
#define MVR_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* p[len] is always 0 once anything was added; p is NULL (and len 0) before. */
typedef struct mvr_strbuf {
  char *p;
  size_t len, cap;
  int fixed;     /* p is the caller's buffer of cap bytes: never grown, never freed */
  int truncated; /* fixed mode: something did not fit */
} mvr_strbuf;
#define MVR_STRBUF_INIT                                                                                                \
  { NULL, 0, 0, 0, 0 }

/* A builder over buf[0, cap) (cap >= 1), empty: buf[0] = 0. */
void mvr_sb_fixed(mvr_strbuf *b, char *buf, size_t cap);
/* Where the next bytes go and how many may be written there (the terminating 0 included), for
 * functions that format into a (char *, size_t cap); then mvr_sb_advance by what they wrote
 * (clamped to the room). Growable builders get at least `want` bytes of room first. */
char *mvr_sb_tail(mvr_strbuf *b, size_t want, size_t *room);
void mvr_sb_advance(mvr_strbuf *b, size_t n);

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
/* The text as a malloc'ed string the caller frees (never NULL); b is left empty. Growable only. */
char *mvr_sb_take(mvr_strbuf *b);
/* Empties b, keeping its memory for reuse. */
void mvr_sb_clear(mvr_strbuf *b);
void mvr_sb_free(mvr_strbuf *b);

/* A formatted, malloc'ed string the caller frees (never NULL). */
char *mvr_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mvr_vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
