/* libmvr-agent.so — the in-process half of the mvr runtime, preloaded into both versions.
 *
 * The constructor arms syscall user dispatch (SUD): every syscall the program makes outside the
 * agent's allowed region (trampoline.S) raises SIGSYS, and the handler below decides what happens.
 *
 * Leader: executes the call and appends an event to the shared ring (mvr_ring.h).
 * Follower: asks the rule module (rules.so, or the built-in default matcher) what to do with the
 * call given the leader's events, and gets its results from the leader; it never touches the world.
 *
 * Policy v1:
 *  - Calls whose effect is 'local' in the syscall table (mmap, munmap, mprotect, brk, madvise,
 *    rt_sigprocmask, futex, ...) are not recorded by the leader and are executed by the follower
 *    directly, without matching: allocation patterns differ between versions and these calls have
 *    no effect outside the process. Exception: local calls that create descriptors (socket, pipe,
 *    epoll_create, eventfd, dup...) are recorded and matched like the others, because the
 *    follower must hold the same descriptors under the same numbers; and wait4/waitid, whose
 *    results name the leader's child processes.
 *  - Descriptors: for every event that creates descriptors the leader passes them over a socket
 *    (SCM_RIGHTS) and the follower installs them under the leader's numbers (dup3), so both hold
 *    the same kernel objects; a matched close() also closes the follower's copy.
 *  - Every other follower call is matched; the follower executes a call only when the rule module
 *    says EXEC (which the compiler allows only for local/read-only/private effects). Writes to the
 *    follower's own fd 1/2 (its log, set up by the monitor) are additionally performed, after
 *    matching, so that its output can be read in the log (MVR_MIRROR_STDIO=0 turns this off).
 *  - exit/exit_group are recorded before they run and matched, so a different exit is a divergence.
 *  - Threads: the leader's k-th new thread and the follower's k-th new thread are paired and share
 *    ring k (main threads: ring 0). The follower's clone is matched against the leader's, then
 *    really performed (its threads are its own); each new thread arms syscall user dispatch for
 *    itself on its first instruction (trampoline.S), as SUD is not inherited.
 *  - Processes: fork (and clone without CLONE_VM) pairs child processes the same way: the
 *    follower's fork is matched against the leader's (recorded after it, with the child's pid,
 *    which the follower's parent sees) and really performed; the child arms SUD for itself
 *    (mvr_after_create). vfork/posix_spawn/system (CLONE_VM without a thread) run unfollowed in
 *    the leader; the follower creates nothing and gets the leader's result, as the spawned
 *    program's effects are external. execve: recorded, run by the leader (the new image runs
 *    untouched); a follower reaching one is retired as "unsupported". Rings are not reused: at
 *    most 15 threads and child processes are followed; a follower needing more is retired.
 *  - Once the follower is gone (and no journal is kept), the leader's threads disarm SUD and run
 *    natively.
 *  - Signals: SIGSYS is kept deliverable (stripped from every mask the program sets, handlers for
 *    it refused). The handlers are wrapped in both roles (so that they are deferred while the
 *    agent works on a call, and recorded once a version leads): a signal handled by the leader is recorded
 *    in the ring before the events its handler makes, and the follower raises the same signal on
 *    itself when it reaches that point, before the call it was about to make (which it re-issues
 *    after its handler). Signals ignored or fatal in the leader need no replay.
 *
 * The handler uses only raw syscalls from the allowed region and no allocation. The program's
 * signal handlers get the agent's restorer (in the allowed region) so their rt_sigreturn never traps.
 *
 * Fast path: the agent exports libc's wrappers of the hot calls (read, write, epoll_wait, ...) and
 * of the vDSO time functions; they run the handler's logic (agent_call) without the SIGSYS round
 * trip, and make the call natively in a thread the agent does not intercept (see "the fast path"
 * below and docs/runtime.md).
 *
 * Live update (docs/lifecycle.md): while `journal_valid` is set, a leader without a follower keeps
 * SUD armed and records into the rings as a journal (nothing is released until the journal bound),
 * so that a new version started later replays its whole history. Role switch (promotion,
 * rollback from the updated-leader stage, failover): mvr_promote in mvr_ring.h; single-threaded
 * programs only (ring 0).
 *
 * Not in v1: following exec, reusing rings, calling mvr_rules_finish at the follower's exit,
 * signals for rules with look-ahead across a signal, role switch of multi-threaded programs.
 */
#undef _FORTIFY_SOURCE /* the agent defines read, write, recv... itself (the fast path's wrappers) */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/prctl.h>
#include <linux/sched.h>

#include "mvr_rules.h"
#include "../common/mvr_ring.h"
#include "../common/mvr_params.h"
#include "../common/mvr_decode.h"
#include "default_matcher.h"
#include "mvr_agent_api.h"

#define EXPORT __attribute__((visibility("default")))
#define HIDDEN __attribute__((visibility("hidden")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* trampoline.S */
extern char mvr_allowed_start[] HIDDEN, mvr_allowed_end[] HIDDEN;
extern void mvr_restorer(void) HIDDEN;
extern void mvr_create_stub(void) HIDDEN;
extern void mvr_thread_stub(void) HIDDEN;
long mvr_raw_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) HIDDEN;
void mvr_thread_start(uint64_t ring) HIDDEN;
long mvr_after_create(long ret) HIDDEN;
/* The application's return address for the creation stubs (per thread). */
HIDDEN TLS uint64_t mvr_native_ret;
/* A process creation in flight in this thread (set by the handler, read by mvr_after_create). */
static TLS struct {
  uint32_t nr, follow; /* follow: the child is a new process paired with the other version's */
  uint64_t ring;       /* the child's ring, or ~0 */
  int64_t args[6];
  int64_t leader_ret;  /* follower: the leader's result, which the follower's program sees */
  int armed;           /* the parent's t_armed (a vfork child shares, and clears, the parent's) */
} t_create;

#define RAW0(n) mvr_raw_syscall((n), 0, 0, 0, 0, 0, 0)
#define RAW1(n, a) mvr_raw_syscall((n), (long)(a), 0, 0, 0, 0, 0)
#define RAW2(n, a, b) mvr_raw_syscall((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define RAW3(n, a, b, c) mvr_raw_syscall((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define RAW4(n, a, b, c, d) mvr_raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define RAW6(n, a, b, c, d, e, f) \
  mvr_raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif
#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef PR_SYS_DISPATCH_OFF
#define PR_SYS_DISPATCH_OFF 0
#endif
#define SELECTOR_BLOCK 1
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 /* x86-64 kernel ABI; glibc does not export it */
#endif

enum role { ROLE_NONE = 0, ROLE_LEADER, ROLE_FOLLOWER };

static enum role g_role;
static mvr_shared *g_shm;
static uint8_t *g_data;
/* Never set to ALLOW: the agent's own syscalls come from the allowed region instead. One byte
 * for all threads. */
static volatile char g_selector = SELECTOR_BLOCK;
static int g_mirror_stdio = 1;
static int g_fdsock = -1; /* descriptor channel (mvr_ring.h) */
/* Set while the agent itself runs library code that makes syscalls (loading the backward rules at
 * a role switch): those calls are executed as they are, never recorded or matched. */
static TLS int t_passthrough;
/* Handoff (docs/handoff.md, "Under multi-version execution"). Leader: the next fork of this
 * thread is the handoff fork. Follower started by a handoff: it has not reached its first update
 * point yet (the prelude: its state is being loaded; only local calls are allowed). */
static TLS int t_handoff_fork;
static int g_handoff_follower;
static volatile int g_prelude;
/* Whether syscall user dispatch is armed for this thread (set by arm_sud, cleared where the agent
 * disarms it or in a new process before it arms itself): the fast path's wrappers go through the
 * agent only then, and otherwise make the call natively, as an unarmed thread's calls are. */
static TLS int t_armed;

/* Whether the leader records: a follower is attached, or the journal is still being kept. */
static inline int recording(void) {
  return (g_shm->follower_attached || g_shm->journal_valid) && !g_shm->overflow;
}

/* ---- per-thread state ------------------------------------------------------------------------- */

#define WIN 1024u /* parsed look-ahead window (events), well above MVR_MAX_LEADER_ACTIONS */
/* How long the follower waits for a leader thread's next event before it decides a call that
 * needs look-ahead as if the leader's stream ended there (follower_call). */
#define IDLE_LOOKAHEAD_NS (100u * 1000000u)

typedef struct parsed {
  mvr_event ev;
  uint64_t pos; /* ring position of the record */
  uint32_t flags;
  uint64_t ep_data; /* epoll_ctl: the leader's epoll_event.data (blanked in the event itself) */
} parsed;

typedef struct tstate {
  uint32_t ring;
  mvr_ringctl *rc;
  uint8_t *data;
  int leader_stopped; /* leader: this thread stopped recording (follower gone, ring overflow) */
  /* follower */
  uint64_t scan_pos;   /* next record position to parse */
  uint64_t scan_index; /* index of the next event to parse */
  uint64_t low;        /* lowest event index still held */
  void *rstate;        /* the rule module's matcher state */
  int pending_sig;     /* a leader signal record is next in the ring */
  int idle_eof;        /* deciding as if the leader's stream ended here (see follower_call) */
  uint64_t wait_head;  /* follower_wait_events: the ring head when it started waiting, and when */
  uint64_t wait_start;
  int restart;         /* the current call is abandoned: re-issue it after the signal's handler */
  int restart_sig;     /* ... the leader's signal to raise first (0: none, e.g. after a take-over) */
  /* leader */
  volatile int in_record;     /* a record is being written (record_begin): handlers are deferred */
  volatile uint64_t deferred; /* signals whose handler was deferred (bit sig-1), with their info */
  siginfo_t deferred_info[65];
  mvr_leader_view view;
  mvr_step step;
  parsed win[WIN];
} tstate;

static TLS tstate *t_ts;

/* Rings owned by this process's threads (a fork child owns only its own). Used to end exactly
 * this process's streams at exit_group, and to route descriptor messages. */
static volatile uint32_t g_my_rings = 1u;

/* ---- small helpers (no libc calls that could make syscalls) ---------------------------------- */

/* The kernel's sigset for rt_sigaction/rt_sigprocmask is 8 bytes on x86-64. */
#define KSIGSYS_BIT (1ull << (SIGSYS - 1))

struct ksigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

static void __attribute__((noreturn)) agent_fatal(const char *msg) {
  RAW3(SYS_write, 2, "mvr-agent: ", 11);
  RAW3(SYS_write, 2, msg, strlen(msg));
  RAW3(SYS_write, 2, "\n", 1);
  if (g_shm && g_role == ROLE_FOLLOWER) {
    /* A follower's failure is a retirement with a reason, never a silent exit. */
    size_t n = strlen(msg);
    if (n >= MVR_REPORT_MAX) n = MVR_REPORT_MAX - 1;
    memcpy(g_shm->report, msg, n);
    g_shm->report[n] = 0;
    __atomic_store_n(&g_shm->report_kind, MVR_REPORT_INTERNAL, __ATOMIC_SEQ_CST);
    RAW1(SYS_exit_group, MVR_FOLLOWER_REPORT_EXIT);
  }
  RAW1(SYS_exit_group, 127);
  __builtin_unreachable();
}

