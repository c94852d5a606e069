/* sigsys.c — the SIGSYS handler (every trapped syscall) and agent_call, the part it shares with the
 * fast path's wrappers. */
#include "agent.h"
#include "mvr_syscalls.h"

/* ---- the SIGSYS handler ----------------------------------------------------------------------- */

/* The common part of the SIGSYS handler and of the fast path's wrappers: an ordinary call (not
 * signal plumbing, thread or process creation, exec or exit), made by an armed thread of a leader
 * that records or of a follower. Returns 1 with the program's result in *ret, or 0 when the call
 * did not happen and must be re-issued: the leader was kicked out of a blocking call for a role
 * switch, it became the follower at a role switch, or the follower abandoned the call (take_restart
 * then raises the leader's signal that comes first; see follower_call). */
int agent_call(uint32_t nr, const int64_t *a, int64_t *ret) {
  /* Calls the model does not record (local to the process: memory, signal masks, futex) are
   * executed by each version. Recorded are the others, and local calls whose results the follower
   * must share: those creating descriptors, and wait4/waitid, whose results name the leader's
   * child processes (mvr_syscalls.h, `recorded`). The monitor's kick for a role switch is meant
   * for threads inside a recorded call; one that reached a local call meanwhile (futex,
   * nanosleep) makes it again, as with SA_RESTART (a handoff request's kick is not swallowed: no
   * switch is requested then). */
  if (!(mvr_si_policy(nr) & MVR_POL_RECORDED)) {
    mvr_ringctl *rc = NULL;
    /* A follower's sleeps end where the leader's did (follow.c). */
    if (g_agent.role == ROLE_FOLLOWER && t_ts && (nr == SYS_pause || nr == SYS_nanosleep || nr == SYS_clock_nanosleep))
      return follower_sleep(nr, a, ret);
    if (g_agent.role == ROLE_FOLLOWER && t_ts && (nr == SYS_futex || mvr_si_blocks(nr))) {
      /* A follower thread may block here on a lock another of its threads holds while that one
       * waits for this one's next event (order.c): the monitor's report shows where it is. */
      rc = t_ts->rc;
      rc->fcur.valid = 0;
      rc->fcur.nr = nr;
      for (unsigned i = 0; i < 6; i++) rc->fcur.args[i] = a[i];
      rc->fcur.event = t_ts->low;
      rc->fcur.valid = 1;
      rc->in_local = 1;
    }
    /* Leader: a signal whose handler runs while it is blocked here names the call (record.c). */
    tstate *lts = g_agent.role == ROLE_LEADER ? t_ts : NULL;
    if (lts) {
      lts->local_args = a;
      lts->local_nr = nr;
    }
    int64_t r;
    do {
      t_kicked = 0;
      t_swallowed = 0;
      r = exec_call(nr, a);
    } while (r == -EINTR &&
             ((t_kicked && __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST) == MVR_PROMOTE_REQ) ||
              (t_swallowed && g_agent.role == ROLE_FOLLOWER)));
    if (lts) lts->local_nr = 0;
    if (rc) rc->in_local = 0;
    *ret = r;
    return 1;
  }
  tstate *ts = t_ts;
  if (ts && ts->gen != __atomic_load_n(&g_agent.gen, __ATOMIC_ACQUIRE)) thread_take_role(ts);
  if (g_agent.role == ROLE_LEADER && ts) {
    /* At a role switch's cut it pauses here; it may come back as the follower: then the call is
     * re-issued, so that it is decided under the follower's signal mask. */
    if (!leader_enter(ts, nr)) return 0;
    /* A producer is stamped before its call (order.c). */
    int ordered = order_enter(ts, nr, a);
    t_kicked = 0;
    int64_t r = exec_call(nr, a);
    /* Kicked out of a blocking call for a role switch: the call did not happen; it is re-issued,
     * and pauses at its entry. (Only then: a handoff request's kick must reach the program as
     * EINTR, so that it gets to its update point.) A producer keeps its stamp for it. */
    if (r == -EINTR && __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST) == MVR_PROMOTE_REQ) {
      if (ordered) order_leave(ts);
      leader_leave(ts);
      return 0;
    }
    if (nr == SYS_epoll_ctl && r == 0) epoll_note_own(a);
    order_note_fds(nr, a, r);
    leader_record(nr, a, r, 0);
    if (ordered) {
      ts->pre_valid = 0; /* used, or the follower is gone */
      order_leave(ts);
    }
    leader_leave(ts);
    *ret = r;
    return 1;
  }
  if (g_agent.role == ROLE_LEADER) {
    int64_t r = exec_call(nr, a);
    if (nr == SYS_epoll_ctl && r == 0) epoll_note_own(a);
    leader_record(nr, a, r, 0);
    *ret = r;
    return 1;
  }
  int64_t r = follower_call(nr, a, 0);
  if (t_ts && t_ts->restart) return 0;
  if (nr == SYS_wait4 || nr == SYS_waitid) follower_reaped(nr, a, r);
  *ret = r;
  return 1;
}

