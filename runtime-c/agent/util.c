/* util.c — the agent's small helpers: fatal errors, raw allocation, the clock, futexes, a spin
 * lock, and a new thread's state. No libc calls that could make syscalls: all of them run on the
 * trap path (inside the SIGSYS handler or the fast path). */
#include "agent.h"

void __attribute__((noreturn)) agent_fatal(const char *msg) {
  RAW3(SYS_write, 2, "mvr-agent: ", 11);
  RAW3(SYS_write, 2, msg, strlen(msg));
  RAW3(SYS_write, 2, "\n", 1);
  if (g_agent.shm && g_agent.role == ROLE_FOLLOWER) {
    /* A follower's failure is a retirement with a reason, never a silent exit. */
    size_t n = strlen(msg);
    if (n >= MVR_REPORT_MAX) n = MVR_REPORT_MAX - 1;
    memcpy(g_agent.shm->report, msg, n);
    g_agent.shm->report[n] = 0;
    __atomic_store_n(&g_agent.shm->report_kind, MVR_REPORT_INTERNAL, __ATOMIC_SEQ_CST);
    RAW1(SYS_exit_group, MVR_FOLLOWER_REPORT_EXIT);
  }
  RAW1(SYS_exit_group, 127);
  __builtin_unreachable();
}

void *raw_alloc(size_t n) {
  long p = RAW6(SYS_mmap, 0, (n + 4095) & ~(size_t)4095, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p < 0 && p > -4096 ? NULL : (void *)p;
}

uint64_t now_ns(void) {
  struct timespec ts;
  RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void futex_wait(volatile uint32_t *word, uint32_t val, uint64_t timeout_ns) {
  struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
  RAW6(SYS_futex, word, FUTEX_WAIT, val, &ts, 0, 0);
}
void futex_wake(volatile uint32_t *word) { RAW6(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, 0, 0, 0); }

/* common/mvr_sys.h (descriptor passing in common/mvr_fdpass.c): raw, never libc, on the trap path. */
long mvr_sys_sendmsg(int fd, const struct msghdr *msg, int flags) { return RAW3(SYS_sendmsg, fd, msg, flags); }
long mvr_sys_recvmsg(int fd, struct msghdr *msg, int flags) { return RAW3(SYS_recvmsg, fd, msg, flags); }
void mvr_sys_close(int fd) { RAW1(SYS_close, fd); }

/* A spin lock for the few process-wide structures threads share (descriptor installation). */
void spin_lock(volatile uint32_t *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) RAW0(SYS_sched_yield);
}
void spin_unlock(volatile uint32_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

tstate *tstate_new(uint32_t ring) {
  tstate *ts = raw_alloc(sizeof(tstate));
  if (!ts) agent_fatal("cannot allocate the thread state");
  ts->ring = ring;
  ts->rc = &g_agent.shm->ring[ring];
  ts->data = g_agent.data + (uint64_t)ring * g_agent.shm->data_size;
  ts->view.ctx = ts;
  ts->view.get = view_get;
  return ts;
}