static void *raw_alloc(size_t n) {
  long p = RAW6(SYS_mmap, 0, (n + 4095) & ~(size_t)4095, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p < 0 && p > -4096 ? NULL : (void *)p;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void futex_wait(volatile uint32_t *word, uint32_t val, uint64_t timeout_ns) {
  struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
  RAW6(SYS_futex, word, FUTEX_WAIT, val, &ts, 0, 0);
}
static void futex_wake(volatile uint32_t *word) { RAW6(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, 0, 0, 0); }

/* Set once the program installs a signal handler: until then no signal runs code (fatal and
 * ignored signals run none), and block_signals saves its two rt_sigprocmask calls. */
static volatile int g_handlers_seen;

#define NOT_BLOCKED UINT64_MAX /* no real mask holds SIGKILL and SIGSTOP */

static void block_signals(uint64_t *old) {
  *old = NOT_BLOCKED;
  if (!g_handlers_seen) return;
  uint64_t all = ~KSIGSYS_BIT;
  RAW4(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, 8);
}
static void restore_signals(const uint64_t *old) {
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
static void record_begin(tstate *ts) {
  ts->in_record = 1;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void record_end(tstate *ts) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  ts->in_record = 0;
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

/* A spin lock for the few process-wide structures threads share (descriptor installation). */
static void spin_lock(volatile uint32_t *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) RAW0(SYS_sched_yield);
}
static void spin_unlock(volatile uint32_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

static const mvr_event *view_get(void *ctx, uint64_t index, int *eof);

static tstate *tstate_new(uint32_t ring) {
  tstate *ts = raw_alloc(sizeof(tstate));
  if (!ts) agent_fatal("cannot allocate the thread state");
  ts->ring = ring;
  ts->rc = &g_shm->ring[ring];
  ts->data = g_data + (uint64_t)ring * g_shm->data_size;
  ts->view.ctx = ts;
  ts->view.get = view_get;
  return ts;
}

/* ---- descriptors ------------------------------------------------------------------------------
 * Calls that create descriptors (socket, accept, open, pipe, epoll_create, dup...) are recorded
 * and matched even when their effect is local, and the leader passes the new descriptors to the
 * follower, which installs them under the same numbers: both hold the same kernel objects. */

static int creates_fds(uint32_t nr) {
  return nr == SYS_pipe || nr == SYS_pipe2 || nr == SYS_socketpair || mvr_si_returns_fd(nr);
}

/* The descriptors a successful call created; returns how many (0..2). */
static unsigned created_fds(uint32_t nr, const int64_t *a, int64_t ret, int32_t fds[2]) {
  if (ret < 0) return 0;
  const int *pair = NULL;
  if (nr == SYS_pipe || nr == SYS_pipe2) pair = (const int *)(uintptr_t)a[0];
  else if (nr == SYS_socketpair) pair = (const int *)(uintptr_t)a[3];
  if (pair) {
    fds[0] = pair[0];
    fds[1] = pair[1];
    return 2;
  }
  if (mvr_si_returns_fd(nr)) {
    fds[0] = (int32_t)ret;
    return 1;
  }
  return 0;
}

/* Sends the descriptors event `index` of this thread's ring created; 0 when the channel failed
 * (it never blocks: a full channel retires the follower, not the leader). */
static int leader_send_fds(tstate *ts, uint32_t nr, const int64_t *args, int64_t ret, uint64_t index) {
  mvr_fdmsg m;
  memset(&m, 0, sizeof m);
  m.event = index;
  m.ring = ts->ring;
  m.n = created_fds(nr, args, ret, m.fds);
  if (m.n == 0) return 1;
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(2 * sizeof(int))];
  } cm;
  memset(&cm, 0, sizeof cm);
  struct iovec iov = {&m, sizeof m};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = CMSG_SPACE(m.n * sizeof(int))};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(m.n * sizeof(int));
  memcpy(CMSG_DATA(c), m.fds, m.n * sizeof(int));
  long r;
  do r = RAW3(SYS_sendmsg, g_fdsock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r == -EINTR);
  if (r < 0) {
    g_shm->fd_error = (int32_t)-r;
    __atomic_store_n(&g_shm->overflow, 1, __ATOMIC_SEQ_CST);
    return 0;
  }
  return 1;
}

/* ---- leader: recording ---------------------------------------------------------------------- */

/* Waits until `need` bytes are free; returns 0 when the follower is gone or the bound passed. */
static int leader_wait_space(tstate *ts, uint64_t need) {
  mvr_ringctl *rc = ts->rc;
  uint64_t size = g_shm->data_size;
  uint64_t start = 0;
  if (__atomic_load_n(&g_shm->journal_valid, __ATOMIC_SEQ_CST)) {
    /* The journal keeps every event from #0: nothing is ever overwritten while it lasts. */
    if (rc->head + need <= g_shm->journal_limit && rc->head + need <= size) return 1;
    if (__atomic_exchange_n(&g_shm->journal_valid, 0, __ATOMIC_SEQ_CST)) g_shm->journal_end = g_shm->ring[0].events;
  }
  for (;;) {
    uint64_t head = rc->head;
    uint64_t tail = __atomic_load_n(&rc->tail, __ATOMIC_ACQUIRE);
    if (size - (head - tail) >= need) return 1;
    if (!g_shm->follower_attached || g_shm->overflow) return 0;
    if (__atomic_load_n(&g_shm->follower_catching_up, __ATOMIC_SEQ_CST)) {
      /* A new version still loading or replaying: the leader never waits for it. */
      __atomic_store_n(&g_shm->overflow, 1, __ATOMIC_SEQ_CST);
      return 0;
    }
    uint64_t t = now_ns();
    if (!start) start = t;
    if (t - start >= (uint64_t)g_shm->ring_wait_ms * 1000000ull) {
      /* Bounded: the leader never waits longer; the monitor retires the follower. */
      __atomic_store_n(&g_shm->overflow, 1, __ATOMIC_SEQ_CST);
      rc->leader_wait_ns += t - start;
      return 0;
    }
    uint32_t seq = __atomic_load_n(&rc->tail_seq, __ATOMIC_ACQUIRE);
    /* Be woken only when an eighth of the ring is free: one wake-up per record would make the
     * leader crawl at the speed of a syscall round trip. */
    rc->leader_want = need > size / 8 ? need : size / 8;
    __atomic_store_n(&rc->leader_waiting, 1, __ATOMIC_SEQ_CST);
    tail = __atomic_load_n(&rc->tail, __ATOMIC_SEQ_CST);
    if (size - (head - tail) < need) futex_wait(&rc->tail_seq, seq, 10 * 1000000ull);
    __atomic_store_n(&rc->leader_waiting, 0, __ATOMIC_SEQ_CST);
    rc->leader_wait_ns += now_ns() - t;
  }
}

/* Room for a record of `need` bytes at the ring's head (a pad record first when it would wrap);
 * NULL when the leader gave up on the follower. *end is the head to publish once it is written. */
static mvr_rec *ring_reserve(tstate *ts, uint64_t need, uint64_t *end) {
  uint64_t size = g_shm->data_size;
  uint64_t head = ts->rc->head;
  uint64_t off = head % size;
  uint64_t pad = (size - off < need) ? size - off : 0;
  if (!leader_wait_space(ts, pad + need)) return NULL;
  if (pad) {
    mvr_rec *p = (mvr_rec *)(ts->data + off);
    p->size = (uint32_t)pad;
    p->kind = MVR_REC_PAD;
    head += pad;
    off = 0;
  }
  *end = head + need;
  return (mvr_rec *)(ts->data + off);
}

/* Makes the records up to `end` visible, and wakes a follower that sleeps waiting for them. */
static void ring_publish(tstate *ts, uint64_t end) {
  mvr_ringctl *rc = ts->rc;
  __atomic_store_n(&rc->head, end, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&rc->follower_waiting, __ATOMIC_SEQ_CST)) {
    __atomic_add_fetch(&rc->head_seq, 1, __ATOMIC_SEQ_CST);
    futex_wake(&rc->head_seq);
  }
}

static void leader_record(uint32_t nr, const int64_t *args, int64_t ret, uint32_t flags) {
  tstate *ts = t_ts;
  if (!ts || ts->leader_stopped || g_role != ROLE_LEADER) return;
  if (!recording()) {
    ts->leader_stopped = 1;
    return;
  }
  mvr_ringctl *rc = ts->rc;
  uint64_t cap = g_shm->max_buf;
  uint64_t lens[6];
  uint64_t need = sizeof(mvr_rec);
  unsigned arity = mvr_si_arity(nr);
  for (unsigned i = 0; i < 6; i++) {
    lens[i] = 0;
    if (i >= arity) continue;
    int k = mvr_si_kind(nr, i);
    uint64_t full = 0;
    if (mvr_kind_is_in(k)) full = mvr_in_len(nr, i, args, UINT64_MAX);
    else if (mvr_kind_is_out(k) && !(flags & MVR_RECF_NORET)) full = mvr_out_len(nr, i, args, ret, UINT64_MAX);
    lens[i] = full > cap ? cap : full;
    if (full > cap) flags |= MVR_RECF_TRUNCATED;
    need += mvr_align8(lens[i]);
  }
  /* No handler of the program runs while the record is written: its own syscalls would be
   * recorded in the middle of it otherwise (record_begin). */
  record_begin(ts);
  uint64_t end;
  mvr_rec *r = ring_reserve(ts, need, &end);
  if (!r) {
    ts->leader_stopped = 1;
    record_end(ts);
    return;
  }
  r->size = (uint32_t)need;
  r->kind = MVR_REC_EVENT;
  r->nr = nr;
  r->flags = flags;
  r->index = rc->events;
  for (unsigned i = 0; i < 6; i++) r->args[i] = args[i];
  r->ret = ret;
  uint8_t *p = (uint8_t *)(r + 1);
  for (unsigned i = 0; i < 6; i++) {
    r->len[i] = (uint32_t)lens[i];
    if (lens[i]) memcpy(p, (const void *)(uintptr_t)args[i], lens[i]);
    p += mvr_align8(lens[i]);
  }
  /* Descriptors travel before the event is published, so the follower never waits for them. */
  if (creates_fds(nr) && !(flags & MVR_RECF_NORET) && !leader_send_fds(ts, nr, args, ret, r->index)) {
    ts->leader_stopped = 1;
    record_end(ts);
    return;
  }
  rc->events = r->index + 1;
  ring_publish(ts, end);
  record_end(ts);
}

/* Records that the leader runs its handler for `sig` now, before its next event. */
static void leader_record_signal(int sig) {
  tstate *ts = t_ts;
  if (!ts || ts->leader_stopped || g_role != ROLE_LEADER) return;
  if (!recording()) {
    ts->leader_stopped = 1;
    return;
  }
  record_begin(ts);
  uint64_t end;
  mvr_rec *r = ring_reserve(ts, sizeof(mvr_rec), &end);
  if (!r) {
    ts->leader_stopped = 1;
    record_end(ts);
    return;
  }
  memset(r, 0, sizeof *r);
  r->size = (uint32_t)sizeof(mvr_rec);
  r->kind = MVR_REC_SIGNAL;
  r->nr = (uint32_t)sig;
  r->index = ts->rc->events;
  ring_publish(ts, end);
  record_end(ts);
}

/* Writes an agent note (MVR_REC_AGENT): not an event, the follower's view applies and skips it. */
static void leader_note(int64_t fd, int64_t data) {
  tstate *ts = t_ts;
  if (!ts || ts->leader_stopped || !recording()) return;
  uint64_t end;
  mvr_rec *r = ring_reserve(ts, sizeof(mvr_rec), &end);
  if (!r) return;
  memset(r, 0, sizeof *r);
  r->size = (uint32_t)sizeof(mvr_rec);
  r->kind = MVR_REC_AGENT;
  r->index = ts->rc->events;
  r->args[0] = fd;
  r->args[1] = data;
  /* Not an event: the follower sees it with the next one, no need to wake it. */
  __atomic_store_n(&ts->rc->head, end, __ATOMIC_SEQ_CST);
}

static void mvr_sig_wrapper(int sig, siginfo_t *info, void *ctx) {
  void *h = (sig > 0 && sig < 65) ? g_app_handler[sig] : NULL;
  if (!h) return;
  if (defer_handler(t_ts, sig, info)) return; /* raised again by record_end */
  leader_record_signal(sig);
  if (g_app_flags[sig] & SA_SIGINFO) ((void (*)(int, siginfo_t *, void *))h)(sig, info, ctx);
  else ((void (*)(int))h)(sig);
}

