/* tasks.c — threads and processes: pairing the versions' new threads and child processes (ring k),
 * and the creation stubs' C side (mvr_thread_start, mvr_after_create). */
#include "agent.h"
#include "mvr_syscalls.h"

/* The application's return address for the creation stubs (per thread). */
HIDDEN TLS uint64_t mvr_native_ret;
/* A process creation in flight in this thread (set by the handler, read by mvr_after_create). */
static TLS struct {
  uint32_t nr, follow; /* follow: the child is a new process paired with the other version's */
  uint64_t ring;       /* the child's ring, or ~0 */
  int64_t args[6];
  int64_t leader_ret; /* follower: the leader's result, which the follower's program sees */
  int armed;          /* the parent's t_armed (a vfork child shares, and clears, the parent's) */
  int ordered;        /* leader: the creation took its order stamp before the call (order.c) */
} t_create;

/* ---- follower: reaping its own child processes --------------------------------------------------
 * A follower's wait4/waitid is matched against the leader's and gets its result (the leader's
 * child's pid and status): the program must see that. Its own child process, which followed the
 * leader's, would then never be waited for and stay a zombie once it ends (one per vsftpd
 * session). So the follower notes each of its children beside the leader's pid the program saw at
 * the fork, and once the leader's wait reaps that pid, the follower reaps its own counterpart:
 * at once if it has ended (WNOHANG), else when its SIGCHLD arrives (signals.c: the follower's own
 * signals run no handler of the program's) or at the next matched wait. A child the leader has
 * not waited for stays a zombie in both versions alike. The table is lock-free (a SIGCHLD may
 * arrive while a thread updates it); past REAP_MAX children alive at once, the extra ones are not
 * reaped (as before). */
#define REAP_MAX 1024
static struct {
  volatile int32_t own;    /* the follower's child (0: a free entry, -1: being set up) */
  volatile int32_t leader; /* the leader's child the program saw */
  volatile uint32_t state; /* 0: the leader's is not reaped yet, 1: it is, 2: reaping ours */
} g_reap[REAP_MAX];

