/* switch.c — role switch: promotion, rollback from the updated-leader stage, failover. */
#include "agent.h"

/* ---- role switch (promotion, rollback from the updated-leader stage, failover) -----------------
 * See enum mvr_promote in mvr_ring.h. A cut across every thread of the leader:
 *  - a leader thread marks itself inside a recorded call (ringctl in_call) and then checks the
 *    switch state (leader_enter); the follower checks the state, then the marks (cut_complete).
 *    Both sides are seq_cst, so a thread either sees the request and pauses at the call's entry,
 *    or the follower sees it inside the call and waits for its record;
 *  - a thread inside no recorded call (blocked in futex, nanosleep...) is at the cut already;
 *  - the follower takes over once no leader thread is inside a recorded call and each ring's
 *    events are consumed, from whichever of its threads is waiting for more events;
 *  - every other thread of both versions takes its new role lazily, at its next call: the
 *    process applies a switch once (g_agent.gen against shm->switch_gen), each thread re-sets its
 *    own state (thread_take_role, ts->gen against g_agent.gen). */

void install_sigsys(void) {
  struct ksigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.handler = (void *)on_sigsys;
  sa.restorer = (void *)mvr_restorer;
  /* Leader: SA_NODEFER and an empty mask, so the program's signals still interrupt blocking calls
   * made from the handler (their handlers are deferred during ring writes instead). Follower: the
   * kernel blocks every signal while the handler decides a call (the fast path defers them). */
  sa.flags = SA_SIGINFO | SA_RESTORER | SA_NODEFER;
  sa.mask = g_agent.role == ROLE_FOLLOWER ? ~KSIGSYS_BIT : 0;
  if (RAW4(SYS_rt_sigaction, SIGSYS, &sa, 0, 8) != 0) agent_fatal("cannot install the SIGSYS handler");
}

/* Starts a fresh event stream in ring `rc` (the new leader's at a role switch, the leader's at a
 * handoff's fork point): event #0 next, nothing held; the journal, which began at the old stream's
 * event #0, is over. */
void ring_restart(mvr_ringctl *rc) {
  mvr_ringctl_restart_stream(rc);
  rc->leader_wait_ns = 0;
  /* The journal's file: its rings go on as ordinary rings, each with its floor (record.c). */
  if (__atomic_exchange_n(&g_agent.shm->journal_valid, 0, __ATOMIC_SEQ_CST)) journal_floors();
  g_agent.shm->overflow = 0;
  order_restart();
}

/* Whether this process must stop recording: a switch is under way, or one ended (switch_gen moved)
 * that this process has not applied yet (it was the old leader). */
static int switch_pending(void) {
  uint32_t st = __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST);
  return st == MVR_PROMOTE_REQ || st == MVR_PROMOTE_SWITCHING ||
         __atomic_load_n(&g_agent.shm->switch_gen, __ATOMIC_SEQ_CST) != __atomic_load_n(&g_agent.gen, __ATOMIC_ACQUIRE);
}

/* Old leader: a switch ended with another version leading. Applied once for the process (the
 * first of its threads to get here): it loads the backward rules and follows; without them it
 * waits to be killed by the monitor. Returns with the process's role settled. */
static void process_follow(void) {
  spin_lock(&g_agent.switch_lock);
  uint32_t gen = __atomic_load_n(&g_agent.shm->switch_gen, __ATOMIC_SEQ_CST);
  if (g_agent.role == ROLE_LEADER && gen != g_agent.gen) {
    if (!g_agent.shm->old_follows) {
      spin_unlock(&g_agent.switch_lock);
      for (;;) futex_wait(&g_agent.shm->promote_state, MVR_PROMOTE_DONE, 100 * 1000000ull); /* killed here */
    }
    t_passthrough = 1;
    follower_load_rules(g_agent.shm->back_rules);
    t_passthrough = 0;
    g_agent.mirror_stdio = 0; /* its fd 1/2 are the terminal's, not a log */
    memset(g_fd_installed, 0, sizeof g_fd_installed);
    memset(g_lfd, 0, sizeof g_lfd);
    /* This process's rings, as the follower's (ring_mine): it matches its exit again. */
    for (unsigned k = 0; k < g_agent.shm->nrings; k++)
      if (g_agent.ring_ts[k]) g_agent.shm->ring[k].follower_tgid = g_agent.tgid;
    g_agent.role = ROLE_FOLLOWER;
    install_sigsys();
    __atomic_store_n(&g_agent.shm->leader_paused, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_agent.gen, gen, __ATOMIC_RELEASE);
  }
  spin_unlock(&g_agent.switch_lock);
}

