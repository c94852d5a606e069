/* fds.c — descriptors: the leader passes those its calls create over the descriptor channel
 * (SCM_RIGHTS), the follower installs them under the leader's numbers. */
#include "agent.h"

/* ---- descriptors ------------------------------------------------------------------------------
 * Calls that create descriptors (socket, accept, open, pipe, epoll_create, dup...) are recorded
 * and matched even when their effect is local, and the leader passes the new descriptors to the
 * follower, which installs them under the same numbers: both hold the same kernel objects. */

int creates_fds(uint32_t nr) {
  /* recvmsg: the descriptors SCM_RIGHTS control data brings (recvmmsg's are not yet: its
   * messages are not recorded). */
  return nr == SYS_pipe || nr == SYS_pipe2 || nr == SYS_socketpair || nr == SYS_recvmsg || mvr_si_returns_fd(nr);
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
  if (nr == SYS_recvmsg) {
    /* At most the two a channel message carries: more would need the monitor's relay to pass
     * more per message (docs/runtime.md). */
    const struct msghdr *h = (const struct msghdr *)(uintptr_t)a[1];
    if (!h || !h->msg_control) return 0;
    unsigned n = scm_rights(h->msg_control, h->msg_controllen, fds, 2);
    return n > 2 ? 2 : n;
  }
  if (mvr_si_returns_fd(nr)) {
    fds[0] = (int32_t)ret;
    return 1;
  }
  return 0;
}

/* Sends the descriptors event `index` of this thread's ring created; 0 when the channel failed
 * (it never blocks: a full channel retires the follower, not the leader). */
int leader_send_fds(tstate *ts, uint32_t nr, const int64_t *args, int64_t ret, uint64_t index) {
  mvr_fdmsg m;
  memset(&m, 0, sizeof m);
  m.event = index;
  m.ring = ts->ring;
  m.n = created_fds(nr, args, ret, m.fds);
  if (m.n == 0) return 1;
  long r;
  do r = mvr_fd_send(g_agent.fdsock, &m, sizeof m, m.fds, m.n, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r == -EINTR);
  if (r < 0) {
    g_agent.shm->fd_error = (int32_t)-r;
    __atomic_store_n(&g_agent.shm->overflow, 1, __ATOMIC_SEQ_CST);
    return 0;
  }
  return 1;
}

/* Installs the leader's descriptors up to and including those of event `event` of `ring`.
 * Messages from all leader threads share the channel: whichever follower thread reads a message
 * installs it and notes it, so a thread may find its descriptors already in place. */
static volatile uint32_t g_fd_lock;
uint64_t g_fd_installed[MVR_MAX_RINGS]; /* per ring: events below this have their descriptors */

void follower_recv_fds(uint32_t ring, uint64_t event, const mvr_call *call) {
  spin_lock(&g_fd_lock);
  while (g_fd_installed[ring] <= event) {
    mvr_fdmsg m;
    /* Follower processes share the channel: look at the next message (without its descriptors)
     * and leave it to its owner when it belongs to another process's ring. */
    unsigned n;
    long pr;
    do pr = mvr_fd_recv(g_agent.fdsock, &m, sizeof m, NULL, 0, &n, NULL, MSG_PEEK);
    while (pr == -EINTR);
    if (pr == (long)sizeof m && m.ring < MVR_MAX_RINGS && !(g_agent.my_rings & (1u << m.ring))) {
      spin_unlock(&g_fd_lock);
      struct timespec pause = {0, 200000};
      RAW2(SYS_nanosleep, &pause, 0);
      spin_lock(&g_fd_lock);
      continue;
    }
    int got[2] = {-1, -1};
    long r;
    do r = mvr_fd_recv(g_agent.fdsock, &m, sizeof m, got, 2, &n, NULL, MSG_CMSG_CLOEXEC);
    while (r == -EINTR);
    if (r != (long)sizeof m || m.ring >= MVR_MAX_RINGS) {
      for (unsigned k = 0; k < n; k++) RAW1(SYS_close, got[k]);
      spin_unlock(&g_fd_lock);
      follower_retire(MVR_REPORT_INTERNAL, "the descriptor channel from the leader failed", call, event,
                      MVR_RULE_DEFAULT);
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
