/* agent.h — the agent's internal header: what its files share (libmvr-agent.so, the in-process half
 * of the mvr runtime, preloaded into both versions).
 *
 * The files, one concern each: init.c (start-up, the process-wide state, arming SUD), sigsys.c
 * (the SIGSYS handler and agent_call), record.c (leader: recording), follow.c (follower: the
 * leader view, the rule module, one call), clock.c (follower: the leader's time for its own clock
 * reads), reports.c (follower: retirement reports), fds.c
 * (descriptors passed from the leader), gather.c (iovec arrays and msghdrs by the syscall model),
 * epoll.c (epoll user data per version), signals.c
 * (signal-mask hygiene, the program's handlers, executing a call), tasks.c (threads and
 * processes), exec.c (execve: the new image keeps the task's ring), switch.c (role switch), handoff.c (handoff under MVE, mvr_agent_api.h), fastpath.c
 * (the hot calls' libc symbols), order.c (order across tasks), util.c (no-libc helpers),
 * trampoline.S (the allowed region).
 *
 * Everything declared here is hidden (-fvisibility=hidden, and the pragma below for the
 * declarations): the agent exports only the fast path's libc symbols and mvr_agent.
 *
 *
 * The constructor arms syscall user dispatch (SUD): every syscall the program makes outside the
 * agent's allowed region (trampoline.S) raises SIGSYS, and the handler (sigsys.c) decides what happens.
 *
 * Leader: executes the call and appends an event to the shared ring (mvr_ring.h).
 * Follower: asks the rule module (rules.so: a generated module, that of an empty rule file when no
 * rules are given, so the default rule too is generated C) what to do with the
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
 *  - Threads: the leader's new thread takes a free ring and names it in its creation's event; the
 *    follower's thread whose creation matches that event shares it (main threads: ring 0). The
 *    follower's clone is matched against the leader's, then really performed (its threads are its
 *    own); each new thread arms syscall user dispatch for itself on its first instruction
 *    (trampoline.S), as SUD is not inherited. Across threads and
 *    processes, the follower takes events in the order that matters (order.c): every event is
 *    stamped into one order, and an event is taken once the producers stamped before it are.
 *  - Processes: fork (and clone without CLONE_VM) pairs child processes the same way: the
 *    follower's fork is matched against the leader's (recorded after it, with the child's pid,
 *    which the follower's parent sees) and really performed; the child arms SUD for itself
 *    (mvr_after_create). vfork/posix_spawn/system (CLONE_VM without a thread) run unfollowed in
 *    the leader; the follower creates nothing and gets the leader's result, as the spawned
 *    program's effects are external. execve: recorded by the leader, matched by the follower, and
 *    really made by both; the new image keeps the task's ring and goes on from there (exec.c). Rings are reused once a
 *    pair ended (tasks.c): --max-tasks bounds the pairs alive at once; a follower needing more is
 *    retired naming the flag. A process maps only its own tasks' rings (ring_area).
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
 * trip, and make the call natively in a thread the agent does not intercept (fastpath.c and
 * docs/runtime.md).
 *
 * Live update (docs/lifecycle.md): while `journal_valid` is set, a leader without a follower keeps
 * SUD armed and records into the rings as a journal (nothing is released until the journal bound),
 * so that a new version started later replays its whole history. Role switch (promotion,
 * rollback from the updated-leader stage, failover): mvr_promote in mvr_ring.h; a cut across
 * every thread (switch.c); child processes are not switched.
 *
 * Not in v1: calling mvr_rules_finish at the follower's exit,
 * signals for rules with look-ahead across a signal, role switch of programs with child processes.
 */
#ifndef MVR_AGENT_H
#define MVR_AGENT_H

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
#include "../common/mvr_ringread.h"
#include "../common/mvr_params.h"
#include "../common/mvr_decode.h"
#include "../common/mvr_fdpass.h"
#include "../common/mvr_sys.h"
#include "../common/mvr_strbuf.h"
#include "mvr_agent_api.h"

#pragma GCC visibility push(hidden)

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

