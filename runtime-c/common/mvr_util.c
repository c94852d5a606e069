/* One error convention for the runtime's programs: `die` prints "PROG: message" and exits 2. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mvr_util.h"

static const char *prog = "mvr";

void mvr_set_prog(const char *name) { prog = name; }

static void __attribute__((noreturn)) vdie(int err, const char *fmt, va_list ap) {
  fprintf(stderr, "%s: ", prog);
  vfprintf(stderr, fmt, ap);
  if (err) fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  exit(2);
}

void mvr_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vdie(0, fmt, ap);
}

void mvr_die_errno(const char *fmt, ...) {
  int err = errno;
  va_list ap;
  va_start(ap, fmt);
  vdie(err, fmt, ap);
}

void *mvr_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) mvr_die("out of memory");
  return p;
}

void *mvr_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) mvr_die("out of memory");
  return p;
}

void *mvr_xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) mvr_die("out of memory");
  return p;
}

char *mvr_xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) mvr_die("out of memory");
  return d;
}
