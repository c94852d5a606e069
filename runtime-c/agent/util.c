/* util.c — the agent's small helpers: fatal errors, raw allocation, the clock, futexes, a spin
 * lock, and a new thread's state. No libc calls that could make syscalls: all of them run on the
 * trap path (inside the SIGSYS handler or the fast path). */
#include "agent.h"

void agent_keep_stderr(void) {
  /* Above the numbers the relay and descriptor parking use, which are taken lowest first; F_DUPFD
   * skips any taken already. Close-on-exec: an exec'd image's agent takes its own copy. */
  long e = RAW3(SYS_fcntl, 2, F_DUPFD_CLOEXEC, MVR_FD_BASE + 48);
  struct stat st;
  if (e < MVR_FD_BASE) return;
  if (RAW2(SYS_fstat, e, &st) != 0) {
    RAW1(SYS_close, e);
    return;
  }
  g_agent.errfd_dev = st.st_dev;
  g_agent.errfd_ino = st.st_ino;
  g_agent.errfd = (int)e;
}

int agent_errfd(void) {
  struct stat st;
  if (g_agent.errfd < MVR_FD_BASE || RAW2(SYS_fstat, g_agent.errfd, &st) != 0 || st.st_dev != g_agent.errfd_dev ||
      st.st_ino != g_agent.errfd_ino)
    return 2;
  return g_agent.errfd;
}

void __attribute__((noreturn)) agent_fatal(const char *msg) {
  RAW3(SYS_write, agent_errfd(), "mvr-agent: ", 11);
  RAW3(SYS_write, agent_errfd(), msg, strlen(msg));
  RAW3(SYS_write, agent_errfd(), "\n", 1);
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

/* Ring k's data area in this process, mapped on first use: a process maps only the rings its own
 * tasks use, so that the agent's address space stays small (programs that limit RLIMIT_AS). */
uint8_t *ring_area(uint32_t ring) {
  if (ring >= g_agent.shm->nrings) agent_fatal("a ring number past --max-tasks");
  uint8_t *p = __atomic_load_n(&g_agent.ring_map[ring], __ATOMIC_ACQUIRE);
  if (p) return p;
  uint64_t size = g_agent.shm->data_size;
  long m = RAW6(SYS_mmap, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED, g_agent.shm_fd,
                (long)(MVR_HDR_SIZE + (uint64_t)ring * size));
  if (m < 0 && m > -4096) agent_fatal("cannot map a ring (the address space is limited: see --ring-size)");
  uint8_t *expected = NULL;
  /* Two threads mapping it at once: one mapping wins, the other is dropped. */
  if (!__atomic_compare_exchange_n(&g_agent.ring_map[ring], &expected, (uint8_t *)m, 0, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST)) {
    RAW2(SYS_munmap, m, size);
    return expected;
  }
  return (uint8_t *)m;
}

/* Whether ring k's task is one of this process's (descriptor messages, exit_group). */
int ring_mine(uint32_t ring) {
  if (ring >= g_agent.shm->nrings) return 0;
  mvr_ringctl *rc = &g_agent.shm->ring[ring];
  return (g_agent.role == ROLE_FOLLOWER ? rc->follower_tgid : rc->leader_tgid) == g_agent.tgid;
}

tstate *tstate_new(uint32_t ring) {
  tstate *ts = raw_alloc(sizeof(tstate));
  if (!ts) agent_fatal("cannot allocate the thread state");
  ts->ring = ring;
  ts->rc = &g_agent.shm->ring[ring];
  ts->data = ring_area(ring);
  ts->view.ctx = ts;
  ts->view.get = view_get;
  __atomic_add_fetch(&g_agent.tasks, 1, __ATOMIC_RELAXED);
  ts->gen = g_agent.gen;
  if (ring < MVR_MAX_RINGS) g_agent.ring_ts[ring] = ts;
  return ts;
}

/* A task's state when it ends (its thread's exit): a program that starts threads all its life
 * must not leave one state (~200 KiB with the look-ahead window) per thread behind. */
void tstate_free(tstate *ts) {
  if (!ts) return;
  __atomic_sub_fetch(&g_agent.tasks, 1, __ATOMIC_RELAXED);
  if (ts->ring < MVR_MAX_RINGS && g_agent.ring_ts[ts->ring] == ts) g_agent.ring_ts[ts->ring] = NULL;
  if (ts->rstate) {
    size_t n = g_rules.state_size ? g_rules.state_size() : 0;
    RAW2(SYS_munmap, ts->rstate, n ? n : 16); /* as follower_thread_init allocated it */
  }
  if (ts->gather) RAW2(SYS_munmap, ts->gather, ts->gather_cap);
  RAW2(SYS_munmap, ts, (sizeof(tstate) + 4095) & ~(size_t)4095);
}
