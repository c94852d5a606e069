/* Strace-like one-line rendering of leader events and follower calls, for reports, from the
 * syscall model (compiler/syscalls/x86_64.tsv). */
#ifndef MVR_DECODE_H
#define MVR_DECODE_H
#include <stddef.h>
#include "mvr_rules.h"

/* Both return the number of characters written (never more than cap - 1; the text is NUL-terminated). */
size_t mvr_format_event(char *out, size_t cap, const mvr_event *ev, int has_ret);
size_t mvr_format_call(char *out, size_t cap, const mvr_call *call);
/* Where the follower's call does not mean what the leader's event means (the default match's
 * first differing input, docs/semantics.md): the argument, both values, and for bytes the first
 * byte that differs with the bytes around it. */
size_t mvr_format_difference(char *out, size_t cap, const mvr_event *ev, const mvr_call *call);
/* Rule `idx` of a module's table (info, count; NULL, 0 when the module is not at hand) as reports
 * show it: "file:line:col @name: text", or the default rule for MVR_RULE_DEFAULT. */
size_t mvr_format_rule(char *out, size_t cap, const mvr_rule_info *info, uint32_t count, uint32_t idx);
#endif
