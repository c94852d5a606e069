/* signals.c — signal-mask hygiene (both roles): the program's handlers, wrapped (recorded by a
 * leader, deferred while a record is written or a follower decides a call); rt_sigaction and
 * rt_sigprocmask as the program sees them; SIGSYS stripped from every mask a call carries
 * (exec_call); and the follower's re-issue of a call after the leader's signal. */
#include "agent.h"

/* ---- the program's handlers, held off while the agent works (both roles) ----------------------- */

/* Set once the program installs a signal handler: until then no signal runs code (fatal and
 * ignored signals run none), and block_signals saves its two rt_sigprocmask calls. */
static volatile int g_handlers_seen;

#define NOT_BLOCKED UINT64_MAX /* no real mask holds SIGKILL and SIGSTOP */

void block_signals(uint64_t *old) {
  *old = NOT_BLOCKED;
  if (!g_handlers_seen) return;
  uint64_t all = ~KSIGSYS_BIT;
  RAW4(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, 8);
}
void restore_signals(const uint64_t *old) {
  if (*old != NOT_BLOCKED) RAW4(SYS_rt_sigprocmask, SIG_SETMASK, old, 0, 8);
}

/* The program's handlers, per signal, as it installed them (the leader installs mvr_sig_wrapper),
 * and what the leader gave the kernel for them (to install again a one-shot SA_RESETHAND handler
 * whose signal was deferred). */
static void *volatile g_app_handler[65];
static volatile unsigned long g_app_flags[65];
static struct ksigaction g_kact[65];

/* A leader's record is written with the program's handlers held off. Blocking every signal costs
 * two rt_sigprocmask calls per record; instead the thread marks the record in progress, and
 * mvr_sig_wrapper defers a handler that arrives meanwhile: record_end raises its signal again,
 * with the same siginfo, once the record is published. The kernel's own bookkeeping (sa_mask,
 * SA_RESTART of an interrupted call) applies at that second delivery. */
void record_begin(tstate *ts) {
  ts->in_record++; /* nested: a producer's call and its record (order.c) */
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void record_end(tstate *ts) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  if (--ts->in_record > 0) return;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  while (ts->deferred) {
    int sig = __builtin_ctzll(ts->deferred) + 1;
    siginfo_t si = ts->deferred_info[sig];
    __atomic_and_fetch(&ts->deferred, ~(1ull << (sig - 1)), __ATOMIC_SEQ_CST);
    /* A one-shot handler was reset to the default action by the first delivery. */
    if (g_app_flags[sig] & SA_RESETHAND) RAW4(SYS_rt_sigaction, sig, &g_kact[sig], 0, 8);
    RAW4(SYS_rt_tgsigqueueinfo, RAW0(SYS_getpid), RAW0(SYS_gettid), sig, &si);
  }
}

/* Whether a handler for `sig` arriving now must wait for the record in progress: not a fault of
 * the agent's own code (deferring it would fault again at once; it runs, as it would kill the
 * process otherwise). */
static int defer_handler(tstate *ts, int sig, const siginfo_t *info) {
  if (!ts || !ts->in_record || sig <= 0 || sig >= 65) return 0;
  int sync = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
  if (sync && info && info->si_code > 0) return 0;
  if (info) ts->deferred_info[sig] = *info;
  else memset(&ts->deferred_info[sig], 0, sizeof ts->deferred_info[sig]);
  __atomic_or_fetch(&ts->deferred, 1ull << (sig - 1), __ATOMIC_SEQ_CST);
  return 1;
}

/* The fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE from the kernel) whose program handler this thread
 * runs, 0: none. A follower's crash handler (Redis's bug report, ...) makes calls the leader never
 * made: its first divergence is reported as the crash it is (follower_retire), not as a mismatch.
 * A handler that recovers and returns (a JIT's, a GC's) diverges in nothing and is unaffected. */
TLS int t_fault_sig;
TLS uintptr_t t_fault_addr;
volatile int g_leader_fault;

