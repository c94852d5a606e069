/* JSON string escaping (mvr_json.h). libc only; not for the agent's signal handler. */
#include <string.h>

#include "mvr_json.h"

size_t mvr_utf8_seq_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte (RFC 3629, section 4) */
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;      /* overlong */
    else if (c == 0xed) hi = 0x9f; /* surrogates U+D800..U+DFFF */
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;      /* overlong */
    else if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
  } else {
    return 0; /* ASCII, a continuation byte, C0/C1 (overlong), F5..FF */
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return len;
}

void mvr_json_strn(mvr_strbuf *b, const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  mvr_sb_reserve(b, n + 2);
  mvr_sb_addc(b, '"');
  size_t i = 0;
  while (i < n) {
    /* The longest run that needs no escaping is copied at once. */
    size_t j = i;
    while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\') j++;
    if (j > i) mvr_sb_addn(b, s + i, j - i);
    i = j;
    if (i >= n) break;
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t k = mvr_utf8_seq_len(s + i, n - i);
      if (k) mvr_sb_addn(b, s + i, k);
      else mvr_sb_add(b, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
      i += k ? k : 1;
      continue;
    }
    switch (c) {
      case '"': mvr_sb_add(b, "\\\""); break;
      case '\\': mvr_sb_add(b, "\\\\"); break;
      case '\n': mvr_sb_add(b, "\\n"); break;
      case '\r': mvr_sb_add(b, "\\r"); break;
      case '\t': mvr_sb_add(b, "\\t"); break;
      case '\b': mvr_sb_add(b, "\\b"); break;
      case '\f': mvr_sb_add(b, "\\f"); break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        mvr_sb_addn(b, esc, sizeof esc);
      }
    }
    i++;
  }
  mvr_sb_addc(b, '"');
}

void mvr_json_str(mvr_strbuf *b, const char *s) { mvr_json_strn(b, s ? s : "", s ? strlen(s) : 0); }