#define RAW0(n) mvr_raw_syscall((n), 0, 0, 0, 0, 0, 0)
#define RAW1(n, a) mvr_raw_syscall((n), (long)(a), 0, 0, 0, 0, 0)
#define RAW2(n, a, b) mvr_raw_syscall((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define RAW3(n, a, b, c) mvr_raw_syscall((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define RAW4(n, a, b, c, d) mvr_raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define RAW6(n, a, b, c, d, e, f) mvr_raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

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

/* ---- process-wide state (init.c) ------------------------------------------------------------------
 * One per process, shared by its threads. Set up by the constructor; a role switch changes `role`
 * (and a follower that becomes the leader stops mirroring stdio); a fork child inherits a copy and
 * keeps only its own ring in `my_rings`. Other process-wide tables belong to the file that uses
 * them: the program's signal handlers (signals.c), epoll registrations (epoll.c), installed
 * descriptors (fds.c), the rule module (follow.c). */
typedef struct agent_state {
  enum role role;
  mvr_shared *shm;                  /* the monitor's shared memory: the header (mvr_ring.h); the rings' data follow */
  int shm_fd;                       /* its descriptor, to map a ring's data when a task of this process first uses it */
  int32_t tgid;                     /* this process's id (the rings' leader_tgid/follower_tgid name their owners) */
  uint8_t *ring_map[MVR_MAX_RINGS]; /* ring k's data, once mapped here (ring_area) */
  volatile uint32_t tasks;          /* this process's followed or recording tasks (tstate_new/tstate_free) */
  /* Follower: writes to its own fd 1/2 (its log, set up by the monitor) are also performed after
   * matching, so that its output can be read there (MVR_MIRROR_STDIO=0 turns this off). */
  int mirror_stdio;
  int fdsock; /* descriptor channel (mvr_ring.h) */
  /* A follower started by a handoff (docs/handoff.md, "Under multi-version execution"), and
   * whether it is still in its prelude: it has not reached its first update point yet (its state
   * is being loaded; only local calls are allowed). */
  int handoff_follower;
  volatile int prelude;
  /* Role switches (switch.c): the shm's switch_gen this process has applied (its role is the one
   * that switch gave it), the lock under which one thread applies a switch for the whole process,
   * and each ring's thread state here (the take-over writes agent notes into ring 0's). */
  volatile uint32_t gen;
  volatile uint32_t switch_lock;
  struct tstate *ring_ts[MVR_MAX_RINGS];
  /* The agent's own messages (a retirement report, a fatal error) go to a copy of the stderr the
   * process started with, kept at MVR_FD_BASE or above: a server's child process often makes fd 2
   * its client's socket (vsftpd's sessions, inetd-style servers), and a report written there
   * reached the client in the middle of its protocol. 0 until set: fd 2. */
  int errfd;
  uint64_t errfd_dev, errfd_ino; /* what it is, to tell it from a descriptor the program put there */
} agent_state;

extern agent_state g_agent;

/* Where the agent's own messages go (see errfd): fd 2 if the copy was not made or the program
 * closed it (its number may hold one of the program's descriptors since). */
int agent_errfd(void);
void agent_keep_stderr(void);

/* ---- per-thread state outside tstate (init.c, tasks.c) ------------------------------------------ */

/* Set while the agent itself runs library code that makes syscalls (loading the backward rules at
 * a role switch): those calls are executed as they are, never recorded or matched. */
extern TLS int t_passthrough;
/* Leader: the next fork of this thread is the handoff fork (docs/handoff.md). */
extern TLS int t_handoff_fork;
/* Whether syscall user dispatch is armed for this thread (set by arm_sud, cleared where the agent
 * disarms it or in a new process before it arms itself): the fast path's wrappers go through the
 * agent only then, and otherwise make the call natively, as an unarmed thread's calls are. */
extern TLS int t_armed;
/* The application's return address for the creation stubs (tasks.c, read by trampoline.S). */
extern TLS uint64_t mvr_native_ret;
/* Set when the monitor's kick (a SIGSYS that is not syscall user dispatch) reached this thread:
 * a local call it interrupted is made again instead of returning EINTR to the program. */
extern TLS volatile int t_kicked;
/* Follower: set when a signal of its own (not a replay of the leader's) reached this thread and
 * its handler was not run (signals.c): a local call it interrupted is made again. */
extern TLS volatile int t_swallowed;

/* Set while a leader's thread runs the program's handler of its own fault (signals.c). */
extern volatile int g_leader_fault;

