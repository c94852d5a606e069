/* A fault injector for the fault tests (test/faults-redis.test.ts, MVEDSUA §6.2): preloaded into
 * one version only (`mvrc ctl update --env LD_PRELOAD=fault-inject.so --env MVR_FAULT=crash -- ...`),
 * it wraps read() and, when the data read holds MVR_FAULT_ON (default "HMGET"), does as a bug
 * would: MVR_FAULT=crash writes through a null pointer (SIGSEGV, as Redis 7fb16bac crashed on
 * HMGET), MVR_FAULT=hang spins forever. Neither makes a system call: a call the other version does
 * not make would be a divergence, not the crash or the hang under test. MVR_FAULT=diverge makes
 * that divergence on purpose, as a timer firing at another event would: an extra getpeername() on
 * the connection the command came from.
 *
 * MVR_FAULT_ATTEMPTS=N limits the fault to the first N tries of an update: the monitor tells the
 * new version which try it is in MVR_UPDATE_ATTEMPT (1 for the first; unset counts as 1). A
 * divergence on the first try only is one from timing, which `ctl update --retries` gets past.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -shared -fPIC -o fault-inject.so fault-inject.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef ssize_t (*read_fn)(int, void *, size_t);

ssize_t read(int fd, void *buf, size_t count) {
  static read_fn next;
  if (!next) next = (read_fn)dlsym(RTLD_NEXT, "read");
  ssize_t n = next(fd, buf, count);
  if (n <= 0) return n;
  const char *fault = getenv("MVR_FAULT");
  const char *on = getenv("MVR_FAULT_ON");
  if (!on || !*on) on = "HMGET";
  if (!fault || !memmem(buf, (size_t)n, on, strlen(on))) return n;
  const char *limit = getenv("MVR_FAULT_ATTEMPTS"), *attempt = getenv("MVR_UPDATE_ATTEMPT");
  if (limit && *limit && (attempt && *attempt ? atoi(attempt) : 1) > atoi(limit)) return n;
  if (!strcmp(fault, "diverge")) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    getpeername(fd, (struct sockaddr *)&peer, &len);
  }
  if (!strcmp(fault, "crash")) *(volatile int *)0 = 1;
  if (!strcmp(fault, "hang"))
    for (volatile unsigned long spin = 0;; spin++) {}
  return n;
}
