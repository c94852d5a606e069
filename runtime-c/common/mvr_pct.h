/* mvr_pct.h — the percent-encoding of the control and handoff protocols' fields (a field never
 * holds a raw space, newline or '%': every byte <= 0x20, >= 0x7f and '%' becomes %XX). The one C
 * implementation, for the monitor and the handoff library; compiler/cli/ctl.ts encodeWord is the
 * TypeScript encoder (test/pct.test.ts checks the two agree). No allocation, no system call. */
#ifndef MVR_PCT_H
#define MVR_PCT_H

#include <stddef.h>

/* Encodes s into out[0, cap) (cap >= 1), NUL-terminated; only whole escapes are written (what
 * does not fit is left out). Returns the length written. */
size_t mvr_pct_encode(char *out, size_t cap, const char *s);

/* Decodes s in place. Returns 0, or -1 on a bad escape ('%' not followed by two hex digits, or
 * %00, which would cut the field); s is then unspecified. */
int mvr_pct_decode(char *s);

#endif
