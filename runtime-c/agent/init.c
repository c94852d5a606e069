/* init.c — start-up: the process-wide agent state, arming and disarming syscall user dispatch,
 * and the constructor that maps the monitor's shared memory and arms the main thread. */
#include "agent.h"

agent_state g_agent = {.role = ROLE_NONE, .mirror_stdio = 1, .fdsock = -1, .shm_fd = -1};

/* Each thread's own selector byte (the kernel reads it at every syscall of the thread that armed
 * it): BLOCK, the agent's own syscalls come from the allowed region instead; ALLOW only while the
 * leader reads the clock through libc (clock.c, sud_allow), whose vDSO may fall back to a syscall
 * the agent records itself. Per thread, so that no other thread's call slips through meanwhile. */
static TLS volatile char t_selector = SELECTOR_BLOCK;

TLS int t_passthrough;
TLS int t_handoff_fork;
TLS int t_armed;
TLS tstate *t_ts;
TLS volatile int t_kicked;
TLS volatile int t_swallowed;

/* ---- start-up ---------------------------------------------------------------------------------- */

void arm_sud(void) {
  long r = RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (long)(uintptr_t)mvr_allowed_start,
                (long)(mvr_allowed_end - mvr_allowed_start), (long)(uintptr_t)&t_selector, 0);
  if (r != 0) agent_fatal("syscall user dispatch is not available (prctl PR_SET_SYSCALL_USER_DISPATCH failed)");
  t_armed = 1;
}

void sud_allow(int on) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  t_selector = on ? 0 : SELECTOR_BLOCK; /* 0: SYSCALL_DISPATCH_FILTER_ALLOW */
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void disarm_sud(void) {
  RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0, 0);
  t_armed = 0;
}

/* Whether this process is a guest of valgrind: its client request RUNNING_ON_VALGRIND (0x1001), the
 * instruction sequence valgrind's JIT recognises (natively, four rotations of %rdi by 128 bits in
 * all and an exchange of %rbx with itself: nothing, and %rdx keeps its 0). */
static int on_valgrind(void) {
  volatile unsigned long req[6] = {0x1001, 0, 0, 0, 0, 0};
  unsigned long res = 0;
  __asm__ volatile("rolq $3, %%rdi ; rolq $13, %%rdi\n\t"
                   "rolq $61, %%rdi ; rolq $51, %%rdi\n\t"
                   "xchgq %%rbx, %%rbx"
                   : "=d"(res)
                   : "a"(&req[0]), "0"(res)
                   : "cc", "memory");
  return res != 0;
}

/* MVR_WRAPPER_EXECS=N[:PID] (set with --follower-env): the follower's command is a wrapper whose
 * first N images are not the program (Debian's valgrind: a shell script, then valgrind's launcher).
 * Each wrapper image passes N-1 on (in place: the program's environment array is not replaced) with
 * the follower's pid, so that processes a wrapper starts (a shell's command substitution) are told
 * apart from the follower itself: they run untouched too. Returns 1 when this image is not the
 * follower proper; the follower proper drops the variable. */
static int wrapper_image(void) {
  const char *w = getenv(MVR_ENV_WRAPPER_EXECS);
  if (!w || !*w) return 0;
  char *end;
  unsigned long n = strtoul(w, &end, 10);
  long pid = *end == ':' ? strtol(end + 1, NULL, 10) : (long)RAW0(SYS_getpid);
  if (pid != RAW0(SYS_getpid)) return 1; /* a process a wrapper image started */
  if (n == 0) {
    unsetenv(MVR_ENV_WRAPPER_EXECS);
    return 0;
  }
  char v[48];
  snprintf(v, sizeof v, "%lu:%ld", n - 1, pid);
  setenv(MVR_ENV_WRAPPER_EXECS, v, 1);
  return 1;
}

__attribute__((constructor)) static void mvr_agent_init(void) {
  fast_init();
  const char *role = getenv(MVR_ENV_ROLE);
  if (!role || !*role) return; /* preloaded outside a monitor: do nothing */
  if (!strcmp(role, "leader")) g_agent.role = ROLE_LEADER;
  else if (!strcmp(role, "follower")) g_agent.role = ROLE_FOLLOWER;
  else agent_fatal("MVR_ROLE must be leader or follower");
  exec_save_env();
  /* An image a followed task exec'd (exec.c): it continues that task's ring. Not passed on to the
   * program's own children. */
  char resume[64] = "";
  const char *ex = getenv(MVR_ENV_EXEC);
  if (ex && *ex) snprintf(resume, sizeof resume, "%s", ex);
  unsetenv(MVR_ENV_EXEC);
  /* A follower's wrapper (exec.c): its images before the program, and the processes they start,
   * run on their own, untouched. */
  if (g_agent.role == ROLE_FOLLOWER && !resume[0] && wrapper_image()) {
    g_agent.role = ROLE_NONE;
    return;
  }
  agent_keep_stderr(); /* before the program can move anything onto fd 2 */
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
  if (resume[0]) {
    if (g_agent.role == ROLE_FOLLOWER) follower_load_rules(getenv(MVR_ENV_RULES));
    ts = exec_resume(resume);
  } else if (g_agent.role == ROLE_FOLLOWER) {
    ts = tstate_new(0);
    follower_load_rules(getenv(MVR_ENV_RULES));
    follower_thread_init(ts);
    const char *handoff = getenv(MVR_ENV_HANDOFF);
    if (handoff && !strcmp(handoff, "1")) {
      g_agent.handoff_follower = 1;
      g_agent.prelude = 1; /* until its first update point (mvr_agent_api.h) */
    }
  } else {
    /* A program exec'd unfollowed finds the flag set (a vfork/posix_spawn child's, or the leader's
     * own once nothing records): this image runs untouched, without trapping. A followed task's
     * exec passes MVR_EXEC instead (above). */
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
  /* Valgrind runs its guest's system calls itself, from its own code: syscall user dispatch would
   * trap every one of valgrind's calls instead of the guest's (valgrind passes the prctl on to the
   * kernel, and then dies of SIGSYS). Nothing of the guest can be intercepted: say so. */
  if (on_valgrind()) {
    mvr_call c;
    memset(&c, 0, sizeof c);
    c.nr = SYS_prctl;
    c.args[0] = PR_SET_SYSCALL_USER_DISPATCH;
    c.args[1] = PR_SYS_DISPATCH_ON;
    const char *why =
        "the program runs under valgrind, which makes its system calls from valgrind's own code: "
        "syscall user dispatch cannot intercept them (see docs/runtime.md, \"Exec, wrappers and valgrind\")";
    if (g_agent.role == ROLE_FOLLOWER) follower_retire(MVR_REPORT_UNSUPPORTED, why, &c, ts->low, MVR_RULE_DEFAULT);
    /* A leader (or `mvrc record`) runs on untouched: its stream ends here, as the recorded
     * events up to the exec of the tool say what happened until then. */
    RAW3(SYS_write, 2, "mvr-agent: not recorded from here on: ", 38);
    RAW3(SYS_write, 2, why, strlen(why));
    RAW3(SYS_write, 2, "\n", 1);
    ring_eof(ts->rc);
    t_ts = NULL;
    g_agent.role = ROLE_NONE;
    return;
  }

  install_sigsys();
  uint64_t unblock = KSIGSYS_BIT;
  RAW4(SYS_rt_sigprocmask, SIG_UNBLOCK, &unblock, 0, 8);
  arm_sud();
}
