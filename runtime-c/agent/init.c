/* init.c — start-up: the process-wide agent state, arming and disarming syscall user dispatch,
 * and the constructor that maps the monitor's shared memory and arms the main thread. */
#include "agent.h"

agent_state g_agent = {.role = ROLE_NONE, .mirror_stdio = 1, .fdsock = -1, .shm_fd = -1};

/* Never set to ALLOW: the agent's own syscalls come from the allowed region instead. One byte
 * for all threads. */
static volatile char g_selector = SELECTOR_BLOCK;

TLS int t_passthrough;
TLS int t_handoff_fork;
TLS int t_armed;
TLS tstate *t_ts;
TLS volatile int t_kicked;
TLS volatile int t_swallowed;

/* ---- start-up ---------------------------------------------------------------------------------- */

void arm_sud(void) {
  long r = RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (long)(uintptr_t)mvr_allowed_start,
                (long)(mvr_allowed_end - mvr_allowed_start), (long)(uintptr_t)&g_selector, 0);
  if (r != 0) agent_fatal("syscall user dispatch is not available (prctl PR_SET_SYSCALL_USER_DISPATCH failed)");
  t_armed = 1;
}

void disarm_sud(void) {
  RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0, 0);
  t_armed = 0;
}

__attribute__((constructor)) static void mvr_agent_init(void) {
  fast_init();
  const char *role = getenv(MVR_ENV_ROLE);
  if (!role || !*role) return; /* preloaded outside a monitor: do nothing */
  if (!strcmp(role, "leader")) g_agent.role = ROLE_LEADER;
  else if (!strcmp(role, "follower")) g_agent.role = ROLE_FOLLOWER;
  else agent_fatal("MVR_ROLE must be leader or follower");
  const char *fds = getenv(MVR_ENV_SHM_FD);
  const char *fdsock = getenv(MVR_ENV_FDSOCK);
  if (!fds || !fdsock) agent_fatal("MVR_SHM_FD or MVR_FDSOCK_FD is not set");
  int fd = atoi(fds);
  g_agent.fdsock = atoi(fdsock);
  g_agent.shm_fd = fd;
  g_agent.tgid = (int32_t)RAW0(SYS_getpid);
  /* The header only: each ring's data is mapped once a task of this process uses it (ring_area). */
  g_agent.shm = mmap(NULL, MVR_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (g_agent.shm == MAP_FAILED || g_agent.shm->magic != MVR_SHM_MAGIC || g_agent.shm->version != MVR_SHM_VERSION)
    agent_fatal("cannot map the monitor's shared memory");
  /* The handoff channel is the handoff library's, in this process only: a program that does not
   * use the library must not pass it on to what it execs. (The library clears the flag in the
   * handoff child, which reports on it.) */
  const char *dsu = getenv(MVR_ENV_DSU_CTL_FD);
  if (dsu && *dsu) RAW3(SYS_fcntl, atoi(dsu), F_SETFD, FD_CLOEXEC);
  const char *mirror = getenv(MVR_ENV_MIRROR);
  if (mirror && !strcmp(mirror, "0")) g_agent.mirror_stdio = 0;

  /* glibc's malloc initializes itself on first use with a getrandom() call. The follower's
   * dlopen of the rules module mallocs before SUD is armed; the leader must be in the same state,
   * or its first malloc would record a getrandom the follower never makes. */
  void *volatile first = malloc(16); /* volatile: the pair must not be optimized away */
  free(first);
  /* A version started after earlier role switches starts in the current generation. */
  g_agent.gen = g_agent.shm->switch_gen;
  tstate *ts;
  if (g_agent.role == ROLE_FOLLOWER) {
    ts = tstate_new(0);
    follower_load_rules(getenv(MVR_ENV_RULES));
    follower_thread_init(ts);
    const char *handoff = getenv(MVR_ENV_HANDOFF);
    if (handoff && !strcmp(handoff, "1")) {
      g_agent.handoff_follower = 1;
      g_agent.prelude = 1; /* until its first update point (mvr_agent_api.h) */
    }
  } else {
    /* A program the leader exec'ed (or its children's) finds the flag set: the follower does not
     * follow exec (v1), so this image runs untouched, without trapping. */
    if (__atomic_exchange_n(&g_agent.shm->leader_started, 1, __ATOMIC_SEQ_CST)) {
      g_agent.role = ROLE_NONE;
      return;
    }
    ts = tstate_new(0);
    ts->rc->in_use = 1;
    ts->rc->leader_tgid = g_agent.tgid;
    ts->rc->leader_tid = (int32_t)RAW0(SYS_gettid);
  }
  if (g_agent.role == ROLE_FOLLOWER) ts->rc->follower_tgid = g_agent.tgid;
  t_ts = ts;

  install_sigsys();
  uint64_t unblock = KSIGSYS_BIT;
  RAW4(SYS_rt_sigprocmask, SIG_UNBLOCK, &unblock, 0, 8);
  arm_sud();
}