/* Follower: whether a signal the kernel delivers runs the program's handler. Only the leader's
 * signals do, each replayed at the leader's event (take_restart, follower_sleep marks it in
 * ts->replaying before raising it), and faults of the follower's own code (they happen in both).
 * Its own asynchronous signals are not the leader's: a timer it armed itself (nginx's SIGALRM),
 * its own children ending (SIGCHLD), a signal sent to its pid. Their handlers would run at points
 * of the follower's own timing and make calls the leader made elsewhere (a SIGCHLD handler's
 * waitpid); the leader's own counterparts of them are replayed instead. A local blocking call such
 * a signal interrupts is made again (agent_call, t_swallowed). */
static int follower_runs_handler(tstate *ts, int sig, const siginfo_t *info) {
  uint64_t bit = 1ull << (sig - 1);
  if (__atomic_load_n(&ts->replaying, __ATOMIC_SEQ_CST) & bit) {
    __atomic_and_fetch(&ts->replaying, ~bit, __ATOMIC_SEQ_CST);
    return 1;
  }
  int sync = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
  if (sync && info && info->si_code > 0) return 1;
  /* The delivery reset a one-shot handler to the default action: put it back for the replay. */
  if (g_app_flags[sig] & SA_RESETHAND) RAW4(SYS_rt_sigaction, sig, &g_kact[sig], 0, 8);
  /* One of its own children ended: reaped if the leader's counterpart was (tasks.c). */
  if (sig == SIGCHLD) follower_reap_pending();
  t_swallowed = 1;
  return 0;
}

static void mvr_sig_wrapper(int sig, siginfo_t *info, void *ctx) {
  void *h = (sig > 0 && sig < 65) ? g_app_handler[sig] : NULL;
  if (!h) return;
  if (g_agent.role == ROLE_FOLLOWER && t_ts && !follower_runs_handler(t_ts, sig, info)) return;
  if (defer_handler(t_ts, sig, info)) return; /* raised again by record_end */
  int fault = (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) && info && info->si_code > 0;
  /* A version's own fault is not an input: it is not recorded, and a leader's handler runs
   * unrecorded (a crash report is not a call the follower must make: the leader's stream ends at
   * the fault, so that the follower takes over when the leader dies of it). A follower with the
   * same bug takes the same fault itself. Recording resumes in this thread if the handler
   * returns. */
  tstate *ts = t_ts;
  int leader_fault = fault && g_agent.role == ROLE_LEADER;
  int outer_fault = g_leader_fault, stopped = ts ? ts->leader_stopped : 0;
  if (leader_fault) g_leader_fault = 1; /* every thread: a crash handler may cancel the others */
  else leader_record_signal(sig, info);
  int outer_sig = t_fault_sig;
  uintptr_t outer_addr = t_fault_addr;
  if (fault) {
    t_fault_sig = sig;
    t_fault_addr = (uintptr_t)info->si_addr;
  }
  if (g_app_flags[sig] & SA_SIGINFO) ((void (*)(int, siginfo_t *, void *))h)(sig, info, ctx);
  else ((void (*)(int))h)(sig);
  t_fault_sig = outer_sig;
  t_fault_addr = outer_addr;
  if (leader_fault) {
    g_leader_fault = outer_fault;
    if (ts) ts->leader_stopped = stopped; /* the other threads that called meanwhile stay stopped */
  }
}

/* ---- signal-mask hygiene (both roles) --------------------------------------------------------- */