/* Whether the leader records: a follower is attached, or the journal is still being kept, and
 * the process is not on its way down from a fault (its crash handler's calls are its own). */
static inline int recording(void) {
  return (g_agent.shm->follower_attached || g_agent.shm->journal_valid) && !g_agent.shm->overflow && !g_leader_fault;
}

/* ---- per-thread state ------------------------------------------------------------------------- */

#define WIN 1024u /* parsed look-ahead window (events), well above MVR_MAX_LEADER_ACTIONS */

typedef struct parsed {
  mvr_event ev;
  uint64_t pos; /* ring position of the record */
  uint32_t flags;
  uint64_t ep_data; /* epoll_ctl: the leader's epoll_event.data (blanked in the event itself) */
  uint8_t *big;     /* a split event's bytes, reassembled here (freed once the event is released) */
  uint64_t big_len;
  uint64_t prod; /* the producers stamped before it (order.c) */
} parsed;

#define MATCHED_CREATION (1u << 15) /* in tstate.matched_flags: a creation was matched (not a record flag) */

/* One per thread the agent follows or records (its ring), allocated by tstate_new outside the
 * program's heap (raw mmap); t_ts is the calling thread's (NULL: not followed). The follower's
 * fields hold its view over the ring (the window of parsed events the rule module looks at); the
 * leader's, the signal handlers deferred while a record is written (record_begin). */
typedef struct tstate {
  uint32_t ring;
  uint32_t gen; /* the process's switch generation this thread's state was set up for (switch.c) */
  mvr_ringctl *rc;
  uint8_t *data;
  int leader_stopped; /* leader: this thread stopped recording (follower gone, ring overflow) */
  /* follower */
  uint64_t scan_pos;         /* next record position to parse */
  uint64_t scan_index;       /* index of the next event to parse */
  uint64_t low;              /* lowest event index still held */
  void *rstate;              /* the rule module's matcher state */
  int pending_sig;           /* a leader signal record is next in the ring */
  uint32_t pending_sig_size; /* its size, as the ring reader checked it (never read again) */
  int idle_eof;              /* deciding as if the leader's stream ended here (see follower_call) */
  uint64_t wait_head;        /* follower_wait_events: the ring head when it started waiting, and when */
  uint64_t wait_start;
  int restart;            /* the current call is abandoned: re-issue it after the signal's handler */
  int restart_sig;        /* ... the leader's signal to raise first (0: none, e.g. after a take-over) */
  siginfo_t restart_info; /* ... with the leader's siginfo */
  uint32_t matched_flags; /* the record flags of the leader's creation a task creation matched */
  /* A split event being reassembled (MVR_RECF_SPLIT): its header, and its bytes so far. */
  mvr_rec split_hdr;
  uint8_t *split_buf;
  uint64_t split_total, split_got;
  /* leader */
  volatile int in_record; /* records being written (record_begin, nested): handlers are deferred */
  int pre_valid;          /* a producer's stamp, taken before its call (order.c) */
  uint64_t pre_seq, pre_prod;
  volatile uint64_t deferred; /* signals whose handler was deferred (bit sig-1), with their info */
  siginfo_t deferred_info[65];
  /* Follower: the leader's signals raised to this thread to replay them (bit sig-1), until their
   * handler runs (signals.c); and the pending signal record's details: the local call the
   * leader's thread was blocked in when its handler ran (0: none) and, for a sleep, the time it
   * had left (MVR_SIG_* in mvr_ring.h). */
  volatile uint64_t replaying;
  uint32_t pending_sig_during;
  int64_t pending_sig_args[6];
  siginfo_t pending_sig_info; /* the leader's siginfo (si_code 0: none recorded) */
  /* Leader: the local call this thread is blocked in (0: none), and its arguments: a signal
   * recorded meanwhile names it (leader_record_signal). */
  volatile uint32_t local_nr;
  const int64_t *volatile local_args;
  mvr_leader_view view;
  mvr_step step;
  uint8_t *gather; /* follower: a call's gathered input bytes (gather.c), max_buf bytes, made on first use */
  uint64_t gather_cap;
  uint8_t *meta; /* follower: a sent mmsghdr vector's layout (gather.c), likewise */
  uint64_t meta_cap;
  parsed win[WIN];
  /* Leader: ring position up to which the pages ahead of the head were faulted in (record.c,
   * ring_populate). */
  uint64_t populated;
} tstate;