/* A thread whose state was set up for the process's previous role re-sets it for the current one:
 * as the leader, a fresh stream in its ring (restarted by the take-over); as the follower, its
 * ring read from event #0 of the new leader's stream, with a new matcher state. */
void thread_take_role(tstate *ts) {
  uint32_t gen = __atomic_load_n(&g_agent.gen, __ATOMIC_ACQUIRE);
  mvr_ringctl *rc = ts->rc;
  ts->restart = 0;
  ts->restart_sig = 0;
  ts->pending_sig = 0;
  if (g_agent.role == ROLE_LEADER) {
    ts->leader_stopped = 0;
    rc->leader_tid = (int32_t)RAW0(SYS_gettid);
    rc->leader_tgid = g_agent.tgid;
    rc->in_use = 1;
  } else {
    rc->follower_tgid = g_agent.tgid;
    ts->scan_pos = 0;
    ts->scan_index = 0;
    ts->low = 0;
    ts->idle_eof = 0;
    ts->wait_head = 0;
    ts->wait_start = 0;
    follower_thread_init(ts);
  }
  ts->gen = gen;
}

/* Leader, paused at a recorded call's entry while a switch is under way. Returns 1 when it goes
 * on as the leader (the switch was aborted), 0 when it is now the follower (the call is
 * re-issued as the follower's). */
static int leader_pause(tstate *ts) {
  uint64_t zero = 0, t = now_ns();
  __atomic_compare_exchange_n(&g_agent.shm->pause_start_ns, &zero, t, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_agent.shm->leader_paused, 1, __ATOMIC_SEQ_CST);
  /* Wakes the follower's thread of this ring if it sleeps waiting for this thread's events. */
  __atomic_add_fetch(&ts->rc->head_seq, 1, __ATOMIC_SEQ_CST);
  futex_wake(&ts->rc->head_seq);
  for (;;) {
    uint32_t st = __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&g_agent.shm->switch_gen, __ATOMIC_SEQ_CST) != g_agent.gen || g_agent.role != ROLE_LEADER) {
      process_follow();
      thread_take_role(ts);
      return 0;
    }
    if (st == MVR_PROMOTE_REQ || st == MVR_PROMOTE_SWITCHING) {
      futex_wait(&g_agent.shm->promote_state, st, 100 * 1000000ull);
      continue;
    }
    __atomic_store_n(&g_agent.shm->leader_paused, 0, __ATOMIC_SEQ_CST); /* aborted */
    return 1;
  }
}

/* Leader, at a recorded call's entry (nr): marks the thread inside the call, unless a switch is
 * under way, where it pauses first. Returns 1 when the call goes on as the leader's (leader_leave
 * once its record is published), 0 when the thread is now the follower (re-issue the call). */
int leader_enter(tstate *ts, uint32_t nr) {
  for (;;) {
    __atomic_store_n(&ts->rc->in_call, nr + 1, __ATOMIC_SEQ_CST);
    if (!switch_pending()) return 1;
    __atomic_store_n(&ts->rc->in_call, 0, __ATOMIC_SEQ_CST);
    if (!leader_pause(ts)) return 0;
  }
}

void leader_leave(tstate *ts) { __atomic_store_n(&ts->rc->in_call, 0, __ATOMIC_RELEASE); }

/* Leader, before recording a signal its handler is about to run. Inside a recorded call the cut
 * cannot pass anyway; elsewhere (a thread interrupted in a local call, or paused) the signal is
 * an event like a call's: it waits while a switch is under way. Returns 1 to record it
 * (leader_leave after, when *ts was not inside a call), 0 when the process no longer leads (the
 * handler runs unrecorded). -1: record it, the thread was inside a call already. */
int leader_signal_enter(tstate *ts) {
  if (__atomic_load_n(&ts->rc->in_call, __ATOMIC_SEQ_CST)) return -1;
  for (;;) {
    __atomic_store_n(&ts->rc->in_call, MVR_IN_CALL_SIGNAL, __ATOMIC_SEQ_CST);
    if (!switch_pending()) return 1;
    __atomic_store_n(&ts->rc->in_call, 0, __ATOMIC_SEQ_CST);
    uint32_t st = __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST);
    if (st == MVR_PROMOTE_REQ || st == MVR_PROMOTE_SWITCHING) {
      futex_wait(&g_agent.shm->promote_state, st, 100 * 1000000ull);
      continue;
    }
    process_follow();
    if (g_agent.role != ROLE_LEADER) return 0;
  }
}