static void reap_note(int32_t leader, int32_t own) {
  if (leader <= 0 || own <= 0) return;
  for (unsigned i = 0; i < REAP_MAX; i++) {
    int32_t z = 0;
    if (!__atomic_compare_exchange_n(&g_reap[i].own, &z, -1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) continue;
    g_reap[i].leader = leader;
    g_reap[i].state = 0;
    __atomic_store_n(&g_reap[i].own, own, __ATOMIC_SEQ_CST);
    return;
  }
}

/* Reaps the follower's children whose leader counterparts were reaped, if they have ended. */
void follower_reap_pending(void) {
  for (unsigned i = 0; i < REAP_MAX; i++) {
    int32_t own = __atomic_load_n(&g_reap[i].own, __ATOMIC_SEQ_CST);
    uint32_t one = 1;
    if (own <= 0 || !__atomic_compare_exchange_n(&g_reap[i].state, &one, 2, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
      continue;
    long r = RAW4(SYS_wait4, own, 0, WNOHANG | __WALL, 0);
    if (r == own || r == -ECHILD) {
      __atomic_store_n(&g_reap[i].own, 0, __ATOMIC_SEQ_CST);
      continue;
    }
    __atomic_store_n(&g_reap[i].state, 1, __ATOMIC_SEQ_CST);
  }
}

/* After a follower's matched wait4/waitid (`ret`, the leader's result the program got): the
 * leader's child it names was reaped, so the follower's own counterpart may be. */
void follower_reaped(uint32_t nr, const int64_t *a, int64_t ret) {
  int32_t leader = 0;
  if (nr == SYS_wait4 && ret > 0) leader = (int32_t)ret;
  if (nr == SYS_waitid && ret == 0 && a[2] && !(a[3] & WNOWAIT)) leader = ((const siginfo_t *)(uintptr_t)a[2])->si_pid;
  if (leader <= 0) return;
  for (unsigned i = 0; i < REAP_MAX; i++)
    if (__atomic_load_n(&g_reap[i].own, __ATOMIC_SEQ_CST) > 0 && g_reap[i].leader == leader) {
      uint32_t zero = 0;
      __atomic_compare_exchange_n(&g_reap[i].state, &zero, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
  follower_reap_pending();
}

/* ---- threads and processes -------------------------------------------------------------------- */

/* The clone flags and the child's initial stack pointer of a task creation, by the model
 * (`task`, and `task_param`: where the flags or the struct clone_args are): fork is a clone
 * without flags, vfork one with CLONE_VM | CLONE_VFORK, both on the parent's stack. */
static uint64_t clone_flags(uint32_t nr, const int64_t *a, uint64_t *child_sp) {
  unsigned at;
  int task = mvr_si_task(nr, &at);
  *child_sp = 0;
  if (at >= 6) return 0;
  switch (task) {
    case MVR_TASK_VFORK: return CLONE_VM | CLONE_VFORK;
    case MVR_TASK_CLONE:
      *child_sp = (uint64_t)a[1]; /* x86-64: clone(flags, stack, ...) */
      return (uint64_t)a[at];
    case MVR_TASK_CLONE3:
      if (at + 1 < 6 && a[at] && (uint64_t)a[at + 1] >= 64) { /* clone3(args, size) */
        const struct clone_args *ca = (const struct clone_args *)(uintptr_t)a[at];
        if (ca->stack) *child_sp = ca->stack + ca->stack_size;
        return ca->flags;
      }
      return 0;
    default: return 0; /* fork */
  }
}

/* First thing a new thread runs (from mvr_thread_stub, on its own stack, before the program's
 * thread code): take its ring and arm syscall user dispatch. Ring ~0: run unfollowed. */

void mvr_thread_start(uint64_t ring) {
  if (ring >= g_agent.shm->nrings) return;
  if (g_agent.role == ROLE_LEADER && !recording()) return; /* nothing to follow */
  tstate *ts = tstate_new((uint32_t)ring);
  if (g_agent.role == ROLE_FOLLOWER) follower_thread_init(ts);
  else {
    ts->rc->leader_tid = (int32_t)RAW0(SYS_gettid);
    ts->rc->process = 0;
    ts->rc->in_use = 1;
  }
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

/* ---- rings: one per task pair alive at once (mvr_ring.h) ---------------------------------------- */

#define NO_RING (~0ull)

/* Whether ring k's pair ended (its leader task recorded its end, its follower task matched its
 * own or no follower is attached), so that a new pair may take it; never while the journal is
 * kept, which a later version replays from every ring's event #0. */
static int ring_reusable(const mvr_ringctl *rc) {
  if (!rc->in_use) return 1;
  if (!rc->leader_eof || g_agent.shm->journal_valid) return 0;
  return rc->follower_exited || !g_agent.shm->follower_attached;
}

/* Leader: a ring for a new task (thread or process), taken before the creation is recorded, so
 * that its event names it. When every ring's leader task is alive, there is none: the task runs
 * unfollowed and the follower is retired at its own creation, naming --max-tasks. When some
 * ring's leader task ended but its follower task has not yet, the leader waits for it, as it
 * waits for ring space (bounded the same way). */
static uint64_t claim_ring(void) {
  mvr_shared *sh = g_agent.shm;
  __atomic_add_fetch(&sh->leader_threads, 1, __ATOMIC_SEQ_CST);
  uint64_t start = 0;
  for (;;) {
    int pending = 0;
    spin_lock(&sh->ring_lock);
    for (uint32_t k = 1; k < sh->nrings; k++) {
      mvr_ringctl *rc = &sh->ring[k];
      if (!ring_reusable(rc)) {
        pending |= rc->in_use && rc->leader_eof;
        continue;
      }
      /* A fresh stream for the new pair; the futex words keep counting (a sleeper compares them). */
      mvr_ringctl_restart_stream(rc);
      rc->leader_waiting = 0;
      rc->follower_waiting = 0;
      rc->follower_pid = 0;
      rc->follower_tgid = 0;
      rc->leader_tgid = 0;
      rc->last_rule = MVR_RULE_DEFAULT;
      rc->gen++;
      __atomic_store_n(&rc->in_use, 1, __ATOMIC_SEQ_CST);
      spin_unlock(&sh->ring_lock);
      /* The journal's file: a ring gets its first step on disk before its first record, its floor
       * once the journal is over (mvr_ring.h). */
      uint64_t first = sh->journal_valid && sh->ring_floor > MVR_JOURNAL_FIRST ? MVR_JOURNAL_FIRST : sh->ring_floor;
      if (sh->journal_file && !journal_allocate(k, first)) {
        journal_end(1);
        /* Without even that, the ring is no use: the task runs unfollowed. */
        if (!journal_allocate_keep(k, first, 0)) {
          __atomic_store_n(&rc->in_use, 0, __ATOMIC_SEQ_CST);
          return NO_RING;
        }
      }
      /* The journal ended meanwhile (journal_end gives floors to the rings it saw allocated). */
      if (sh->journal_file && !sh->journal_valid) journal_allocate_keep(k, sh->ring_floor, 0);
      return k;
    }
    if (pending && sh->journal_valid) {
      /* A journal keeps every ring from event #0: it ends here, as past its bound, and the ring of
       * a pair that ended is reused (a later update by replay is refused, saying why). */
      if (__atomic_load_n(&sh->journal_valid, __ATOMIC_SEQ_CST)) {
        sh->journal_ended_by_tasks = 1;
        spin_unlock(&sh->ring_lock);
        journal_end(0);
        continue;
      }
      spin_unlock(&sh->ring_lock);
      continue;
    }
    spin_unlock(&sh->ring_lock);
    if (!pending || !recording()) return NO_RING;
    uint64_t t = now_ns();
    if (!start) start = t;
    if (t - start >= (uint64_t)sh->ring_wait_ms * 1000000ull) return NO_RING;
    struct timespec pause = {0, 1000000};
    RAW2(SYS_nanosleep, &pause, 0);
  }
}

static uint32_t ring_flag(uint64_t k) { return k < MVR_MAX_RINGS ? MVR_RECF_RING(k) : 0; }

/* Follower: the ring the leader's matching creation named (follower_call keeps its flags). */
static uint64_t follower_ring(uint32_t nr, const int64_t *a) {
  __atomic_add_fetch(&g_agent.shm->follower_threads, 1, __ATOMIC_SEQ_CST);
  uint32_t f = t_ts ? t_ts->matched_flags : 0;
  int64_t k = MVR_RECF_RING_OF(f);
  if (k <= 0 || (uint64_t)k >= g_agent.shm->nrings) {
    char why[200];
    if (!(f & MATCHED_CREATION))
      snprintf(why, sizeof why, "the follower's new task matches no task the leader created (a rule decided it)");
    else
      snprintf(why, sizeof why,
               "more threads and processes alive at once than --max-tasks allows (%u, the main thread included): "
               "the leader's new task is not followed",
               g_agent.shm->nrings);
    mvr_call c;
    memset(&c, 0, sizeof c);
    c.nr = nr;
    for (int i = 0; i < 6; i++) c.args[i] = a[i];
    follower_retire(MVR_REPORT_UNSUPPORTED, why, &c, t_ts ? t_ts->low : 0, MVR_RULE_DEFAULT);
  }
  return (uint64_t)k;
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
void handle_creation(uint32_t nr, const int64_t *a, greg_t *g) {
  uint64_t child_sp;
  uint64_t flags = clone_flags(nr, a, &child_sp);
  int thread = (flags & CLONE_THREAD) && child_sp;
  if (thread) {
    if (g_agent.role == ROLE_FOLLOWER) {
      follower_call(nr, a, 1); /* matched against the leader's thread creation, then performed */
      if (follower_restart(g, nr)) return;
      /* An unarmed follower thread would act on the world: never let one run (follower_ring
       * retires the follower when the leader had no ring for it). */
      uint64_t k = follower_ring(nr, a);
      g_agent.shm->ring[k].follower_tgid = g_agent.tgid; /* a thread of this process */
      fd_ring_fresh((uint32_t)k);                        /* a fresh stream (the ring may be reused) */
      start_thread(g, child_sp, k);
    } else {
      /* A role switch's cut: pauses here, or is a follower now (switch.c). */
      if (t_ts && !leader_enter(t_ts, nr)) {
        reissue(g, nr);
        return;
      }
      uint64_t k = claim_ring();
      if (k != NO_RING) g_agent.shm->ring[k].leader_tgid = g_agent.tgid;
      leader_record(nr, a, 0, MVR_RECF_NORET | ring_flag(k));
      start_thread(g, child_sp, k);
      if (t_ts) leader_leave(t_ts);
    }
    return;
  }
  if ((flags & CLONE_THREAD) || (flags & CLONE_VM && !(flags & CLONE_VFORK) && child_sp)) {
    if (g_agent.role == ROLE_FOLLOWER) retire_unsupported(nr, a, "the v1 runtime does not follow this kind of clone");
  }
  /* The leader's creation is recorded in mvr_after_create (leader_leave there). */
  if (g_agent.role == ROLE_LEADER && t_ts && !leader_enter(t_ts, nr)) {
    reissue(g, nr);
    return;
  }
  t_create.nr = nr;
  for (int i = 0; i < 6; i++) t_create.args[i] = a[i];
  t_create.follow = !(flags & CLONE_VM);
  t_create.ring = ~0ull;
  t_create.armed = t_armed;
  if (g_agent.role == ROLE_FOLLOWER) {
    /* Wait for the leader's result (recorded after its creation) and match against it. */
    t_create.leader_ret = follower_call(nr, a, 0);
    if (follower_restart(g, nr)) return;
    if (!t_create.follow || t_create.leader_ret < 0) {
      g[REG_RAX] = t_create.leader_ret; /* no child: the leader's child does the work */
      return;
    }
    t_create.ring = follower_ring(nr, a);
  } else if (t_create.follow) {
    t_create.ring = claim_ring();
  }
  /* A followed child is recorded in the parent after it returns, and the child may record events
   * first: stamped before the call, the creation comes before them in the order (else the
   * follower's parent would wait for the events of a child it has not created yet). */
  t_create.ordered = g_agent.role == ROLE_LEADER && t_create.follow && order_enter(t_ts, nr, a);
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
    /* The parent's stamp is the parent's to record; signals deferred meanwhile are raised here. */
    if (t_create.ordered) {
      t_ts->pre_valid = 0;
      order_leave(t_ts);
    }
    /* Not in a vfork child (t_create.follow is 0), which shares the parent's memory. */
    if (t_create.follow) g_agent.tgid = (int32_t)RAW0(SYS_getpid);
    if (!t_create.follow || t_create.ring >= g_agent.shm->nrings) return 0;
    if (g_agent.role == ROLE_LEADER && !recording()) return 0;
    /* The parent's rings are its own: only this process's is kept mapped (address space). */
    for (uint32_t k = 0; k < g_agent.shm->nrings; k++)
      if (k != t_create.ring && g_agent.ring_map[k]) {
        RAW2(SYS_munmap, g_agent.ring_map[k], g_agent.shm->data_size);
        g_agent.ring_map[k] = NULL;
      }
    g_agent.tasks = 0;                        /* a new process: its only task is this one */
    memset((void *)g_reap, 0, sizeof g_reap); /* the parent's children are not this one's */
    tstate *ts = tstate_new((uint32_t)t_create.ring);
    g_fd_installed[t_create.ring] = 0;
    if (g_agent.role == ROLE_FOLLOWER) {
      follower_thread_init(ts);
      ts->rc->follower_pid = g_agent.tgid;
      ts->rc->follower_tgid = g_agent.tgid;
    } else {
      ts->rc->leader_tgid = g_agent.tgid;
      ts->rc->leader_tid = (int32_t)RAW0(SYS_gettid);
      ts->rc->process = 1; /* a role switch does not cover child processes (lifecycle.c) */
    }
    t_ts = ts;
    arm_sud();
    return 0;
  }
  t_armed = t_create.armed;
  if (g_agent.role == ROLE_LEADER) {
    /* The parent records the creation with its result, the child's pid (or the error). */
    if (ret < 0 && t_create.ring < g_agent.shm->nrings) {
      /* No child: its ring is free again (no follower task will take it). */
      __atomic_store_n(&g_agent.shm->ring[t_create.ring].in_use, 0, __ATOMIC_SEQ_CST);
      t_create.ring = NO_RING;
    }
    if (ret > 0 && t_create.ring < g_agent.shm->nrings) g_agent.shm->ring[t_create.ring].leader_tgid = (int32_t)ret;
    leader_record(t_create.nr, t_create.args, ret, t_create.follow ? ring_flag(t_create.ring) : 0);
    if (t_create.ordered) {
      t_ts->pre_valid = 0;
      order_leave(t_ts);
    }
    if (t_ts) leader_leave(t_ts);
    return ret;
  }
  /* The monitor watches the follower's child processes through their rings: named here by the
   * parent too, so that a parent that exits at once never leaves a child unwatched (the child
   * names itself only when it first runs). */
  if (ret > 0 && t_create.ring < g_agent.shm->nrings) {
    g_agent.shm->ring[t_create.ring].follower_pid = (int32_t)ret;
    g_agent.shm->ring[t_create.ring].follower_tgid = (int32_t)ret;
  }
  /* The follower's parent sees the leader's child pid: its later wait4/kill calls are matched
   * against the leader's, which name that pid. Its own child is reaped once the leader's is. */
  if (ret > 0 && t_create.follow) reap_note((int32_t)t_create.leader_ret, (int32_t)ret);
  return t_create.leader_ret;
}
