/* switch.c — role switch: promotion, rollback from the updated-leader stage, failover. */
#include "agent.h"

/* ---- role switch (promotion, rollback from the updated-leader stage, failover) -----------------
 * See enum mvr_promote in mvr_ring.h. Single-threaded programs only (ring 0). */

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
  rc->head = 0;
  rc->tail = 0;
  rc->events = 0;
  rc->consumed = 0;
  rc->leader_eof = 0;
  rc->follower_exited = 0;
  rc->follower_calls = 0;
  rc->fcur.valid = 0;
  rc->leader_wait_ns = 0;
  g_agent.shm->journal_valid = 0;
  g_agent.shm->overflow = 0;
  order_restart();
}

/* The follower becomes the leader: it has consumed every event of the paused (or dead) leader. */
static void become_leader(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  /* Descriptors still queued for this process (events it emulated) would stay open forever. */
  for (;;) {
    mvr_fdmsg m;
    int got[MVR_FDMSG_FDS];
    unsigned n;
    if (mvr_fd_recv(g_agent.fdsock, &m, sizeof m, got, MVR_FDMSG_FDS, &n, NULL, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
      break;
    for (unsigned k = 0; k < n; k++) RAW1(SYS_close, got[k]);
  }
  g_agent.shm->switch_event = rc->events;
  if (g_agent.shm->pause_start_ns) g_agent.shm->pause_ns = now_ns() - g_agent.shm->pause_start_ns;
  /* A fresh stream: the old leader (if it follows) reads it from event #0. */
  ring_restart(rc);
  g_fd_installed[0] = 0;
  g_agent.shm->report_kind = MVR_REPORT_NONE;
  g_agent.shm->follower_attached = g_agent.shm->old_follows;
  ts->leader_stopped = 0;
  g_agent.role = ROLE_LEADER;
  rc->leader_tgid = g_agent.tgid; /* ring 0 is this process's as the leader now (ring_mine) */
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
  __atomic_store_n(&g_agent.shm->promote_state, MVR_PROMOTE_DONE, __ATOMIC_SEQ_CST);
  futex_wake(&g_agent.shm->promote_state);
}

/* The paused leader follows the new leader with the backward rules. */
static void become_follower(tstate *ts) {
  t_passthrough = 1;
  follower_load_rules(g_agent.shm->back_rules);
  t_passthrough = 0;
  g_agent.role = ROLE_FOLLOWER;
  g_agent.shm->ring[0].follower_tgid = g_agent.tgid; /* and this one follows it (ring_mine) */
  g_agent.mirror_stdio = 0;                          /* its fd 1/2 are the terminal's, not a log */
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
  __atomic_store_n(&g_agent.shm->leader_paused, 0, __ATOMIC_SEQ_CST);
}

/* Leader, at a recorded syscall entry: stops while a role switch is requested. Returns when it
 * goes on, as the leader (switch aborted) or as the follower. */
void leader_pause(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  g_agent.shm->pause_start_ns = now_ns();
  __atomic_store_n(&g_agent.shm->leader_paused, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&rc->head_seq, 1, __ATOMIC_SEQ_CST);
  futex_wake(&rc->head_seq);
  for (;;) {
    uint32_t st = __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST);
    if (st == MVR_PROMOTE_REQ || st == MVR_PROMOTE_SWITCHING || (st == MVR_PROMOTE_DONE && !g_agent.shm->old_follows)) {
      futex_wait(&g_agent.shm->promote_state, st, 100 * 1000000ull); /* retired: the monitor kills us here */
      continue;
    }
    if (st == MVR_PROMOTE_DONE) {
      become_follower(ts);
      return;
    }
    __atomic_store_n(&g_agent.shm->leader_paused, 0, __ATOMIC_SEQ_CST); /* aborted */
    return;
  }
}

/* Follower, out of events: takes over when the leader is paused (or dead) and every one of its
 * events is decided. */
int follower_take_over(tstate *ts) {
  if (ts->ring != 0 || __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST) != MVR_PROMOTE_REQ) return 0;
  if (!__atomic_load_n(&g_agent.shm->leader_paused, __ATOMIC_SEQ_CST)) return 0;
  if (ts->low != ts->scan_index || ts->scan_pos != __atomic_load_n(&ts->rc->head, __ATOMIC_SEQ_CST) || ts->pending_sig)
    return 0;
  uint32_t want = MVR_PROMOTE_REQ;
  if (!__atomic_compare_exchange_n(&g_agent.shm->promote_state, &want, MVR_PROMOTE_SWITCHING, 0, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST))
    return 0;
  become_leader(ts);
  return 1;
}