static void ring_eof(mvr_ringctl *rc) {
  __atomic_store_n(&rc->leader_eof, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&rc->head_seq, 1, __ATOMIC_SEQ_CST);
  futex_wake(&rc->head_seq);
}

/* ---- follower: the leader view over the ring -------------------------------------------------- */

static void lmap_put(uint64_t key, int fd);

static const mvr_event *view_get(void *ctx, uint64_t index, int *eof) {
  tstate *ts = ctx;
  mvr_ringctl *rc = ts->rc;
  if (eof) *eof = 0;
  if (index < ts->low) return NULL;
  while (index >= ts->scan_index && ts->scan_index - ts->low < WIN) {
    int leader_done = __atomic_load_n(&rc->leader_eof, __ATOMIC_SEQ_CST);
    uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE);
    if (ts->scan_pos >= head) {
      if (eof && (leader_done || !g_shm->follower_attached || ts->idle_eof)) *eof = 1;
      return NULL;
    }
    uint64_t size = g_shm->data_size;
    mvr_rec *r = (mvr_rec *)(ts->data + ts->scan_pos % size);
    if (r->kind == MVR_REC_PAD) {
      ts->scan_pos += r->size;
      continue;
    }
    if (r->kind == MVR_REC_AGENT) {
      /* A promoted leader's epoll registration: its user data for this fd. */
      lmap_put((uint64_t)r->args[1], (int)r->args[0]);
      ts->scan_pos += r->size;
      continue;
    }
    if (r->kind == MVR_REC_SIGNAL) {
      /* The matcher cannot look past a signal: the follower delivers it first (follower_call). */
      ts->pending_sig = (int)r->nr;
      return NULL;
    }
    if (r->kind != MVR_REC_EVENT || r->index != ts->scan_index || r->size < sizeof(mvr_rec) || r->size > size)
      agent_fatal("corrupt ring record");
    parsed *pe = &ts->win[ts->scan_index % WIN];
    pe->pos = ts->scan_pos;
    pe->flags = r->flags;
    pe->ev.index = r->index;
    pe->ev.nr = r->nr;
    pe->ev.ret = r->ret;
    const uint8_t *p = (const uint8_t *)(r + 1);
    for (unsigned i = 0; i < 6; i++) {
      int k = mvr_si_kind(r->nr, i);
      pe->ev.args[i] = r->args[i];
      pe->ev.buf[i] = (mvr_kind_is_in(k) || mvr_kind_is_out(k)) && r->args[i] ? p : NULL;
      pe->ev.buf_len[i] = r->len[i];
      p += mvr_align8(r->len[i]);
    }
    /* epoll_event.data is each version's own (a pointer, an index): it is taken out of the
     * comparison on both sides and translated instead (epoll_note_ctl, epoll_translate). */
    pe->ep_data = 0;
    if (r->nr == SYS_epoll_ctl && pe->ev.buf[3] && pe->ev.buf_len[3] >= 12) {
      memcpy(&pe->ep_data, pe->ev.buf[3] + 4, 8);
      memset((uint8_t *)(uintptr_t)pe->ev.buf[3] + 4, 0, 8);
    }
    ts->scan_pos += r->size;
    ts->scan_index++;
  }
  if (index < ts->scan_index) return &ts->win[index % WIN].ev;
  return NULL;
}

static parsed *held(tstate *ts, uint64_t index) {
  return (index >= ts->low && index < ts->scan_index) ? &ts->win[index % WIN] : NULL;
}

/* ---- follower: rule module ------------------------------------------------------------------- */

typedef struct rules_api {
  size_t (*state_size)(void);
  void (*reset)(void *, uint64_t);
  int (*step)(void *, const mvr_leader_view *, const mvr_call *, mvr_step *);
  uint64_t (*low_water)(const void *);
  int (*finish)(void *, const mvr_leader_view *, mvr_step *);
  const mvr_rule_info *info;
  uint32_t count;
} rules_api;

static rules_api g_rules;

static void follower_load_rules(const char *path) {
  if (path && *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) agent_fatal(dlerror());
    const uint32_t *abi = dlsym(h, "mvr_rules_abi");
    if (!abi || *abi != MVR_RULES_ABI) agent_fatal("rules module has a different ABI (mvr_rules_abi)");
    g_rules.state_size = (size_t(*)(void))dlsym(h, "mvr_rules_state_size");
    g_rules.reset = (void (*)(void *, uint64_t))dlsym(h, "mvr_rules_reset");
    g_rules.step = (int (*)(void *, const mvr_leader_view *, const mvr_call *, mvr_step *))dlsym(h, "mvr_rules_step");
    g_rules.low_water = (uint64_t(*)(const void *))dlsym(h, "mvr_rules_low_water");
    g_rules.finish = (int (*)(void *, const mvr_leader_view *, mvr_step *))dlsym(h, "mvr_rules_finish");
    g_rules.info = dlsym(h, "mvr_rules_info");
    const uint32_t *count = dlsym(h, "mvr_rules_count");
    if (!g_rules.state_size || !g_rules.reset || !g_rules.step || !g_rules.low_water || !g_rules.finish || !count)
      agent_fatal("rules module lacks a symbol of mvr_rules.h");
    g_rules.count = *count;
  } else {
    g_rules.state_size = mvr_dm_state_size;
    g_rules.reset = mvr_dm_reset;
    g_rules.step = mvr_dm_step;
    g_rules.low_water = mvr_dm_low_water;
    g_rules.finish = mvr_dm_finish;
    g_rules.info = NULL;
    g_rules.count = 0;
  }
}

static void follower_thread_init(tstate *ts) {
  size_t n = g_rules.state_size();
  ts->rstate = raw_alloc(n ? n : 16);
  if (!ts->rstate) agent_fatal("cannot allocate the matcher state");
  g_rules.reset(ts->rstate, 0);
}

/* ---- follower: reports ----------------------------------------------------------------------- */

static size_t rule_text(char *out, size_t cap, uint32_t rule) {
  if (rule == MVR_RULE_DEFAULT || !g_rules.info || rule >= g_rules.count)
    return (size_t)snprintf(out, cap, "default rule (a syscall matches itself)");
  const mvr_rule_info *ri = &g_rules.info[rule];
  return (size_t)snprintf(out, cap, "%s:%u:%u%s%s: %s", ri->file, ri->line, ri->column, ri->name && *ri->name ? " @" : "",
                          ri->name ? ri->name : "", ri->text ? ri->text : "");
}

static volatile uint32_t g_report_lock;

/* Writes the report into the shared header (for the monitor) and the follower's log, then exits. */
static void __attribute__((noreturn)) follower_retire(uint32_t kind, const char *reason, const mvr_call *call,
                                                      uint64_t event, uint32_t rule) {
  tstate *ts = t_ts;
  spin_lock(&g_report_lock); /* one report per process; other threads wait for the exit */
  char *r = g_shm->report;
  size_t cap = MVR_REPORT_MAX, n = 0;
#define ADD(...) do { if (n < cap) n += (size_t)snprintf(r + n, cap - n, __VA_ARGS__); } while (0)
  ADD("%s at leader event #%llu", kind == MVR_REPORT_EXPECTED_DIVERGE ? "expected divergence" : kind == MVR_REPORT_UNSUPPORTED ? "unsupported" : kind == MVR_REPORT_INTERNAL ? "runtime error" : "divergence",
      (unsigned long long)event);
  if (ts && ts->ring) ADD(" of task pair #%u", ts->ring);
  ADD(": %s\n", reason ? reason : "no rule reconciles the follower's call");
  int eof = 0;
  const mvr_event *ev = ts ? view_get(ts, event, &eof) : NULL;
  ADD("  leader:   ");
  if (ev) {
    if (n < cap) n += mvr_format_event(r + n, cap - n, ev, !(held(ts, event)->flags & MVR_RECF_NORET));
  } else {
    ADD("%s", eof ? "(the leader has no more events)" : "(not recorded yet)");
  }
  ADD("\n  follower: ");
  if (call && n < cap) n += mvr_format_call(r + n, cap - n, call);
  ADD("\n  rule:     ");
  if (n < cap) n += rule_text(r + n, cap - n, rule);
  ADD("\n");
#undef ADD
  if (n >= cap) n = cap - 1;
  r[n] = 0;
  g_shm->report_event = event;
  g_shm->report_rule = rule;
  g_shm->report_ring = ts ? ts->ring : 0;
  __atomic_store_n(&g_shm->report_kind, kind, __ATOMIC_SEQ_CST);
  RAW3(SYS_write, 2, "mvr-agent: follower retired: ", 29);
  RAW3(SYS_write, 2, r, n);
  RAW1(SYS_exit_group, MVR_FOLLOWER_REPORT_EXIT);
  __builtin_unreachable();
}

/* ---- follower: epoll user data per version ----------------------------------------------------
 * epoll_event.data is the program's own (a pointer or an index) and differs between versions. The
 * follower keeps what it registered per fd; the leader's registrations (from its epoll_ctl events)
 * map leader data back to fds; replayed epoll_wait results are translated leader data -> fd ->
 * follower data. */

#define FDMAX 65536
struct epoll_event_packed {
  uint32_t events;
  uint64_t data;
} __attribute__((packed));

static uint64_t g_fdata[FDMAX];   /* this version's own epoll data per fd (both roles) */
static uint32_t g_fev[FDMAX];     /* ... its event mask */
static int32_t g_fepfd[FDMAX];    /* ... the epoll instance it is registered with, +1 (0: none) */
#define LMAP 16384u
static uint64_t g_lkey[LMAP];      /* leader data -> fd (open addressing; fd+1, 0 = empty) */
static int32_t g_lfd[LMAP];

static uint32_t lmap_slot(uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> 40) & (LMAP - 1);
}
static void lmap_put(uint64_t key, int fd) {
  uint32_t s = lmap_slot(key);
  for (uint32_t i = 0; i < LMAP; i++, s = (s + 1) & (LMAP - 1)) {
    if (g_lfd[s] == 0 || g_lkey[s] == key) {
      g_lkey[s] = key;
      g_lfd[s] = fd + 1;
      return;
    }
  }
}
static int lmap_get(uint64_t key) {
  uint32_t s = lmap_slot(key);
  for (uint32_t i = 0; i < LMAP; i++, s = (s + 1) & (LMAP - 1)) {
    if (g_lfd[s] == 0) return -1;
    if (g_lkey[s] == key) return g_lfd[s] - 1;
  }
  return -1;
}

/* Notes this version's own registration (both roles): a promoted follower re-registers its data. */
static void epoll_note_own(const int64_t *fargs) {
  int op = (int)fargs[1], fd = (int)fargs[2];
  if (fd < 0 || fd >= FDMAX) return;
  if ((op == 1 /* ADD */ || op == 3 /* MOD */) && fargs[3]) {
    const struct epoll_event_packed *e = (const struct epoll_event_packed *)(uintptr_t)fargs[3];
    g_fdata[fd] = e->data;
    g_fev[fd] = e->events;
    g_fepfd[fd] = (int32_t)fargs[0] + 1;
  } else if (op == 2 /* DEL */) {
    g_fepfd[fd] = 0;
  }
}

static void epoll_note_ctl(const int64_t *fargs, const parsed *lev) {
  int op = (int)fargs[1], fd = (int)fargs[2];
  if (fd < 0 || fd >= FDMAX) return;
  epoll_note_own(fargs);
  if (op == 1 /* ADD */ || op == 3 /* MOD */) {
    if (lev) lmap_put(lev->ep_data, fd);
  }
}

static void epoll_translate(int64_t buf, int64_t count) {
  struct epoll_event_packed *e = (struct epoll_event_packed *)(uintptr_t)buf;
  for (int64_t i = 0; i < count; i++) {
    int fd = lmap_get(e[i].data);
    if (fd >= 0) e[i].data = g_fdata[fd];
  }
}