long do_rt_sigaction(const int64_t *a) {
  int sig = (int)a[0];
  const struct ksigaction *act = (const struct ksigaction *)(uintptr_t)a[1];
  if (sig == SIGSYS) {
    /* The agent owns SIGSYS: report success and leave the agent's handler in place. */
    if (a[2]) memset((void *)(uintptr_t)a[2], 0, sizeof(struct ksigaction));
    return 0;
  }
  /* Both roles: the leader's wrapper records the signal; the follower's defers a handler that
   * arrives while it decides a call (fast_call); and a version whose role changes keeps them. */
  int wrapped = sig > 0 && sig < 65;
  void *prev_h = wrapped ? g_app_handler[sig] : NULL;
  unsigned long prev_f = wrapped ? g_app_flags[sig] : 0;
  long r;
  if (!act) {
    r = RAW4(SYS_rt_sigaction, a[0], 0, a[2], a[3]);
  } else {
    struct ksigaction k = *act;
    k.mask &= ~KSIGSYS_BIT;
    /* Give the program's handler the agent's restorer, whose rt_sigreturn is in the allowed region. */
    if (k.flags & SA_RESTORER) k.restorer = (void *)mvr_restorer;
    if (wrapped) {
      /* The handlers run through mvr_sig_wrapper (the leader's records the signal first). */
      int real = k.handler != SIG_DFL && k.handler != SIG_IGN;
      if (real) {
        g_handlers_seen = 1;
        g_app_flags[sig] = k.flags;
        g_app_handler[sig] = k.handler;
        k.handler = (void *)mvr_sig_wrapper;
        k.flags |= SA_SIGINFO;
        g_kact[sig] = k;
      }
      r = RAW4(SYS_rt_sigaction, a[0], &k, a[2], a[3]);
      if (r != 0) {
        g_app_handler[sig] = prev_h;
        g_app_flags[sig] = prev_f;
      } else if (!real) {
        g_app_handler[sig] = NULL;
      }
    } else {
      r = RAW4(SYS_rt_sigaction, a[0], &k, a[2], a[3]);
    }
  }
  /* The program sees its own handler as the old one, never the wrapper. */
  if (r == 0 && wrapped && a[2]) {
    struct ksigaction *old = (struct ksigaction *)(uintptr_t)a[2];
    if (old->handler == (void *)mvr_sig_wrapper) {
      old->handler = prev_h;
      old->flags = prev_f | (old->flags & SA_RESTORER);
    }
  }
  return r;
}

/* rt_sigprocmask runs inside the SIGSYS handler, whose return (rt_sigreturn) restores the mask
 * saved in the signal frame: so the call is applied to that saved mask, which then becomes the
 * program's mask when the handler returns. */
