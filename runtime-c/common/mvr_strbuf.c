/* The runtime's string builder (mvr_strbuf.h). The fixed mode makes no system call and never
 * allocates (the agent uses it on its trap path); the growable mode uses malloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvr_strbuf.h"
#include "mvr_util.h"

void mvr_sb_fixed(mvr_strbuf *b, char *buf, size_t cap) {
  b->p = buf;
  b->cap = cap;
  b->len = 0;
  b->fixed = 1;
  b->truncated = 0;
  buf[0] = 0;
}

/* Fixed mode: how many of n more bytes fit (the terminating 0 keeps its place). */
static size_t fit(mvr_strbuf *b, size_t n) {
  size_t room = b->cap - 1 - b->len;
  if (n <= room) return n;
  b->truncated = 1;
  return room;
}

void mvr_sb_reserve(mvr_strbuf *b, size_t more) {
  if (b->fixed) return; /* the callers cut what does not fit */
  if (more > SIZE_MAX / 2 - b->len) mvr_die("out of memory");
  size_t need = b->len + more + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  b->p = mvr_xrealloc(b->p, cap);
  b->cap = cap;
}

void mvr_sb_addn(mvr_strbuf *b, const void *s, size_t n) {
  if (b->fixed) n = fit(b, n);
  mvr_sb_reserve(b, n);
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

void mvr_sb_add(mvr_strbuf *b, const char *s) { mvr_sb_addn(b, s, strlen(s)); }

void mvr_sb_addc(mvr_strbuf *b, char c) { mvr_sb_addn(b, &c, 1); }

void mvr_sb_vprintf(mvr_strbuf *b, const char *fmt, va_list ap) {
  if (b->fixed) {
    int k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    if (k > 0) b->len += fit(b, (size_t)k);
    b->p[b->len] = 0;
    return;
  }
  va_list again;
  va_copy(again, ap);
  mvr_sb_reserve(b, 64);
  int k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  if (k < 0) k = 0; /* an encoding error: nothing is added */
  if ((size_t)k >= b->cap - b->len) {
    mvr_sb_reserve(b, (size_t)k);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, again);
  }
  va_end(again);
  b->len += (size_t)k;
  b->p[b->len] = 0;
}

void mvr_sb_printf(mvr_strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  mvr_sb_vprintf(b, fmt, ap);
  va_end(ap);
}

void mvr_sb_i64(mvr_strbuf *b, int64_t v) {
  char tmp[24];
  int k = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
  mvr_sb_addn(b, tmp, (size_t)k);
}

void mvr_sb_hex(mvr_strbuf *b, const void *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *s = p;
  if (b->fixed) {
    size_t room = (b->cap - 1 - b->len) / 2;
    if (n > room) n = room, b->truncated = 1;
  } else if (n > SIZE_MAX / 4) {
    mvr_die("out of memory");
  }
  mvr_sb_reserve(b, 2 * n);
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    o[2 * i] = digits[s[i] >> 4];
    o[2 * i + 1] = digits[s[i] & 15];
  }
  b->len += 2 * n;
  b->p[b->len] = 0;
}

const char *mvr_sb_str(const mvr_strbuf *b) { return b->p ? b->p : ""; }

char *mvr_sb_tail(mvr_strbuf *b, size_t want, size_t *room) {
  mvr_sb_reserve(b, want);
  *room = b->cap - b->len;
  return b->p + b->len;
}

void mvr_sb_advance(mvr_strbuf *b, size_t n) {
  size_t room = b->cap - b->len;
  if (n >= room) { /* the writer cut its text to the room (it keeps a 0 at the end) */
    n = room ? room - 1 : 0;
    b->truncated |= b->fixed;
  }
  b->len += n;
  b->p[b->len] = 0;
}

char *mvr_sb_take(mvr_strbuf *b) {
  if (!b->p) mvr_sb_reserve(b, 0), b->p[0] = 0;
  char *s = b->p;
  b->p = NULL;
  b->len = b->cap = 0;
  return s;
}

void mvr_sb_clear(mvr_strbuf *b) {
  b->len = 0;
  b->truncated = 0;
  if (b->p) b->p[0] = 0;
}

void mvr_sb_free(mvr_strbuf *b) {
  if (b->fixed) { /* the caller's buffer */
    mvr_sb_clear(b);
    return;
  }
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

char *mvr_vfmt(const char *fmt, va_list ap) {
  mvr_strbuf b = MVR_STRBUF_INIT;
  mvr_sb_vprintf(&b, fmt, ap);
  return mvr_sb_take(&b);
}

char *mvr_fmt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = mvr_vfmt(fmt, ap);
  va_end(ap);
  return s;
}