/* Installs the leader's descriptors up to and including those of event `event` of `ring`.
 * Messages from all leader threads share the channel: whichever follower thread reads a message
 * installs it and notes it, so a thread may find its descriptors already in place. */
static volatile uint32_t g_fd_lock;
static uint64_t g_fd_installed[MVR_MAX_RINGS]; /* per ring: events below this have their descriptors */

static void follower_recv_fds(uint32_t ring, uint64_t event, const mvr_call *call) {
  spin_lock(&g_fd_lock);
  while (g_fd_installed[ring] <= event) {
    mvr_fdmsg m;
    /* Follower processes share the channel: look at the next message (without its descriptors)
     * and leave it to its owner when it belongs to another process's ring. */
    struct iovec piov = {&m, sizeof m};
    struct msghdr pmh = {.msg_iov = &piov, .msg_iovlen = 1};
    long pr;
    do pr = RAW3(SYS_recvmsg, g_fdsock, &pmh, MSG_PEEK);
    while (pr == -EINTR);
    if (pr == (long)sizeof m && m.ring < MVR_MAX_RINGS && !(g_my_rings & (1u << m.ring))) {
      spin_unlock(&g_fd_lock);
      struct timespec pause = {0, 200000};
      RAW2(SYS_nanosleep, &pause, 0);
      spin_lock(&g_fd_lock);
      continue;
    }
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
    long r;
    do r = RAW3(SYS_recvmsg, g_fdsock, &mh, MSG_CMSG_CLOEXEC);
    while (r == -EINTR);
    if (r != (long)sizeof m || m.ring >= MVR_MAX_RINGS) {
      spin_unlock(&g_fd_lock);
      follower_retire(MVR_REPORT_INTERNAL, "the descriptor channel from the leader failed", call, event, MVR_RULE_DEFAULT);
    }
    int got[2] = {-1, -1};
    unsigned n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (n > 2) n = 2;
      memcpy(got, CMSG_DATA(c), n * sizeof(int));
    }
    if (n != m.n) {
      spin_unlock(&g_fd_lock);
      follower_retire(MVR_REPORT_INTERNAL, "the leader's descriptors did not arrive", call, event, MVR_RULE_DEFAULT);
    }
    /* Park them out of the way first, so installing one never clobbers the other. */
    for (unsigned k = 0; k < n; k++) {
      if (got[k] == m.fds[k]) continue;
      long t = RAW3(SYS_fcntl, got[k], F_DUPFD_CLOEXEC, MVR_FD_BASE + 16);
      RAW1(SYS_close, got[k]);
      got[k] = (int)t;
    }
    for (unsigned k = 0; k < n; k++) {
      if (got[k] == m.fds[k] || got[k] < 0) continue;
      RAW3(SYS_dup3, got[k], m.fds[k], 0);
      RAW1(SYS_close, got[k]);
    }
    if (m.event + 1 > g_fd_installed[m.ring]) g_fd_installed[m.ring] = m.event + 1;
  }
  spin_unlock(&g_fd_lock);
}

/* ---- follower: one call ------------------------------------------------------------------------ */

static void follower_release(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  uint64_t lw = g_rules.low_water(ts->rstate);
  if (lw > ts->scan_index) lw = ts->scan_index;
  if (lw > ts->low) {
    uint64_t pos = lw < ts->scan_index ? ts->win[lw % WIN].pos : ts->scan_pos;
    ts->low = lw;
    rc->consumed = lw;
    if (ts->ring == 0 && lw >= g_shm->catch_target && !g_shm->catch_done_ns) g_shm->catch_done_ns = now_ns();
    __atomic_store_n(&rc->tail, pos, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rc->leader_waiting, __ATOMIC_SEQ_CST) &&
        g_shm->data_size - (rc->head - pos) >= rc->leader_want) {
      __atomic_add_fetch(&rc->tail_seq, 1, __ATOMIC_SEQ_CST);
      futex_wake(&rc->tail_seq);
    }
  }
}

/* How the follower waits for the leader's next events. Nothing it does is seen by clients (its
 * outputs are not performed), so it need not keep up event by event: while events keep coming it
 * neither spins nor asks the leader for a wake-up (a futex_wake per event), it sleeps
 * FOLLOWER_POLL_NS at a time and then consumes everything that accumulated. Measured with kv at
 * 8 connections on 2 vCPUs (bench/runtime-bench.mjs): spinning plus wake-ups took the CPU the
 * leader and its clients need, 2.2-2.4x native cost per request; polling, 1.2-1.3x. Only once
 * nothing came for FOLLOWER_IDLE_NS does it ask to be woken, so an idle follower costs nothing.
 * The leader still wakes it at once when it pauses for a role switch or ends (head_seq). */
#define FOLLOWER_POLL_NS (1000u * 1000u)
#define FOLLOWER_IDLE_NS (50u * 1000000u)

static void follower_wait_events(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  uint32_t seq = __atomic_load_n(&rc->head_seq, __ATOMIC_SEQ_CST);
  uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_SEQ_CST);
  if (head != ts->scan_pos || rc->leader_eof || g_shm->leader_paused) return;
  uint64_t t = now_ns();
  if (head != ts->wait_head || !ts->wait_start) {
    ts->wait_head = head;
    ts->wait_start = t;
  }
  if (t - ts->wait_start < FOLLOWER_IDLE_NS) {
    futex_wait(&rc->head_seq, seq, FOLLOWER_POLL_NS);
    return;
  }
  __atomic_store_n(&rc->follower_waiting, 1, __ATOMIC_SEQ_CST);
  head = __atomic_load_n(&rc->head, __ATOMIC_SEQ_CST);
  if (head == ts->scan_pos && !rc->leader_eof && !g_shm->leader_paused) futex_wait(&rc->head_seq, seq, 50 * 1000000ull);
  __atomic_store_n(&rc->follower_waiting, 0, __ATOMIC_SEQ_CST);
}

/* ---- role switch (promotion, rollback from the updated-leader stage, failover) -----------------
 * See enum mvr_promote in mvr_ring.h. Single-threaded programs only (ring 0). */

static void on_sigsys(int sig, siginfo_t *info, void *ctx);

static void install_sigsys(void) {
  struct ksigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.handler = (void *)on_sigsys;
  sa.restorer = (void *)mvr_restorer;
  /* Leader: SA_NODEFER and an empty mask, so the program's signals still interrupt blocking calls
   * made from the handler (their handlers are deferred during ring writes instead). Follower: the
   * kernel blocks every signal while the handler decides a call (the fast path defers them). */
  sa.flags = SA_SIGINFO | SA_RESTORER | SA_NODEFER;
  sa.mask = g_role == ROLE_FOLLOWER ? ~KSIGSYS_BIT : 0;
  if (RAW4(SYS_rt_sigaction, SIGSYS, &sa, 0, 8) != 0) agent_fatal("cannot install the SIGSYS handler");
}

/* Starts a fresh event stream in ring `rc` (the new leader's at a role switch, the leader's at a
 * handoff's fork point): event #0 next, nothing held; the journal, which began at the old stream's
 * event #0, is over. */
static void ring_restart(mvr_ringctl *rc) {
  rc->head = 0;
  rc->tail = 0;
  rc->events = 0;
  rc->consumed = 0;
  rc->leader_eof = 0;
  rc->follower_exited = 0;
  rc->follower_calls = 0;
  rc->fcur.valid = 0;
  rc->leader_wait_ns = 0;
  g_shm->journal_valid = 0;
  g_shm->overflow = 0;
}

/* The follower becomes the leader: it has consumed every event of the paused (or dead) leader. */
static void become_leader(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  /* Descriptors still queued for this process (events it emulated) would stay open forever. */
  for (;;) {
    mvr_fdmsg m;
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
    if (RAW3(SYS_recvmsg, g_fdsock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0) break;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      unsigned n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      int got[2];
      if (n > 2) n = 2;
      memcpy(got, CMSG_DATA(c), n * sizeof(int));
      for (unsigned k = 0; k < n; k++) RAW1(SYS_close, got[k]);
    }
  }
  g_shm->switch_event = rc->events;
  if (g_shm->pause_start_ns) g_shm->pause_ns = now_ns() - g_shm->pause_start_ns;
  /* A fresh stream: the old leader (if it follows) reads it from event #0. */
  ring_restart(rc);
  g_fd_installed[0] = 0;
  g_shm->report_kind = MVR_REPORT_NONE;
  g_shm->follower_attached = g_shm->old_follows;
  ts->leader_stopped = 0;
  g_role = ROLE_LEADER;
  install_sigsys();
  /* The epoll instances hold the old leader's user data and were polled in its context (a
   * signalfd's wake-ups go to the process that registered it): register every descriptor again
   * (DEL + ADD) with this version's data, and tell the old version (if it follows) which data now
   * names which descriptor. */
  for (int fd = 0; fd < FDMAX; fd++) {
    if (!g_fepfd[fd]) continue;
    struct epoll_event_packed e = {g_fev[fd], g_fdata[fd]};
    RAW4(SYS_epoll_ctl, g_fepfd[fd] - 1, 2 /* DEL */, fd, 0);
    if (RAW4(SYS_epoll_ctl, g_fepfd[fd] - 1, 1 /* ADD */, fd, &e) == 0) leader_note(fd, (int64_t)g_fdata[fd]);
    else g_fepfd[fd] = 0;
  }
  __atomic_store_n(&g_shm->promote_state, MVR_PROMOTE_DONE, __ATOMIC_SEQ_CST);
  futex_wake(&g_shm->promote_state);
}

/* The paused leader follows the new leader with the backward rules. */
static void become_follower(tstate *ts) {
  t_passthrough = 1;
  follower_load_rules(g_shm->back_rules);
  t_passthrough = 0;
  g_role = ROLE_FOLLOWER;
  g_mirror_stdio = 0; /* its fd 1/2 are the terminal's, not a log */
  ts->scan_pos = 0;
  ts->scan_index = 0;
  ts->low = 0;
  ts->pending_sig = 0;
  ts->restart = 0;
  ts->restart_sig = 0;
  follower_thread_init(ts);
  g_fd_installed[0] = 0;
  memset(g_lfd, 0, sizeof g_lfd);
  install_sigsys();
  __atomic_store_n(&g_shm->leader_paused, 0, __ATOMIC_SEQ_CST);
}

/* Leader, at a recorded syscall entry: stops while a role switch is requested. Returns when it
 * goes on, as the leader (switch aborted) or as the follower. */
static void leader_pause(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  g_shm->pause_start_ns = now_ns();
  __atomic_store_n(&g_shm->leader_paused, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&rc->head_seq, 1, __ATOMIC_SEQ_CST);
  futex_wake(&rc->head_seq);
  for (;;) {
    uint32_t st = __atomic_load_n(&g_shm->promote_state, __ATOMIC_SEQ_CST);
    if (st == MVR_PROMOTE_REQ || st == MVR_PROMOTE_SWITCHING || (st == MVR_PROMOTE_DONE && !g_shm->old_follows)) {
      futex_wait(&g_shm->promote_state, st, 100 * 1000000ull); /* retired: the monitor kills us here */
      continue;
    }
    if (st == MVR_PROMOTE_DONE) {
      become_follower(ts);
      return;
    }
    __atomic_store_n(&g_shm->leader_paused, 0, __ATOMIC_SEQ_CST); /* aborted */
    return;
  }
}

/* Follower, out of events: takes over when the leader is paused (or dead) and every one of its
 * events is decided. */