extern TLS tstate *t_ts;

/* ---- shared types and constants ---------------------------------------------------------------- */

/* The kernel's sigset for rt_sigaction/rt_sigprocmask is 8 bytes on x86-64. */
#define KSIGSYS_BIT (1ull << (SIGSYS - 1))

struct ksigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

/* epoll.c: this version's own epoll registrations per fd (both roles), and the leader-data map. */
#define FDMAX 65536
struct epoll_event_packed {
  uint32_t events;
  uint64_t data;
} __attribute__((packed));
extern uint64_t g_fdata[FDMAX];
extern uint32_t g_fev[FDMAX];
extern int32_t g_fepfd[FDMAX];
#define LMAP 16384u
extern int32_t g_lfd[LMAP];

/* follow.c: the rule module's entry points (a generated module, mvr_rules.h). */

typedef struct rules_api {
  size_t (*state_size)(void);
  void (*reset)(void *, uint64_t);
  int (*step)(void *, const mvr_leader_view *, const mvr_call *, mvr_step *);
  uint64_t (*low_water)(const void *);
  int (*finish)(void *, const mvr_leader_view *, mvr_step *);
  const mvr_rule_info *info;
  uint32_t count;
} rules_api;

extern rules_api g_rules;

/* fds.c: per ring, events below this have their descriptors installed. */
extern uint64_t g_fd_installed[MVR_MAX_RINGS];

/* gather.c: where the bytes of a call's model positions are (iovec arrays, msghdrs, mmsghdr
 * vectors and their derived parts; mvr_si_model_slots). full[i]: the bytes there (inputs: as
 * passed; outputs before the call: the capacity; after it: what the kernel wrote), not yet capped. */
typedef struct model_src {
  uint32_t nr;
  unsigned mask;              /* the positions described */
  int out[6];                 /* an output position */
  const struct iovec *iov[6]; /* gathered: the iovecs (count bounded by IOV_MAX) */
  uint64_t iovcnt[6];
  void *ptr[6];          /* contiguous: msg_name, msg_control, &msg_flags */
  struct msghdr *msg[6]; /* the msghdr at a parameter */
  struct mmsghdr *mm;    /* an mmsghdr vector (at mm_at; its layout at meta_at; -1: none) */
  uint64_t mmcnt;        /* its messages: all those passed, or those received */
  int mm_got;            /* received, after the call: the data lengths are msg_len */
  int mm_at, meta_at;
  uint64_t full[6];
} model_src;

/* ---- functions, by the file that defines them ---------------------------------------------------- */

/* util.c */
void __attribute__((noreturn)) agent_fatal(const char *msg);
void *raw_alloc(size_t n);
uint64_t now_ns(void);

/* clock.c */
void clock_note_leader(const mvr_event *ev);
int clock_follower_own(uint32_t nr, const int64_t *args, int64_t *ret);
void clock_init(void *libc);
int leader_clock(uint32_t nr, const int64_t *args, int64_t *ret);
void futex_wait(volatile uint32_t *word, uint32_t val, uint64_t timeout_ns);
void futex_wake(volatile uint32_t *word);
void spin_lock(volatile uint32_t *l);
void spin_unlock(volatile uint32_t *l);
tstate *tstate_new(uint32_t ring);
void tstate_free(tstate *ts);
uint8_t *ring_area(uint32_t ring);
int journal_allocate(uint32_t ring, uint64_t upto); /* record.c: the journal file, ahead of a head */
int journal_allocate_keep(uint32_t ring, uint64_t upto, uint64_t keep);
void journal_end(uint32_t by_space); /* record.c: the journal is over (a bound passed) */
void journal_floors(void);           /* record.c: its rings become ordinary rings of --ring-size */
int ring_mine(uint32_t ring);

/* init.c */
void arm_sud(void);
void disarm_sud(void);
void sud_allow(int on);

