/* Small helpers shared by the runtime's C programs (not the agent's signal handler). */
#ifndef MVR_UTIL_H
#define MVR_UTIL_H

#include <stddef.h>

/* Print "PROG: MESSAGE" (mvr_die_errno adds ": strerror(errno)") and exit with status 2, the
 * CLI's status for an environment error. */
void mvr_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void mvr_die_errno(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void mvr_set_prog(const char *name);

/* Allocation that cannot fail: out of memory ends the program (mvr_die), so no caller checks. */
void *mvr_xmalloc(size_t n);
void *mvr_xcalloc(size_t n, size_t size);
void *mvr_xrealloc(void *p, size_t n);
char *mvr_xstrdup(const char *s);

#endif