static int follower_take_over(tstate *ts) {
  if (ts->ring != 0 || __atomic_load_n(&g_shm->promote_state, __ATOMIC_SEQ_CST) != MVR_PROMOTE_REQ) return 0;
  if (!__atomic_load_n(&g_shm->leader_paused, __ATOMIC_SEQ_CST)) return 0;
  if (ts->low != ts->scan_index || ts->scan_pos != __atomic_load_n(&ts->rc->head, __ATOMIC_SEQ_CST) || ts->pending_sig) return 0;
  uint32_t want = MVR_PROMOTE_REQ;
  if (!__atomic_compare_exchange_n(&g_shm->promote_state, &want, MVR_PROMOTE_SWITCHING, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return 0;
  become_leader(ts);
  return 1;
}

/* Matches the follower's call against the leader's events and applies the decision. With
 * `decide_only` (thread creation), the outputs are left alone: the caller performs the call. */
static int64_t follower_call(uint32_t nr, const int64_t *args, int decide_only) {
  tstate *ts = t_ts;
  if (!ts) agent_fatal("a follower thread without a ring");
  mvr_ringctl *rc = ts->rc;
  mvr_step *step = &ts->step;
  mvr_call call;
  memset(&call, 0, sizeof call);
  call.nr = nr;
  unsigned arity = mvr_si_arity(nr);
  for (unsigned i = 0; i < 6; i++) {
    call.args[i] = args[i];
    if (i >= arity) continue;
    int k = mvr_si_kind(nr, i);
    if (mvr_kind_is_in(k) && args[i]) {
      call.buf[i] = (const uint8_t *)(uintptr_t)args[i];
      call.buf_len[i] = mvr_in_len(nr, i, args, g_shm->max_buf);
    } else if (mvr_kind_is_out(k)) {
      call.buf_len[i] = mvr_out_cap(nr, i, args);
    }
  }
  struct epoll_event_packed blank;
  if (nr == SYS_epoll_ctl && args[3] && call.buf_len[3] >= sizeof blank) {
    memcpy(&blank, (const void *)(uintptr_t)args[3], sizeof blank);
    blank.data = 0;
    call.buf[3] = (const uint8_t *)&blank;
  }
  rc->fcur.valid = 0;
  rc->fcur.nr = nr;
  for (unsigned i = 0; i < 6; i++) rc->fcur.args[i] = args[i];
  rc->fcur.event = ts->low;
  rc->fcur.valid = 1;
  rc->follower_calls++;

  int st;
  uint64_t idle_since = 0, idle_seen = 0;
  for (;;) {
    memset(step, 0, offsetof(mvr_step, leader));
    step->n_leader = 0;
    st = g_rules.step(ts->rstate, &ts->view, &call, step);
    if (st == MVR_PROGRESS) {
      /* A long run of leader-only events before this call: they are decided; free them, go on. */
      follower_release(ts);
      idle_since = 0;
      continue;
    }
    if (st != MVR_NEED_MORE) break;
    /* The rules hold leader events and want to look further, but the leader's thread has
     * recorded nothing more for a while: it may be idle (a background thread waiting on a
     * condition; Redis's do this right after a clock read). Waiting would end in a "hang"
     * retirement; instead the call is decided as if the leader's stream ended here, and that
     * decision is taken only if it is a match (the rule state is unchanged otherwise, and the
     * wait goes on). A leader that was merely slow then finds its later events matched against
     * the follower's later calls, as without look-ahead. */
    if (ts->scan_index > ts->low) {
      uint64_t t = now_ns();
      if (!idle_since || idle_seen != ts->scan_index) {
        idle_since = t;
        idle_seen = ts->scan_index;
      } else if (t - idle_since >= IDLE_LOOKAHEAD_NS) {
        ts->idle_eof = 1;
        memset(step, 0, offsetof(mvr_step, leader));
        step->n_leader = 0;
        st = g_rules.step(ts->rstate, &ts->view, &call, step);
        ts->idle_eof = 0;
        if (st == MVR_OK) break;
        if (st == MVR_PROGRESS) { /* decided (and kept) like a match: go on from there */
          follower_release(ts);
          idle_since = 0;
          continue;
        }
        st = MVR_NEED_MORE;
        idle_since = t;
      }
    }
    if (ts->pending_sig && ts->low == ts->scan_index) {
      /* The leader handled a signal before its next event: raise it here, and re-issue this
       * call after the handler (the rule state is unchanged after NEED_MORE). */
      mvr_rec *r = (mvr_rec *)(ts->data + ts->scan_pos % g_shm->data_size);
      int sig = ts->pending_sig;
      ts->pending_sig = 0;
      ts->scan_pos += r->size;
      __atomic_store_n(&rc->tail, ts->scan_pos, __ATOMIC_SEQ_CST);
      /* Raised by take_restart, once the caller has left the agent's state alone. */
      ts->restart_sig = sig;
      ts->restart = 1;
      return 0;
    }
    if (ts->scan_index - ts->low >= WIN)
      follower_retire(MVR_REPORT_INTERNAL, "the rules need a longer look-ahead than the runtime holds", &call, ts->low, MVR_RULE_DEFAULT);
    if (follower_take_over(ts)) {
      /* Re-issued as the leader: it executes the call for real. */
      ts->restart = 1;
      return 0;
    }
    follower_wait_events(ts);
  }
  uint64_t at = step->n_leader ? step->leader[0].event : ts->low;
  if (st == MVR_DIVERGE) follower_retire(MVR_REPORT_DIVERGE, step->reason, &call, ts->low, step->rule);
  if (st == MVR_EXPECTED_DIVERGE) follower_retire(MVR_REPORT_EXPECTED_DIVERGE, step->reason, &call, at, step->rule);
  if (st != MVR_OK) follower_retire(MVR_REPORT_INTERNAL, "the rules module returned an unknown status", &call, ts->low, step->rule);

  rc->last_rule = step->rule;
  int64_t ret = step->ret;
  const parsed *mev = NULL;
  if (decide_only) {
    follower_release(ts);
    return 0;
  }
  switch (step->follower_action) {
    case MVR_F_EXEC:
      ret = mvr_raw_syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
      break;
    case MVR_F_MATCH: {
      parsed *pe = held(ts, step->event);
      if (pe && (pe->flags & MVR_RECF_TRUNCATED))
        follower_retire(MVR_REPORT_INTERNAL, "the leader's event was larger than the ring's per-buffer cap (--ring-size)", &call, step->event, step->rule);
      mev = pe;
    }
      /* fall through */
    case MVR_F_EMULATE:
    case MVR_F_NOP:
      for (unsigned i = 0; i < 6; i++) {
        if (!step->out[i] || !args[i]) continue;
        uint64_t n = step->out_len[i];
        if (n > call.buf_len[i]) n = call.buf_len[i];
        memcpy((void *)(uintptr_t)args[i], step->out[i], n);
      }
      break;
    default:
      follower_retire(MVR_REPORT_INTERNAL, "the rules module returned an unknown follower action", &call, ts->low, step->rule);
  }
  if (step->follower_action == MVR_F_MATCH && ret >= 0) {
    if (creates_fds(nr)) follower_recv_fds(ts->ring, step->event, &call);
    /* The leader closed its descriptor: the follower drops its copy of the same object. */
    if (nr == SYS_close && args[0] >= 0 && args[0] < MVR_FD_BASE) RAW1(SYS_close, args[0]);
  }
  if (nr == SYS_epoll_ctl) epoll_note_ctl(args, mev);
  if ((nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2) && ret > 0 &&
      step->follower_action != MVR_F_EXEC)
    epoll_translate(args[1], ret);
  if (g_mirror_stdio && nr == SYS_write && (args[0] == 1 || args[0] == 2) && step->follower_action != MVR_F_EXEC)
    RAW3(SYS_write, args[0], args[1], args[2]);
  follower_release(ts);
  return ret;
}

/* ---- signal-mask hygiene (both roles) --------------------------------------------------------- */

static long do_rt_sigaction(const int64_t *a) {
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
static long do_rt_sigprocmask(const int64_t *a, ucontext_t *uc) {
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
static int64_t exec_call(uint32_t nr, const int64_t *a) {
  int64_t b[6];
  for (int i = 0; i < 6; i++) b[i] = a[i];
  uint64_t m;
  struct {
    uint64_t ss;
    uint64_t len;
  } ps6;
  switch (nr) {
    case SYS_ppoll: b[3] = strip_set(a[3], &m); break;
    case SYS_epoll_pwait: case SYS_epoll_pwait2: b[4] = strip_set(a[4], &m); break;
    case SYS_signalfd: case SYS_signalfd4: b[1] = strip_set(a[1], &m); break;
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

/* Consumes the follower's "re-issue" flag (follower_call abandoned the call) and raises the
 * leader's signal it stands for, if any: the signal is delivered as soon as the signal mask lets
 * it (at the SIGSYS handler's return, or when a wrapper restores the mask), before the call is
 * re-issued. Returns whether the flag was set. */
static int take_restart(void) {
  tstate *ts = t_ts;
  if (!ts || !ts->restart) return 0;
  ts->restart = 0;
  int sig = ts->restart_sig;
  ts->restart_sig = 0;
  if (sig) RAW3(SYS_tgkill, RAW0(SYS_getpid), RAW0(SYS_gettid), sig);
  return 1;
}

/* Points the program back at its syscall instruction, to be re-issued on the handler's return. */
static void reissue(greg_t *g, uint32_t nr) {
  g[REG_RIP] -= 2; /* the 2-byte syscall instruction */
  g[REG_RAX] = nr;
}

/* After a follower_call that delivered a signal instead (or took over as the leader): the call is
 * re-issued once the signal's handler has run. */
static int follower_restart(greg_t *g, uint32_t nr) {
  if (!take_restart()) return 0;
  reissue(g, nr);
  return 1;
}

/* ---- threads and processes -------------------------------------------------------------------- */

/* The flags and the child's initial stack pointer of a clone/clone3 call. */
static uint64_t clone_flags(uint32_t nr, const int64_t *a, uint64_t *child_sp) {
  *child_sp = 0;
  if (nr == SYS_clone) {
    *child_sp = (uint64_t)a[1];
    return (uint64_t)a[0];
  }
  if (nr == SYS_clone3 && a[0] && (uint64_t)a[1] >= 64) {
    const struct clone_args *ca = (const struct clone_args *)(uintptr_t)a[0];
    if (ca->stack) *child_sp = ca->stack + ca->stack_size;
    return ca->flags;
  }
  return 0;
}

/* First thing a new thread runs (from mvr_thread_stub, on its own stack, before the program's
 * thread code): take its ring and arm syscall user dispatch. Ring ~0: run unfollowed. */
static void arm_sud(void);
static void disarm_sud(void);
void mvr_thread_start(uint64_t ring) {
  if (ring >= MVR_MAX_RINGS) return;
  if (g_role == ROLE_LEADER && !recording()) return; /* nothing to follow */
  tstate *ts = tstate_new((uint32_t)ring);
  __atomic_or_fetch(&g_my_rings, 1u << ring, __ATOMIC_SEQ_CST);
  if (g_role == ROLE_FOLLOWER) follower_thread_init(ts);
  else ts->rc->in_use = 1;
  t_ts = ts;
  arm_sud();
}

/* Creates a thread with the program's exact registers, the child starting in mvr_thread_stub. */
static void start_thread(greg_t *g, uint64_t child_sp, uint64_t ring) {
  mvr_native_ret = (uint64_t)g[REG_RIP];
  uint64_t *sp = (uint64_t *)(uintptr_t)child_sp;
  sp[-1] = ring;
  sp[-2] = (uint64_t)g[REG_RIP];
  g[REG_RIP] = (greg_t)(uintptr_t)mvr_thread_stub;
}

static uint64_t next_ring(volatile uint32_t *counter) {
  uint32_t k = __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
  /* Past MVR_MAX_RINGS a new thread or process runs unfollowed, and its pair diverges. */
  return k < MVR_MAX_RINGS ? k : ~0ull;
}

static void __attribute__((noreturn)) retire_unsupported(uint32_t nr, const int64_t *a, const char *why) {
  mvr_call c;
  memset(&c, 0, sizeof c);
  c.nr = nr;
  for (int i = 0; i < 6; i++) c.args[i] = a[i];
  follower_retire(MVR_REPORT_UNSUPPORTED, why, &c, t_ts ? t_ts->low : 0, MVR_RULE_DEFAULT);
}

/* Threads: paired by creation order (ring k), the child arms itself in mvr_thread_stub.
 * Processes (fork, or clone without CLONE_VM): the same pairing, the child arms itself in
 * mvr_after_create. vfork and clone(CLONE_VM) without a thread (posix_spawn, system) run
 * unfollowed in the leader; the follower does not create them at all and gets the leader's result
 * (their effects are external, performed by the leader's child). */
static void handle_creation(uint32_t nr, const int64_t *a, greg_t *g) {
  uint64_t child_sp;
  uint64_t flags = nr == SYS_fork ? 0 : nr == SYS_vfork ? (CLONE_VM | CLONE_VFORK) : clone_flags(nr, a, &child_sp);
  if (nr == SYS_fork || nr == SYS_vfork) child_sp = 0;
  int thread = (flags & CLONE_THREAD) && child_sp;
  if (thread) {
    if (g_role == ROLE_FOLLOWER) {
      follower_call(nr, a, 1); /* matched against the leader's thread creation, then performed */
      if (follower_restart(g, nr)) return;
      uint64_t k = next_ring(&g_shm->follower_threads);
      /* An unarmed follower thread would act on the world: never let one run. */
      if (k >= MVR_MAX_RINGS) retire_unsupported(nr, a, "more threads and processes than the runtime has rings (15)");
      start_thread(g, child_sp, k);
    } else {
      leader_record(nr, a, 0, MVR_RECF_NORET);
      start_thread(g, child_sp, next_ring(&g_shm->leader_threads));
    }
    return;
  }
  if ((flags & CLONE_THREAD) || (flags & CLONE_VM && !(flags & CLONE_VFORK) && child_sp)) {
    if (g_role == ROLE_FOLLOWER) retire_unsupported(nr, a, "the v1 runtime does not follow this kind of clone");
  }
  t_create.nr = nr;
  for (int i = 0; i < 6; i++) t_create.args[i] = a[i];
  t_create.follow = !(flags & CLONE_VM);
  t_create.ring = ~0ull;
  t_create.armed = t_armed;
  if (g_role == ROLE_FOLLOWER) {
    /* Wait for the leader's result (recorded after its creation) and match against it. */
    t_create.leader_ret = follower_call(nr, a, 0);
    if (follower_restart(g, nr)) return;
    if (!t_create.follow || t_create.leader_ret < 0) {
      if (t_create.follow) next_ring(&g_shm->follower_threads); /* stay in step with the leader's count */
      g[REG_RAX] = t_create.leader_ret; /* no child: the leader's child does the work */
      return;
    }
    t_create.ring = next_ring(&g_shm->follower_threads);
    if (t_create.ring >= MVR_MAX_RINGS) retire_unsupported(nr, a, "more threads and processes than the runtime has rings (15)");
  } else if (t_create.follow) {
    t_create.ring = next_ring(&g_shm->leader_threads);
  }
  mvr_native_ret = (uint64_t)g[REG_RIP];
  g[REG_RAX] = nr;
  g[REG_RIP] = (greg_t)(uintptr_t)mvr_create_stub;
}

/* After a process creation, in the parent and in the child (see mvr_create_stub). */
long mvr_after_create(long ret) {
  if (ret == 0) {
    /* The child. A followed child takes its ring and arms SUD (not inherited by fork). Until then
     * its calls are native, the fast path's included (t_armed: a copy of the parent's, or with
     * vfork the parent's own, given back in the parent's branch below). */
    t_armed = 0;
    if (!t_create.follow || t_create.ring >= MVR_MAX_RINGS) return 0;
    if (g_role == ROLE_LEADER && !recording()) return 0;
    tstate *ts = tstate_new((uint32_t)t_create.ring);
    g_my_rings = 1u << t_create.ring;
    if (g_role == ROLE_FOLLOWER) {
      follower_thread_init(ts);
      ts->rc->follower_pid = (int32_t)RAW0(SYS_getpid);
    } else {
      ts->rc->in_use = 1;
    }
    t_ts = ts;
    arm_sud();
    return 0;
  }
  t_armed = t_create.armed;
  if (g_role == ROLE_LEADER) {
    /* The parent records the creation with its result, the child's pid (or the error). */
    leader_record(t_create.nr, t_create.args, ret, 0);
    return ret;
  }
  /* The monitor watches the follower's child processes through their rings: named here by the
   * parent too, so that a parent that exits at once never leaves a child unwatched (the child
   * names itself only when it first runs). */
  if (ret > 0 && t_create.ring < MVR_MAX_RINGS) g_shm->ring[t_create.ring].follower_pid = (int32_t)ret;
  /* The follower's parent sees the leader's child pid: its later wait4/kill calls are matched
   * against the leader's, which name that pid. Its own child is never waited for (v1). */
  return t_create.leader_ret;
}

static int is_creation(uint32_t nr) { return nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork || nr == SYS_vfork; }

/* ---- the SIGSYS handler ----------------------------------------------------------------------- */

static void handoff_fork(uint32_t nr, int64_t *a, greg_t *g);
static int prelude_call(uint32_t nr, const int64_t *a, greg_t *g);
/* The common part of the SIGSYS handler and of the fast path's wrappers: an ordinary call (not
 * signal plumbing, thread or process creation, exec or exit), made by an armed thread of a leader
 * that records or of a follower. Returns 1 with the program's result in *ret, or 0 when the call
 * did not happen and must be re-issued: the leader was kicked out of a blocking call for a role
 * switch, it became the follower at a role switch, or the follower abandoned the call (take_restart
 * then raises the leader's signal that comes first; see follower_call). */
static int agent_call(uint32_t nr, const int64_t *a, int64_t *ret) {
  /* wait4/waitid are local, but their results describe child processes, of which only the
   * leader's are real to the outside: the follower gets the leader's. */
  if (mvr_si_effect(nr) == MVR_EFFECT_LOCAL && !creates_fds(nr) && nr != SYS_wait4 && nr != SYS_waitid) {
    *ret = exec_call(nr, a);
    return 1;
  }
  if (g_role == ROLE_LEADER && t_ts && __atomic_load_n(&g_shm->promote_state, __ATOMIC_SEQ_CST) == MVR_PROMOTE_REQ) {
    leader_pause(t_ts);
    /* Now the follower: re-issued, so that the call is decided under the follower's signal mask
     * (the SIGSYS handler's, or the one the wrapper sets). */
    if (g_role != ROLE_LEADER) return 0;
  }
  if (g_role == ROLE_LEADER) {
    int64_t r = exec_call(nr, a);
    /* Kicked out of a blocking call for a role switch: the call did not happen; it is re-issued,
     * and pauses at its entry. */
    if (r == -EINTR && __atomic_load_n(&g_shm->promote_state, __ATOMIC_SEQ_CST) == MVR_PROMOTE_REQ) return 0;
    if (nr == SYS_epoll_ctl && r == 0) epoll_note_own(a);
    leader_record(nr, a, r, 0);
    *ret = r;
    return 1;
  }
  int64_t r = follower_call(nr, a, 0);
  if (t_ts && t_ts->restart) return 0;
  *ret = r;
  return 1;
}

static void on_sigsys(int sig, siginfo_t *info, void *ctx) {
  (void)sig;
  ucontext_t *uc = ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  if (info->si_code != SYS_USER_DISPATCH) return; /* e.g. the monitor's kick at a role switch */
  uint32_t nr = (uint32_t)info->si_syscall;
  int64_t a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
  if (t_passthrough && nr != SYS_rt_sigreturn) {
    if (t_handoff_fork && is_creation(nr)) handoff_fork(nr, a, g);
    else g[REG_RAX] = exec_call(nr, a);
    return;
  }
  if (g_prelude && prelude_call(nr, a, g)) return;

  /* Once nothing can follow any more (no follower, and no journal for a later update), a leader
   * thread stops trapping altogether (each thread on its next syscall): a single leader runs at
   * native speed. Its handlers stay wrapped, recording nothing. */
  if (g_role == ROLE_LEADER && !recording() &&
      nr != SYS_rt_sigreturn && nr != SYS_rt_sigaction && nr != SYS_rt_sigprocmask) {
    disarm_sud();
    if (!is_creation(nr)) {
      g[REG_RAX] = exec_call(nr, a);
      return;
    }
  }

  switch (nr) {
    case SYS_rt_sigreturn:
      /* Return from the program's signal frame through the agent's restorer (same stack). */
      g[REG_RIP] = (greg_t)(uintptr_t)mvr_restorer;
      return;
    case SYS_rt_sigaction:
      g[REG_RAX] = do_rt_sigaction(a);
      return;
    case SYS_rt_sigprocmask:
      g[REG_RAX] = do_rt_sigprocmask(a, uc);
      return;
    case SYS_clone: case SYS_clone3: case SYS_fork: case SYS_vfork:
      g[REG_RAX] = nr; /* a stub performs it */
      handle_creation(nr, a, g);
      return;
    case SYS_execve: case SYS_execveat:
      if (g_role == ROLE_FOLLOWER) {
        mvr_call c;
        memset(&c, 0, sizeof c);
        c.nr = nr;
        for (int i = 0; i < 6; i++) c.args[i] = a[i];
        follower_retire(MVR_REPORT_UNSUPPORTED, "the v1 runtime does not follow new processes or exec", &c, t_ts ? t_ts->low : 0, MVR_RULE_DEFAULT);
      }
      leader_record(nr, a, 0, MVR_RECF_NORET);
      g[REG_RAX] = exec_call(nr, a); /* returns only on failure */
      return;
    case SYS_exit_group: case SYS_exit:
      if (g_role == ROLE_FOLLOWER) {
        follower_call(nr, a, 0);
        if (follower_restart(g, nr)) return;
        /* Tells the monitor this process ended as the leader's did (not a crash). */
        if (nr == SYS_exit_group) {
          for (unsigned r = 0; r < MVR_MAX_RINGS; r++)
            if (g_my_rings & (1u << r)) g_shm->ring[r].follower_exited = 1;
        } else if (t_ts) {
          t_ts->rc->follower_exited = 1;
        }
      } else {
        leader_record(nr, a, 0, MVR_RECF_NORET);
        if (nr == SYS_exit_group) {
          for (unsigned r = 0; r < MVR_MAX_RINGS; r++)
            if (g_my_rings & (1u << r)) ring_eof(&g_shm->ring[r]);
        } else if (t_ts) {
          ring_eof(t_ts->rc);
        }
      }
      mvr_raw_syscall(nr, a[0], 0, 0, 0, 0, 0);
      __builtin_unreachable();
    default:
      break;
  }
  int64_t ret;
  if (agent_call(nr, a, &ret)) {
    g[REG_RAX] = ret;
  } else {
    take_restart();
    reissue(g, nr);
  }
}

/* ---- handoff under MVE (mvr_agent_api.h) -------------------------------------------------------
 * The leader's handoff library forks at an update point; the child serialises the state and execs
 * the new version, which loads it and then follows the leader from the fork point. The agent makes
 * the fork point the start of a fresh event stream (the new version has no history to replay),
 * makes the child a child of the monitor (which watches it like any follower), and hands it
 * every descriptor the leader has, so that the new version's descriptor table matches the
 * leader's; epoll instances are replaced by empty ones, since a shared one would let the follower
 * change what the leader waits for. */

static int fd_is_epoll(int fd) {
  char path[40], link[32];
  if (RAW2(SYS_fcntl, fd, F_GETFD) < 0) return 0; /* not open: a cheap answer before procfs */
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  long n = RAW4(SYS_readlinkat, AT_FDCWD, path, link, sizeof link - 1);
  if (n <= 0) return 0;
  link[n] = 0;
  return !strcmp(link, "anon_inode:[eventpoll]");
}

/* Calls fn(epfd, fd, events, data) for each registration of epoll instance epfd, from
 * /proc/self/fdinfo (lines "tfd: FD events: HEX data: HEX ..."). */
static void epoll_registrations(int epfd, void (*fn)(int, int, uint32_t, uint64_t)) {
  char path[40];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
  int fd = (int)RAW4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return;
  char buf[8192];
  size_t have = 0;
  for (;;) {
    long n = RAW3(SYS_read, fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0 && have == 0) break;
    if (n > 0) have += (size_t)n;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) || (n <= 0 && *line)) {
      if (nl) *nl = 0;
      if (!strncmp(line, "tfd:", 4)) {
        char *p = line + 4, *e;
        long tfd = strtol(p, &e, 10);
        char *ev = strstr(e, "events:"), *da = strstr(e, "data:");
        if (ev && da && tfd >= 0 && tfd < FDMAX)
          fn(epfd, (int)tfd, (uint32_t)strtoul(ev + 7, NULL, 16), (uint64_t)strtoull(da + 5, NULL, 16));
      }
      if (!nl) {
        line += strlen(line);
        break;
      }
      line = nl + 1;
    }
    size_t used = (size_t)(line - buf);
    memmove(buf, line, have - used);
    have -= used;
    if (n <= 0) break;
    if (have == sizeof buf - 1) have = 0; /* a line longer than the buffer: not a registration */
  }
  RAW1(SYS_close, fd);
}

static void note_leader_registration(int epfd, int fd, uint32_t events, uint64_t data) {
  g_fdata[fd] = data;
  g_fev[fd] = events;
  g_fepfd[fd] = epfd + 1;
  leader_note(fd, (int64_t)data); /* the follower's view maps this data back to fd */
}

static int api_handoff_prepare(char *err, size_t cap) {
  tstate *ts = t_ts;
  if (g_role != ROLE_LEADER || !ts || ts->ring != 0) {
    snprintf(err, cap, "a handoff under mvrc starts from the leader's main thread");
    return -1;
  }
  if (g_shm->leader_threads) {
    snprintf(err, cap, "a handoff under mvrc supports single-threaded programs only (this one started threads or processes)");
    return -1;
  }
  if (!__atomic_load_n(&g_shm->follower_attached, __ATOMIC_SEQ_CST)) {
    snprintf(err, cap, "the monitor did not ask for a handoff (no follower is expected)");
    return -1;
  }
  uint64_t old;
  block_signals(&old);
  /* Descriptors queued at the monitor for the old stream are dropped at this marker. */
  mvr_fdmsg m = {.event = 0, .ring = MVR_FDMSG_RESET, .n = 0};
  struct iovec iov = {&m, sizeof m};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  RAW3(SYS_sendmsg, g_fdsock, &mh, MSG_NOSIGNAL);
  ring_restart(ts->rc);
  ts->leader_stopped = 0;
  /* The registrations, read back from the kernel: a leader that ran without recording (no
   * journal) did not see its epoll_ctl calls. */
  memset(g_fepfd, 0, sizeof g_fepfd);
  for (int fd = 0; fd < MVR_FD_BASE; fd++)
    if (fd_is_epoll(fd)) epoll_registrations(fd, note_leader_registration);
  __atomic_store_n(&g_shm->handoff_point, 1, __ATOMIC_SEQ_CST);
  restore_signals(&old);
  arm_sud(); /* a leader that stopped recording had disarmed it */
  t_handoff_fork = 1;
  return 0;
}

/* In the handoff child, right after the fork: not under the agent (SUD is not inherited), and
 * holding the leader's descriptors as the new version will need them. */
static void handoff_child_setup(void) {
  g_role = ROLE_NONE;
  t_ts = NULL;
  RAW1(SYS_close, g_fdsock); /* the leader's channel; the new version gets its own */
  RAW2(SYS_setpgid, 0, 0);   /* a terminal's ^C reaches the leader, which records it */
  for (int fd = 0; fd < MVR_FD_BASE; fd++) {
    long fl = RAW2(SYS_fcntl, fd, F_GETFD);
    if (fl < 0) continue;
    if (fd_is_epoll(fd)) {
      long e = RAW1(SYS_epoll_create1, 0);
      if (e >= 0) {
        RAW3(SYS_dup3, e, fd, 0);
        RAW1(SYS_close, e);
      }
    } else if (fl & FD_CLOEXEC) {
      RAW3(SYS_fcntl, fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
  }
}

static void handoff_fork(uint32_t nr, int64_t *a, greg_t *g) {
  t_handoff_fork = 0;
  if (nr == SYS_fork) {
    nr = SYS_clone;
    a[0] = SIGCHLD;
    a[1] = a[2] = a[3] = a[4] = 0;
  }
  if (nr == SYS_clone) {
    a[0] |= CLONE_PARENT;
  } else if (nr == SYS_clone3 && a[0] && (uint64_t)a[1] >= 64) {
    ((struct clone_args *)(uintptr_t)a[0])->flags |= CLONE_PARENT;
  } else {
    g[REG_RAX] = -EINVAL; /* vfork or a thread: not a handoff */
    return;
  }
  long ret = mvr_raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]); /* fork-like: no new stack */
  if (ret == 0) handoff_child_setup();
  g[REG_RAX] = ret;
}

/* The new version's calls before its first update point: its own start-up and the loading of the
 * old version's state. Nothing is compared yet, but nothing may reach the outside either: only
 * calls with a local effect run. Returns 0 for the calls the handler treats as usual. */
static int prelude_allowed(uint32_t nr, const int64_t *a) {
  int effect = mvr_si_effect(nr);
  if (effect == MVR_EFFECT_LOCAL || effect == MVR_EFFECT_READONLY) return 1;
  switch (nr) {
    case SYS_write: case SYS_writev: case SYS_pwrite64:
      return (int)a[0] == 1 || (int)a[0] == 2; /* its log */
    case SYS_close: case SYS_dup: case SYS_dup2: case SYS_dup3:
    case SYS_epoll_ctl: /* every epoll instance it has is its own (handoff_child_setup) */
      return 1;
    case SYS_fcntl:
      return (int)a[1] == F_GETFD || (int)a[1] == F_SETFD || (int)a[1] == F_GETFL || (int)a[1] == F_DUPFD ||
             (int)a[1] == F_DUPFD_CLOEXEC;
    case SYS_signalfd: case SYS_signalfd4:
      return (int)a[0] == -1; /* a new one (changing an inherited one would change the leader's) */
    case SYS_open: case SYS_openat: {
      int64_t fl = nr == SYS_open ? a[1] : a[2];
      return (fl & O_ACCMODE) == O_RDONLY && !(fl & (O_CREAT | O_TRUNC));
    }
    default:
      return 0;
  }
}

static int prelude_call(uint32_t nr, const int64_t *a, greg_t *g) {
  switch (nr) {
    case SYS_rt_sigreturn: case SYS_rt_sigaction: case SYS_rt_sigprocmask:
      return 0;
    case SYS_exit_group: case SYS_exit:
      mvr_raw_syscall(nr, a[0], 0, 0, 0, 0, 0); /* e.g. a state it could not load: the monitor sees the status */
      __builtin_unreachable();
    default:
      break;
  }
  if (prelude_allowed(nr, a)) {
    int64_t ret = exec_call(nr, a);
    if (nr == SYS_epoll_ctl && ret == 0) epoll_note_own(a);
    g[REG_RAX] = ret;
    return 1;
  }
  mvr_call c;
  memset(&c, 0, sizeof c);
  c.nr = nr;
  for (int i = 0; i < 6; i++) c.args[i] = a[i];
  follower_retire(MVR_REPORT_DIVERGE,
                  "before its first update point (while it loads the old version's state) the new version made a call "
                  "with an effect outside itself; only local calls are allowed until it follows",
                  &c, 0, MVR_RULE_DEFAULT);
}

static int api_active(void) { return g_role != ROLE_NONE; }
static void api_passthrough(int on) { t_passthrough += on ? 1 : -1; }
static int api_update_pending(void) {
  return g_role == ROLE_LEADER && __atomic_load_n(&g_shm->dsu_pending, __ATOMIC_SEQ_CST);
}
static int api_following(void) { return g_handoff_follower && g_role == ROLE_FOLLOWER; }
static void api_follow(void) { g_prelude = 0; }

EXPORT const mvr_agent_api mvr_agent = {
    .version = MVR_AGENT_API_VERSION,
    .active = api_active,
    .passthrough = api_passthrough,
    .update_pending = api_update_pending,
    .handoff_prepare = api_handoff_prepare,
    .following = api_following,
    .follow = api_follow,
};

/* ---- the fast path: the hot calls' libc symbols, exported by the agent -------------------------
 * Through syscall user dispatch every call costs a SIGSYS round trip (a signal frame with the FPU
 * state, rt_sigreturn): 1-2 us, most of the runtime's cost per request. The preloaded agent
 * therefore exports libc's wrappers for the calls servers make per request, which enter
 * agent_call directly, as Varan's programs call its monitor instead of trapping; the vDSO time
 * functions (which would not even trap) go the same way. Every other call, and libc's internal
 * calls that do not go through these symbols (fwrite's write, ...), still trap: the fallback
 * stays complete. The wrappers make the very syscall glibc's would (recv is recvfrom, ...), so the
 * two versions' events compare the same whichever way each call came. They are not cancellation
 * points (pthread_cancel needs glibc's internals). */

/* A library preloaded after the agent that defines one of these symbols (a user's LD_PRELOAD,
 * which the monitor keeps after the agent's) gets the call first, as without the agent: the
 * wrapper yields to it, and its own call of libc's function traps as usual. */
enum { FW_READ, FW_WRITE, FW_READV, FW_WRITEV, FW_RECV, FW_RECVFROM, FW_RECVMSG, FW_SEND, FW_SENDTO, FW_SENDMSG,
       FW_ACCEPT, FW_ACCEPT4, FW_SHUTDOWN, FW_SETSOCKOPT, FW_CLOSE, FW_EPOLL_WAIT, FW_EPOLL_PWAIT, FW_EPOLL_CTL, FW_N };
static const char *const g_fast_names[FW_N] = {"read", "write", "readv", "writev", "recv", "recvfrom", "recvmsg", "send",
                                               "sendto", "sendmsg", "accept", "accept4", "shutdown", "setsockopt",
                                               "close", "epoll_wait", "epoll_pwait", "epoll_ctl"};
static void *g_fast_next[FW_N];

static void fast_init(void) {
  void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  for (int i = 0; i < FW_N; i++) {
    void *next = dlsym(RTLD_NEXT, g_fast_names[i]);
    /* Without libc's own address to compare with, yield always: slower, never wrong. */
    void *own = libc ? dlsym(libc, g_fast_names[i]) : NULL;
    g_fast_next[i] = next && next != own ? next : NULL;
  }
  if (libc) dlclose(libc);
}

#define YIELD(i, type, ...)                          \
  do {                                               \
    void *next_ = g_fast_next[i];                    \
    if (next_) return ((type)next_)(__VA_ARGS__);    \
  } while (0)

/* The real vDSO-backed functions, for threads the agent does not intercept. */
static int (*g_real_clock_gettime)(clockid_t, struct timespec *);
static int (*g_real_gettimeofday)(struct timeval *restrict, void *restrict);
static time_t (*g_real_time)(time_t *);

static int64_t fast_call(uint32_t nr, int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4, int64_t a5) {
  /* Not intercepted (no monitor, a thread or process run unfollowed, a leader thread that stopped
   * recording): the call is native, as its trap-free syscall would be. */
  if (!t_armed || g_role == ROLE_NONE) return mvr_raw_syscall(nr, a0, a1, a2, a3, a4, a5);
  int64_t a[6] = {a0, a1, a2, a3, a4, a5};
  if (t_passthrough) return exec_call(nr, a);
  if (g_prelude) {
    /* A handoff's new version before its first update point: the same policy as for its
     * trapped calls (it runs the call, or retires the process). */
    gregset_t g;
    memset(g, 0, sizeof g);
    if (prelude_call(nr, a, g)) return g[REG_RAX];
  }
  for (;;) {
    if (g_role == ROLE_LEADER && !recording()) {
      disarm_sud(); /* as the SIGSYS handler does: nothing can follow any more */
      return exec_call(nr, a);
    }
    /* No program handler may run while the follower decides a call (its own calls would be
     * matched inside this one's): as around a leader's record, a handler that arrives meanwhile
     * is deferred (mvr_sig_wrapper) and its signal raised again at record_end. Blocking every
     * signal instead cost two rt_sigprocmask calls per call, a quarter of a Redis follower's
     * time. The leader needs nothing here: leader_record brackets its own record. */
    tstate *fts = g_role == ROLE_FOLLOWER ? t_ts : NULL;
    if (fts) record_begin(fts);
    int64_t ret;
    int done = agent_call(nr, a, &ret);
    if (fts) record_end(fts);
    if (!done) take_restart(); /* the leader's signal: its handler runs now, then the call again */
    if (done) return ret;
    /* Re-issued: after the signal's handler, or as the new role after a role switch. */
  }
}

/* glibc's convention: -1 and errno for a kernel error. */
static inline long fast_ret(int64_t r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return (long)r;
}

#define I(x) ((int64_t)(x))               /* int arguments: sign-extended, as glibc passes them */
#define P(x) ((int64_t)(uintptr_t)(x))    /* pointers */
#define U(x) ((int64_t)(uint64_t)(x))     /* size_t, socklen_t: zero-extended */

EXPORT ssize_t read(int fd, void *buf, size_t n) {
  YIELD(FW_READ, ssize_t (*)(int, void *, size_t), fd, buf, n);
  return fast_ret(fast_call(SYS_read, I(fd), P(buf), U(n), 0, 0, 0));
}
EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  YIELD(FW_WRITE, ssize_t (*)(int, const void *, size_t), fd, buf, n);
  return fast_ret(fast_call(SYS_write, I(fd), P(buf), U(n), 0, 0, 0));
}
EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  YIELD(FW_READV, ssize_t (*)(int, const struct iovec *, int), fd, iov, cnt);
  return fast_ret(fast_call(SYS_readv, I(fd), P(iov), I(cnt), 0, 0, 0));
}
EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  YIELD(FW_WRITEV, ssize_t (*)(int, const struct iovec *, int), fd, iov, cnt);
  return fast_ret(fast_call(SYS_writev, I(fd), P(iov), I(cnt), 0, 0, 0));
}
EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
  YIELD(FW_RECV, ssize_t (*)(int, void *, size_t, int), fd, buf, n, flags);
  return fast_ret(fast_call(SYS_recvfrom, I(fd), P(buf), U(n), I(flags), 0, 0));
}
EXPORT ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, __SOCKADDR_ARG addr, socklen_t *restrict len) {
  YIELD(FW_RECVFROM, ssize_t (*)(int, void *, size_t, int, __SOCKADDR_ARG, socklen_t *), fd, buf, n, flags, addr, len);
  return fast_ret(fast_call(SYS_recvfrom, I(fd), P(buf), U(n), I(flags), P(addr.__sockaddr__), P(len)));
}
EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  YIELD(FW_RECVMSG, ssize_t (*)(int, struct msghdr *, int), fd, msg, flags);
  return fast_ret(fast_call(SYS_recvmsg, I(fd), P(msg), I(flags), 0, 0, 0));
}
EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
  YIELD(FW_SEND, ssize_t (*)(int, const void *, size_t, int), fd, buf, n, flags);
  return fast_ret(fast_call(SYS_sendto, I(fd), P(buf), U(n), I(flags), 0, 0));
}
EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  YIELD(FW_SENDTO, ssize_t (*)(int, const void *, size_t, int, __CONST_SOCKADDR_ARG, socklen_t), fd, buf, n, flags, addr, len);
  return fast_ret(fast_call(SYS_sendto, I(fd), P(buf), U(n), I(flags), P(addr.__sockaddr__), U(len)));
}
EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  YIELD(FW_SENDMSG, ssize_t (*)(int, const struct msghdr *, int), fd, msg, flags);
  return fast_ret(fast_call(SYS_sendmsg, I(fd), P(msg), I(flags), 0, 0, 0));
}
EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len) {
  YIELD(FW_ACCEPT, int (*)(int, __SOCKADDR_ARG, socklen_t *), fd, addr, len);
  return (int)fast_ret(fast_call(SYS_accept, I(fd), P(addr.__sockaddr__), P(len), 0, 0, 0));
}
EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags) {
  YIELD(FW_ACCEPT4, int (*)(int, __SOCKADDR_ARG, socklen_t *, int), fd, addr, len, flags);
  return (int)fast_ret(fast_call(SYS_accept4, I(fd), P(addr.__sockaddr__), P(len), I(flags), 0, 0));
}
EXPORT int shutdown(int fd, int how) {
  YIELD(FW_SHUTDOWN, int (*)(int, int), fd, how);
  return (int)fast_ret(fast_call(SYS_shutdown, I(fd), I(how), 0, 0, 0, 0));
}
EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  YIELD(FW_SETSOCKOPT, int (*)(int, int, int, const void *, socklen_t), fd, level, name, val, len);
  return (int)fast_ret(fast_call(SYS_setsockopt, I(fd), I(level), I(name), P(val), U(len), 0));
}
EXPORT int close(int fd) {
  YIELD(FW_CLOSE, int (*)(int), fd);
  return (int)fast_ret(fast_call(SYS_close, I(fd), 0, 0, 0, 0, 0));
}
EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout) {
  YIELD(FW_EPOLL_WAIT, int (*)(int, struct epoll_event *, int, int), epfd, ev, max, timeout);
  return (int)fast_ret(fast_call(SYS_epoll_wait, I(epfd), P(ev), I(max), I(timeout), 0, 0));
}
EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
  YIELD(FW_EPOLL_PWAIT, int (*)(int, struct epoll_event *, int, int, const sigset_t *), epfd, ev, max, timeout, mask);
  return (int)fast_ret(fast_call(SYS_epoll_pwait, I(epfd), P(ev), I(max), I(timeout), P(mask), 8 /* the kernel's sigset */));
}
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
  YIELD(FW_EPOLL_CTL, int (*)(int, int, int, struct epoll_event *), epfd, op, fd, ev);
  return (int)fast_ret(fast_call(SYS_epoll_ctl, I(epfd), I(op), I(fd), P(ev), 0, 0));
}