void on_sigsys(int sig, siginfo_t *info, void *ctx) {
  (void)sig;
  ucontext_t *uc = ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  if (info->si_code != SYS_USER_DISPATCH) { /* the monitor's kick at a role switch */
    t_kicked = 1;
    return;
  }
  uint32_t nr = (uint32_t)info->si_syscall;
  int64_t a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
  if (t_passthrough && nr != SYS_rt_sigreturn) {
    if (t_handoff_fork && (mvr_si_policy(nr) & MVR_POL_TASK)) handoff_fork(nr, a, g);
    else g[REG_RAX] = exec_call(nr, a);
    return;
  }
  if (g_agent.prelude && prelude_call(nr, a, g)) return;

  /* Once nothing can follow any more (no follower, and no journal for a later update), a leader
   * thread stops trapping altogether (each thread on its next syscall): a single leader runs at
   * native speed. Its handlers stay wrapped, recording nothing. */
  if (g_agent.role == ROLE_LEADER && !recording() && nr != SYS_rt_sigreturn && nr != SYS_rt_sigaction &&
      nr != SYS_rt_sigprocmask) {
    disarm_sud();
    if (!(mvr_si_policy(nr) & MVR_POL_TASK)) {
      g[REG_RAX] = exec_call(nr, a);
      return;
    }
  }

  /* A thread that slept through a role switch takes its new role first (switch.c). */
  if (t_ts && nr != SYS_rt_sigreturn && t_ts->gen != __atomic_load_n(&g_agent.gen, __ATOMIC_ACQUIRE))
    thread_take_role(t_ts);

  /* The agent's own signal plumbing. */
  switch (nr) {
    case SYS_rt_sigreturn:
      /* Return from the program's signal frame through the agent's restorer (same stack). */
      g[REG_RIP] = (greg_t)(uintptr_t)mvr_restorer;
      return;
    case SYS_rt_sigaction: g[REG_RAX] = do_rt_sigaction(a); return;
    case SYS_rt_sigprocmask: g[REG_RAX] = do_rt_sigprocmask(a, uc); return;
    default: break;
  }
  /* Threads and processes (the model's `task`), calls that return only on failure (exec) or never
   * (exit): each has its own path. */
  if (mvr_si_policy(nr) & MVR_POL_TASK) {
    /* The call is made after this handler returns, by mvr_create_stub (handle_creation points RIP
     * at it: a clone's child must start outside the signal frame), with the number in RAX; a path
     * that decides the call here instead (a follower's thread the leader never made) writes the
     * result over it. */
    g[REG_RAX] = nr;
    handle_creation(nr, a, g);
    return;
  }
  switch (mvr_si_noreturn(nr)) {
    case MVR_NORET_SUCCESS: /* execve, execveat: the new image keeps the task's ring (exec.c) */
      if (g_agent.role == ROLE_FOLLOWER) {
        /* Matched against the leader's exec (or decided by a rule), then really made. */
        follower_call(nr, a, 1);
        if (follower_restart(g, nr)) return;
        g[REG_RAX] = exec_follower(nr, a); /* returns only on failure */
        return;
      }
      if (t_ts && !leader_enter(t_ts, nr)) {
        reissue(g, nr); /* now the follower */
        return;
      }
      leader_record(nr, a, 0, MVR_RECF_NORET);
      /* The cut need not wait for it: its event is recorded, and the new image records on. */
      if (t_ts) leader_leave(t_ts);
      g[REG_RAX] = t_ts && recording() ? exec_leader(nr, a) : exec_call(nr, a); /* returns only on failure */
      return;
    case MVR_NORET_ALWAYS: /* exit, exit_group */
      if (g_agent.role == ROLE_FOLLOWER) {
        follower_call(nr, a, 0);
        if (follower_restart(g, nr)) return;
        /* Tells the monitor this process ended as the leader's did (not a crash). */
        if (nr == SYS_exit_group) {
          for (unsigned r = 0; r < g_agent.shm->nrings; r++)
            if (ring_mine(r)) g_agent.shm->ring[r].follower_exited = 1;
        } else if (t_ts) {
          t_ts->rc->follower_exited = 1;
        }
      } else {
        if (t_ts && !leader_enter(t_ts, nr)) {
          reissue(g, nr); /* now the follower */
          return;
        }
        leader_record(nr, a, 0, MVR_RECF_NORET);
        if (nr == SYS_exit_group) {
          for (unsigned r = 0; r < g_agent.shm->nrings; r++)
            if (ring_mine(r)) ring_eof(&g_agent.shm->ring[r]);
        } else if (t_ts) {
          ring_eof(t_ts->rc);
        }
        if (t_ts) leader_leave(t_ts); /* its stream ended: the cut no longer waits for it */
      }
      /* A thread's end: its ring is another pair's from now on, its state goes. */
      if (nr == SYS_exit && t_ts) {
        tstate *ts = t_ts;
        t_ts = NULL;
        tstate_free(ts);
      }
      mvr_raw_syscall(nr, a[0], 0, 0, 0, 0, 0);
      __builtin_unreachable();
    default: break;
  }
  int64_t ret;
  if (agent_call(nr, a, &ret)) {
    g[REG_RAX] = ret;
  } else {
    take_restart(nr, a, (const uint64_t *)&uc->uc_sigmask);
    reissue(g, nr);
  }
}
