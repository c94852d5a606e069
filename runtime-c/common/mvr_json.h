/* JSON output on top of mvr_strbuf (not for the agent's signal handler). */
#ifndef MVR_JSON_H
#define MVR_JSON_H

#include <stddef.h>

#include "mvr_strbuf.h"

/* Appends s as a JSON string, quotes included, so that the output is always valid JSON and valid
 * UTF-8 whatever s holds: valid UTF-8 sequences pass through unchanged; `"`, `\` and control
 * characters (below U+0020, and U+007F) are escaped; each byte that does not belong to a valid
 * sequence (a stray continuation byte, a truncated or overlong sequence, a surrogate, a code
 * point above U+10FFFF) becomes U+FFFD. NULL is the empty string. */
void mvr_json_str(mvr_strbuf *b, const char *s);
/* The same for n bytes (a 0 byte among them is escaped as \u0000). */
void mvr_json_strn(mvr_strbuf *b, const char *s, size_t n);

/* The length (2 to 4) of the valid multi-byte UTF-8 sequence that starts s (n bytes available),
 * or 0 when it does not start one. */
size_t mvr_utf8_seq_len(const unsigned char *s, size_t n);

#endif