long do_rt_sigprocmask(const int64_t *a, ucontext_t *uc) {
  if (a[3] != 8) return -EINVAL;
  uint64_t *mask = (uint64_t *)&uc->uc_sigmask;
  uint64_t old = *mask;
  if (a[1]) {
    uint64_t set = *(const uint64_t *)(uintptr_t)a[1];
    switch (a[0]) {
      case SIG_BLOCK: *mask |= set; break;
      case SIG_UNBLOCK: *mask &= ~set; break;
      case SIG_SETMASK: *mask = set; break;
      default: return -EINVAL;
    }
    *mask &= ~(KSIGSYS_BIT | (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
  }
  if (a[2]) *(uint64_t *)(uintptr_t)a[2] = old;
  return 0;
}

/* Copies the sigset at `p` without SIGSYS into `copy`; returns the address to pass. */
static int64_t strip_set(int64_t p, uint64_t *copy) {
  if (!p) return 0;
  *copy = *(const uint64_t *)(uintptr_t)p & ~KSIGSYS_BIT;
  return (int64_t)(uintptr_t)copy;
}

/* Executes a call for real, with SIGSYS stripped from any mask it carries. */
int64_t exec_call(uint32_t nr, const int64_t *a) {
  int64_t b[6];
  for (int i = 0; i < 6; i++) b[i] = a[i];
  uint64_t m;
  struct {
    uint64_t ss;
    uint64_t len;
  } ps6;
  switch (nr) {
    case SYS_ppoll: b[3] = strip_set(a[3], &m); break;
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2: b[4] = strip_set(a[4], &m); break;
    case SYS_signalfd:
    case SYS_signalfd4: b[1] = strip_set(a[1], &m); break;
    case SYS_rt_sigsuspend: b[0] = strip_set(a[0], &m); break;
    case SYS_pselect6:
      if (a[5]) {
        ps6.ss = ((const uint64_t *)(uintptr_t)a[5])[0];
        ps6.len = ((const uint64_t *)(uintptr_t)a[5])[1];
        ps6.ss = (uint64_t)strip_set((int64_t)ps6.ss, &m);
        b[5] = (int64_t)(uintptr_t)&ps6;
      }
      break;
    default: break;
  }
  return mvr_raw_syscall(nr, b[0], b[1], b[2], b[3], b[4], b[5]);
}

/* The signal mask a call puts in effect while it waits (rt_sigsuspend, ppoll, pselect6,
 * epoll_pwait/2); 0 when it carries none. */
static int call_sigmask(uint32_t nr, const int64_t *a, uint64_t *mask) {
  const uint64_t *p = NULL;
  if (!a) return 0;
  switch (nr) {
    case SYS_rt_sigsuspend: p = (const uint64_t *)(uintptr_t)a[0]; break;
    case SYS_ppoll: p = (const uint64_t *)(uintptr_t)a[3]; break;
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2: p = (const uint64_t *)(uintptr_t)a[4]; break;
    case SYS_pselect6:
      if (a[5]) p = (const uint64_t *)(uintptr_t)((const uint64_t *)(uintptr_t)a[5])[0];
      break;
    default: break;
  }
  if (!p) return 0;
  *mask = *p;
  return 1;
}

/* Follower: runs the program's handler for the leader's signal `sig`, which the leader ran before
 * this thread's next event, at the follower's call `nr` (args `a`; NULL: none that carries a
 * mask). The signal is raised to this thread, marked as a replay (follower_runs_handler). It is
 * delivered as soon as the program's mask `prog` lets it (NULL: the thread's current mask): at
 * the SIGSYS handler's return, or at once on the fast path. A call that carries a mask is where
 * the leader's handler ran when the program's own mask blocks the signal (nginx's master blocks
 * its signals and waits in rt_sigsuspend with none blocked): the signal is delivered here, under
 * the call's mask, as the kernel did during the leader's call, and the mask is then put back. */
void replay_signal(int sig, const siginfo_t *info, uint32_t nr, const int64_t *a, const uint64_t *prog) {
  tstate *ts = t_ts;
  if (!ts || sig <= 0 || sig >= 65) return;
  uint64_t bit = 1ull << (sig - 1);
  /* A signal of the follower's own that waits blocked (its own child's SIGCHLD) would take the
   * replay's place (a standard signal is pending once): it is dropped first. */
  struct timespec zero = {0, 0};
  siginfo_t drop;
  for (int k = 0; k < 64 && RAW4(SYS_rt_sigtimedwait, &bit, &drop, &zero, 8) == sig; k++) {}
  __atomic_or_fetch(&ts->replaying, bit, __ATOMIC_SEQ_CST);
  long pid = RAW0(SYS_getpid), tid = RAW0(SYS_gettid);
  /* The leader's siginfo (nginx logs its sender's pid): a thread may queue any siginfo to itself. */
  siginfo_t si;
  if (info && info->si_signo == sig) si = *info;
  else {
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_TKILL;
    si.si_pid = (pid_t)pid;
  }
  uint64_t during;
  if (call_sigmask(nr, a, &during)) {
    uint64_t m;
    if (prog) m = *prog;
    else RAW4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &m, 8);
    if ((m & bit) && !(during & bit)) {
      uint64_t old;
      during &= ~KSIGSYS_BIT;
      RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &during, &old, 8);
      RAW4(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si); /* its handler runs as this returns */
      RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
      return;
    }
  }
  RAW4(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si);
}

/* Consumes the follower's "re-issue" flag (follower_call abandoned the call `nr`, args `a`) and
 * replays the leader's signal it stands for, if any (replay_signal: `prog` is the program's mask,
 * NULL for the thread's current one). Returns whether the flag was set. */
int take_restart(uint32_t nr, const int64_t *a, const uint64_t *prog) {
  tstate *ts = t_ts;
  if (!ts || !ts->restart) return 0;
  ts->restart = 0;
  int sig = ts->restart_sig;
  ts->restart_sig = 0;
  if (sig) replay_signal(sig, &ts->restart_info, nr, a, prog);
  return 1;
}

/* Points the program back at its syscall instruction, to be re-issued on the handler's return. */
void reissue(greg_t *g, uint32_t nr) {
  g[REG_RIP] -= 2; /* the 2-byte syscall instruction */
  g[REG_RAX] = nr;
}

/* After a follower_call that delivered a signal instead (or took over as the leader): the call is
 * re-issued once the signal's handler has run. */
int follower_restart(greg_t *g, uint32_t nr) {
  if (!take_restart(nr, NULL, NULL)) return 0;
  reissue(g, nr);
  return 1;
}
