/* Percent-encoding of protocol fields (mvr_pct.h). */
#include "mvr_pct.h"

size_t mvr_pct_encode(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    int esc = *p <= 0x20 || *p >= 0x7f || *p == '%';
    if (o + (esc ? 3 : 1) >= cap) break;
    if (esc) {
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    } else {
      out[o++] = (char)*p;
    }
  }
  if (cap) out[o] = 0;
  return o;
}

static int hexval(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : -1;
}

int mvr_pct_decode(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (*p != '%') {
      *o++ = *p;
      continue;
    }
    int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
    if (lo < 0 || (hi == 0 && lo == 0)) return -1;
    *o++ = (char)(hi * 16 + lo);
    p += 2;
  }
  *o = 0;
  return 0;
}