/* Follower: whether the leader's side of the cut is complete — no leader thread inside a recorded
 * call (or the leader is dead), and every ring's events consumed with nothing left unread (a
 * signal record after the last event must still be delivered). */
static int cut_complete(void) {
  mvr_shared *shm = g_agent.shm;
  int dead = __atomic_load_n(&shm->leader_dead, __ATOMIC_SEQ_CST);
  for (unsigned k = 0; k < shm->nrings; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (!__atomic_load_n(&rc->in_use, __ATOMIC_SEQ_CST)) continue;
    if (!dead && __atomic_load_n(&rc->in_call, __ATOMIC_SEQ_CST)) return 0;
  }
  for (unsigned k = 0; k < shm->nrings; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (!__atomic_load_n(&rc->in_use, __ATOMIC_SEQ_CST)) continue;
    if (__atomic_load_n(&rc->consumed, __ATOMIC_SEQ_CST) != __atomic_load_n(&rc->events, __ATOMIC_SEQ_CST) ||
        __atomic_load_n(&rc->tail, __ATOMIC_SEQ_CST) != __atomic_load_n(&rc->head, __ATOMIC_SEQ_CST))
      return 0;
  }
  return 1;
}

/* The follower becomes the leader (process-wide, by the thread `ts` that found the cut complete):
 * it has consumed every event of the paused (or dead) leader. */
static void become_leader(tstate *ts) {
  mvr_shared *shm = g_agent.shm;
  /* Descriptors still queued for this process (events it emulated) would stay open forever. */
  for (;;) {
    mvr_fdmsg m;
    int got[MVR_FDMSG_FDS];
    unsigned n;
    if (mvr_fd_recv(g_agent.fdsock, &m, sizeof m, got, MVR_FDMSG_FDS, &n, NULL, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
      break;
    for (unsigned k = 0; k < n; k++) RAW1(SYS_close, got[k]);
  }
  shm->switch_event = shm->ring[0].events;
  if (shm->pause_start_ns) shm->pause_ns = now_ns() - shm->pause_start_ns;
  /* A fresh stream in every ring a thread pair still uses: the old leader (if it follows) reads
   * them from event #0. A ring whose pair ended stays as it is (both its threads are gone). */
  for (unsigned k = 0; k < shm->nrings; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (!rc->in_use || rc->leader_eof) continue;
    ring_restart(rc);
    rc->in_call = 0;
    if (g_agent.ring_ts[k]) rc->leader_tgid = g_agent.tgid; /* this process's rings, as the leader's (ring_mine) */
  }
  memset(g_fd_installed, 0, sizeof g_fd_installed);
  shm->report_kind = MVR_REPORT_NONE;
  shm->follower_attached = shm->old_follows;
  shm->leader_dead = 0;
  g_agent.role = ROLE_LEADER;
  install_sigsys();
  /* The notes below go to ring 0's stream, which the old version's main thread reads first. */
  tstate *note = g_agent.ring_ts[0] ? g_agent.ring_ts[0] : ts;
  tstate *self = t_ts;
  t_ts = note;
  note->leader_stopped = 0;
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
  t_ts = self;
  uint32_t gen = __atomic_add_fetch(&shm->switch_gen, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_agent.gen, gen, __ATOMIC_RELEASE);
  __atomic_store_n(&shm->promote_state, MVR_PROMOTE_DONE, __ATOMIC_SEQ_CST);
  futex_wake(&shm->promote_state);
  thread_take_role(ts);
}

/* Follower, out of events (any thread): takes over when the leader's side of the cut is complete.
 * Returns 1 when this process now leads (the caller re-issues its call, as the leader's). */
int follower_take_over(tstate *ts) {
  if (__atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST) != MVR_PROMOTE_REQ) return 0;
  if (ts->low != ts->scan_index || ts->pending_sig || !cut_complete()) return 0;
  uint32_t want = MVR_PROMOTE_REQ;
  if (!__atomic_compare_exchange_n(&g_agent.shm->promote_state, &want, MVR_PROMOTE_SWITCHING, 0, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST))
    return 0;
  become_leader(ts);
  return 1;
}