/* vDSO time functions: made into real syscalls while intercepted, so they are recorded and replayed. */
EXPORT int clock_gettime(clockid_t clk, struct timespec *ts) {
  if (!t_armed && g_real_clock_gettime) return g_real_clock_gettime(clk, ts);
  return (int)fast_ret(fast_call(SYS_clock_gettime, I(clk), P(ts), 0, 0, 0, 0));
}
EXPORT int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  if (!t_armed && g_real_gettimeofday) return g_real_gettimeofday(tv, tz);
  return (int)fast_ret(fast_call(SYS_gettimeofday, P(tv), P(tz), 0, 0, 0, 0));
}
EXPORT time_t time(time_t *t) {
  if (!t_armed && g_real_time) return g_real_time(t);
  return (time_t)fast_call(SYS_time, P(t), 0, 0, 0, 0, 0);
}

#undef I
#undef P
#undef U
#undef YIELD

/* ---- start-up ---------------------------------------------------------------------------------- */

static void arm_sud(void) {
  long r = RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (long)(uintptr_t)mvr_allowed_start,
                (long)(mvr_allowed_end - mvr_allowed_start), (long)(uintptr_t)&g_selector, 0);
  if (r != 0) agent_fatal("syscall user dispatch is not available (prctl PR_SET_SYSCALL_USER_DISPATCH failed)");
  t_armed = 1;
}

