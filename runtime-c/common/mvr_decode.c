/* Strace-like rendering: `write(1, "hello\n", 6) = 6`. Byte buffers are shown as C strings cut at
 * 48 bytes ("..." marks the cut); pointers whose memory is not known are shown in hex. */
#include <stdio.h>
#include <string.h>
#include "mvr_decode.h"
#include "mvr_params.h"

#define SHOW_BYTES 48

typedef struct sink {
  char *p;
  size_t cap, n;
} sink;

static void put(sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void put(sink *s, const char *fmt, ...) {
  if (s->n + 1 >= s->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
  va_end(ap);
  if (k < 0) return;
  s->n += (size_t)k;
  if (s->n >= s->cap) s->n = s->cap - 1;
}

static void put_bytes(sink *s, const uint8_t *b, uint64_t len) {
  put(s, "\"");
  uint64_t shown = len < SHOW_BYTES ? len : SHOW_BYTES;
  for (uint64_t i = 0; i < shown; i++) {
    uint8_t c = b[i];
    if (c == '\n') put(s, "\\n");
    else if (c == '\r') put(s, "\\r");
    else if (c == '\t') put(s, "\\t");
    else if (c == '"' || c == '\\') put(s, "\\%c", c);
    else if (c >= 32 && c < 127) put(s, "%c", c);
    else put(s, "\\x%02x", c);
  }
  put(s, "\"%s", len > shown ? "..." : "");
}

static void put_args(sink *s, uint32_t nr, const int64_t *args, const uint8_t *const *buf, const uint64_t *len) {
  put(s, "%s(", mvr_si_name(nr));
  unsigned arity = mvr_si_arity(nr);
  for (unsigned i = 0; i < arity && i < 6; i++) {
    if (i) put(s, ", ");
    int k = mvr_si_kind(nr, i);
    if (k == MVR_K_SCALAR) put(s, "%lld", (long long)args[i]);
    else if (args[i] == 0) put(s, "NULL");
    else if ((mvr_kind_is_in(k) || mvr_kind_is_out(k)) && buf && buf[i]) put_bytes(s, buf[i], len[i]);
    else put(s, "0x%llx", (unsigned long long)args[i]);
  }
  put(s, ")");
}

size_t mvr_format_event(char *out, size_t cap, const mvr_event *ev, int has_ret) {
  sink s = {out, cap, 0};
  if (cap) out[0] = 0;
  put_args(&s, ev->nr, ev->args, ev->buf, ev->buf_len);
  if (!has_ret) put(&s, " = ?");
  else if (ev->ret < 0 && ev->ret > -4096) put(&s, " = -1 (errno %lld: %s)", (long long)-ev->ret, strerror((int)-ev->ret));
  else put(&s, " = %lld", (long long)ev->ret);
  return s.n;
}

size_t mvr_format_call(char *out, size_t cap, const mvr_call *call) {
  sink s = {out, cap, 0};
  if (cap) out[0] = 0;
  put_args(&s, call->nr, call->args, call->buf, call->buf_len);
  return s.n;
}
