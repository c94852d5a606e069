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
} t_create;

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
  if (ring >= MVR_MAX_RINGS) return;
  if (g_agent.role == ROLE_LEADER && !recording()) return; /* nothing to follow */
  tstate *ts = tstate_new((uint32_t)ring);
  __atomic_or_fetch(&g_agent.my_rings, 1u << ring, __ATOMIC_SEQ_CST);
  if (g_agent.role == ROLE_FOLLOWER) follower_thread_init(ts);
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
void handle_creation(uint32_t nr, const int64_t *a, greg_t *g) {
  uint64_t child_sp;
  uint64_t flags = clone_flags(nr, a, &child_sp);
  int thread = (flags & CLONE_THREAD) && child_sp;
  if (thread) {
    if (g_agent.role == ROLE_FOLLOWER) {
      follower_call(nr, a, 1); /* matched against the leader's thread creation, then performed */
      if (follower_restart(g, nr)) return;
      uint64_t k = next_ring(&g_agent.shm->follower_threads);
      /* An unarmed follower thread would act on the world: never let one run. */
      if (k >= MVR_MAX_RINGS) retire_unsupported(nr, a, "more threads and processes than the runtime has rings (15)");
      start_thread(g, child_sp, k);
    } else {
      leader_record(nr, a, 0, MVR_RECF_NORET);
      start_thread(g, child_sp, next_ring(&g_agent.shm->leader_threads));
    }
    return;
  }
  if ((flags & CLONE_THREAD) || (flags & CLONE_VM && !(flags & CLONE_VFORK) && child_sp)) {
    if (g_agent.role == ROLE_FOLLOWER) retire_unsupported(nr, a, "the v1 runtime does not follow this kind of clone");
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
      if (t_create.follow) next_ring(&g_agent.shm->follower_threads); /* stay in step with the leader's count */
      g[REG_RAX] = t_create.leader_ret;                               /* no child: the leader's child does the work */
      return;
    }
    t_create.ring = next_ring(&g_agent.shm->follower_threads);
    if (t_create.ring >= MVR_MAX_RINGS)
      retire_unsupported(nr, a, "more threads and processes than the runtime has rings (15)");
  } else if (t_create.follow) {
    t_create.ring = next_ring(&g_agent.shm->leader_threads);
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
    if (g_agent.role == ROLE_LEADER && !recording()) return 0;
    tstate *ts = tstate_new((uint32_t)t_create.ring);
    g_agent.my_rings = 1u << t_create.ring;
    if (g_agent.role == ROLE_FOLLOWER) {
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
  if (g_agent.role == ROLE_LEADER) {
    /* The parent records the creation with its result, the child's pid (or the error). */
    leader_record(t_create.nr, t_create.args, ret, 0);
    return ret;
  }
  /* The monitor watches the follower's child processes through their rings: named here by the
   * parent too, so that a parent that exits at once never leaves a child unwatched (the child
   * names itself only when it first runs). */
  if (ret > 0 && t_create.ring < MVR_MAX_RINGS) g_agent.shm->ring[t_create.ring].follower_pid = (int32_t)ret;
  /* The follower's parent sees the leader's child pid: its later wait4/kill calls are matched
   * against the leader's, which name that pid. Its own child is never waited for (v1). */
  return t_create.leader_ret;
}