static void disarm_sud(void) {
  RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0, 0);
  t_armed = 0;
}

__attribute__((constructor)) static void mvr_agent_init(void) {
  /* libc's own (vDSO) time functions, for the threads the agent does not intercept. */
  g_real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  g_real_gettimeofday = (int (*)(struct timeval *restrict, void *restrict))dlsym(RTLD_NEXT, "gettimeofday");
  g_real_time = (time_t(*)(time_t *))dlsym(RTLD_NEXT, "time");
  fast_init();
  const char *role = getenv(MVR_ENV_ROLE);
  if (!role || !*role) return; /* preloaded outside a monitor: do nothing */
  if (!strcmp(role, "leader")) g_role = ROLE_LEADER;
  else if (!strcmp(role, "follower")) g_role = ROLE_FOLLOWER;
  else agent_fatal("MVR_ROLE must be leader or follower");
  const char *fds = getenv(MVR_ENV_SHM_FD);
  const char *fdsock = getenv(MVR_ENV_FDSOCK);
  if (!fds || !fdsock) agent_fatal("MVR_SHM_FD or MVR_FDSOCK_FD is not set");
  int fd = atoi(fds);
  g_fdsock = atoi(fdsock);
  mvr_shared *hdr = mmap(NULL, MVR_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (hdr == MAP_FAILED || hdr->magic != MVR_SHM_MAGIC || hdr->version != MVR_SHM_VERSION)
    agent_fatal("cannot map the monitor's shared memory");
  size_t total = MVR_HDR_SIZE + (size_t)hdr->nrings * hdr->data_size;
  munmap(hdr, MVR_HDR_SIZE);
  g_shm = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (g_shm == MAP_FAILED) agent_fatal("cannot map the rings");
  g_data = (uint8_t *)g_shm + MVR_HDR_SIZE;
  /* The handoff channel is the handoff library's, in this process only: a program that does not
   * use the library must not pass it on to what it execs. (The library clears the flag in the
   * handoff child, which reports on it.) */
  const char *dsu = getenv("MVR_DSU_CTL_FD");
  if (dsu && *dsu) RAW3(SYS_fcntl, atoi(dsu), F_SETFD, FD_CLOEXEC);
  const char *mirror = getenv(MVR_ENV_MIRROR);
  if (mirror && !strcmp(mirror, "0")) g_mirror_stdio = 0;

  /* glibc's malloc initializes itself on first use with a getrandom() call. The follower's
   * dlopen of the rules module mallocs before SUD is armed; the leader must be in the same state,
   * or its first malloc would record a getrandom the follower never makes. */
  void *volatile first = malloc(16); /* volatile: the pair must not be optimized away */
  free(first);
  tstate *ts = tstate_new(0);
  if (g_role == ROLE_FOLLOWER) {
    follower_load_rules(getenv(MVR_ENV_RULES));
    follower_thread_init(ts);
    const char *handoff = getenv(MVR_ENV_HANDOFF);
    if (handoff && !strcmp(handoff, "1")) {
      g_handoff_follower = 1;
      g_prelude = 1; /* until its first update point (mvr_agent_api.h) */
    }
  } else {
    /* A program the leader exec'ed (or its children's) finds the flag set: the follower does not
     * follow exec (v1), so this image runs untouched, without trapping. */
    if (__atomic_exchange_n(&g_shm->leader_started, 1, __ATOMIC_SEQ_CST)) {
      g_role = ROLE_NONE;
      return;
    }
    ts->rc->in_use = 1;
  }
  t_ts = ts;

  install_sigsys();
  uint64_t unblock = KSIGSYS_BIT;
  RAW4(SYS_rt_sigprocmask, SIG_UNBLOCK, &unblock, 0, 8);
  arm_sud();
}
