/* Strace-like one-line rendering of leader events and follower calls, for reports. */
#ifndef MVR_DECODE_H
#define MVR_DECODE_H
#include <stddef.h>
#include "mvr_rules.h"

/* Both return the number of characters written (never more than cap - 1; the text is NUL-terminated). */
size_t mvr_format_event(char *out, size_t cap, const mvr_event *ev, int has_ret);
size_t mvr_format_call(char *out, size_t cap, const mvr_call *call);
#endif