/* signals.c */
void block_signals(uint64_t *old);
void restore_signals(const uint64_t *old);
void record_begin(tstate *ts);
void record_end(tstate *ts);
long do_rt_sigaction(const int64_t *a);
long do_rt_sigprocmask(const int64_t *a, ucontext_t *uc);
int64_t exec_call(uint32_t nr, const int64_t *a);
void replay_signal(int sig, const siginfo_t *info, uint32_t nr, const int64_t *a, const uint64_t *prog);
int take_restart(uint32_t nr, const int64_t *a, const uint64_t *prog);
void reissue(greg_t *g, uint32_t nr);
int follower_restart(greg_t *g, uint32_t nr);

/* fds.c */
int creates_fds(uint32_t nr, const int64_t *args);
int leader_send_fds(tstate *ts, uint32_t nr, const int64_t *args, int64_t ret, uint64_t index);
void follower_recv_fds(uint32_t ring, uint64_t event, const mvr_call *call);
void fd_ring_fresh(uint32_t k);

/* gather.c */
void model_describe(uint32_t nr, const int64_t *args, int64_t ret, int after, model_src *m);
void model_copy(const model_src *m, unsigned i, uint8_t *dst, uint64_t n);
const uint8_t *model_view(const model_src *m, unsigned i, uint64_t n);
void model_deliver(const model_src *m, const mvr_step *step, int64_t ret);
unsigned scm_rights(const uint8_t *ctl, uint64_t len, void (*each)(void *, int32_t), void *ctx);
unsigned event_scm_rights(const mvr_event *e);

/* record.c */
void leader_record(uint32_t nr, const int64_t *args, int64_t ret, uint32_t flags);
void leader_record_clock(uint32_t nr, int64_t clk, int64_t ptr, const int64_t val[2]);
void leader_record_signal(int sig, const siginfo_t *info);
void leader_note(int64_t fd, int64_t data);
void ring_eof(mvr_ringctl *rc);

/* follow.c */
const mvr_event *view_get(void *ctx, uint64_t index, int *eof);
parsed *held(tstate *ts, uint64_t index);
void follower_load_rules(const char *path);
void follower_thread_init(tstate *ts);
int64_t follower_call(uint32_t nr, const int64_t *args, int decide_only);
int follower_sleep(uint32_t nr, const int64_t *a, int64_t *ret);

/* reports.c */
void __attribute__((noreturn))
follower_retire(uint32_t kind, const char *reason, const mvr_call *call, uint64_t event, uint32_t rule);
/* signals.c: the fault whose program handler the thread runs (0: none), and its address. */
extern TLS int t_fault_sig;
extern TLS uintptr_t t_fault_addr;

/* epoll.c */
void lmap_put(uint64_t key, uint64_t val);
void epoll_note_own(const int64_t *fargs);
void epoll_note_ctl(const int64_t *fargs, const parsed *lev);
void epoll_translate(int64_t buf, int64_t count);

/* switch.c */
void install_sigsys(void);
void ring_restart(mvr_ringctl *rc);
int leader_enter(tstate *ts, uint32_t nr);
void leader_leave(tstate *ts);
int leader_signal_enter(tstate *ts);
void thread_take_role(tstate *ts);
int follower_take_over(tstate *ts);

/* exec.c */
void exec_save_env(void);
int64_t exec_leader(uint32_t nr, const int64_t *a);
int64_t exec_follower(uint32_t nr, const int64_t *a);
tstate *exec_resume(const char *spec);

/* tasks.c */
void handle_creation(uint32_t nr, const int64_t *a, greg_t *g);
void follower_reaped(uint32_t nr, const int64_t *a, int64_t ret);
void follower_reap_pending(void);

/* sigsys.c */
int agent_call(uint32_t nr, const int64_t *a, int64_t *ret);
void on_sigsys(int sig, siginfo_t *info, void *ctx);

/* handoff.c */
void handoff_fork(uint32_t nr, int64_t *a, greg_t *g);
int prelude_call(uint32_t nr, const int64_t *a, greg_t *g);

/* fastpath.c */
void fast_init(void);

/* order.c */
void order_note_fds(uint32_t nr, const int64_t *a, int64_t ret);
int order_enter(tstate *ts, uint32_t nr, const int64_t *a);
void order_leave(tstate *ts);
void order_stamp(tstate *ts, mvr_rec *r);
void order_restart(void);
void order_take(tstate *ts, const parsed *pe);

#pragma GCC visibility pop

#endif
