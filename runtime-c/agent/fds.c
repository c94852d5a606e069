/* fds.c — descriptors: the leader passes those its calls create over the descriptor channel
 * (SCM_RIGHTS), the follower installs them under the leader's numbers. */
#include "agent.h"
#include "mvr_syscalls.h"

/* ---- descriptors ------------------------------------------------------------------------------
 * Calls that create descriptors (socket, accept, open, pipe, epoll_create, dup...) are recorded
 * and matched even when their effect is local, and the leader passes the new descriptors to the
 * follower, which installs them under the same numbers: both hold the same kernel objects. */

_Static_assert(MVR_FDMSG_FDS <= MVR_FDPASS_MAX, "a descriptor message fits one mvr_fd_send");

/* Whether a call with these arguments creates descriptors, by the model: it returns one, fills an
 * int array (pipe, socketpair), receives SCM_RIGHTS (recvmsg, recvmmsg: only those whose
 * control data holds any did), or its command returns one (fcntl F_DUPFD, ioctl TIOCGPTPEER). */
int creates_fds(uint32_t nr, const int64_t *args) {
  unsigned pol = mvr_si_policy(nr);
  if (pol & MVR_POL_FDS) return 1;
  return (pol & MVR_POL_CMD_FDS) && (mvr_si_cmd_flags(nr, args) & MVR_CF_RETFD);
}

/* The leader's descriptors of one event, sent MVR_FDMSG_FDS at a time (never blocking: a full
 * channel retires the follower, not the leader). */
typedef struct fd_sink {
  mvr_fdmsg m;
  int ok;
} fd_sink;

static void sink_flush(fd_sink *s, int more) {
  if (!s->ok) return;
  s->m.more = (uint32_t)more;
  long r;
  do r = mvr_fd_send(g_agent.fdsock, &s->m, sizeof s->m, s->m.fds, s->m.n, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r == -EINTR);
  if (r < 0) {
    g_agent.shm->fd_error = (int32_t)-r;
    __atomic_store_n(&g_agent.shm->overflow, 1, __ATOMIC_SEQ_CST);
    s->ok = 0;
  }
  s->m.n = 0;
}

static void sink_put(void *ctx, int32_t fd) {
  fd_sink *s = ctx;
  if (s->m.n == MVR_FDMSG_FDS) sink_flush(s, 1);
  s->m.fds[s->m.n++] = fd;
}

/* Sends the descriptors event `index` of this thread's ring created; 0 when the channel failed. */
int leader_send_fds(tstate *ts, uint32_t nr, const int64_t *args, int64_t ret, uint64_t index) {
  if (ret < 0) return 1;
  fd_sink s;
  memset(&s, 0, sizeof s);
  s.m.event = index;
  s.m.ring = ts->ring;
  s.ok = 1;
  int where = mvr_si_new_fds(nr);
  if (where == MVR_FDS_SCM) {
    unsigned part = MVR_PART_NONE;
    int from = -1;
    for (unsigned j = 0; j < 6 && from < 0; j++)
      if ((from = mvr_si_derived(nr, j, &part)) >= 0 && part != MVR_PART_CONTROL && part != MVR_PART_MSGS) from = -1;
    if (from < 0 || !args[from]) return 1;
    if (part == MVR_PART_CONTROL) { /* recvmsg */
      const struct msghdr *h = (const struct msghdr *)(uintptr_t)args[from];
      if (h->msg_control) scm_rights(h->msg_control, h->msg_controllen, sink_put, &s);
    } else { /* recvmmsg: every message received */
      const struct mmsghdr *v = (const struct mmsghdr *)(uintptr_t)args[from];
      for (int64_t k = 0; k < ret; k++)
        if (v[k].msg_hdr.msg_control) scm_rights(v[k].msg_hdr.msg_control, v[k].msg_hdr.msg_controllen, sink_put, &s);
    }
  } else if (where >= 0 && where < 6) {
    /* An int array (pipe's, socketpair's two): its size is the parameter's. */
    const int32_t *arr = (const int32_t *)(uintptr_t)args[where];
    uint32_t n = arr ? mvr_si_fixed_size(nr, (unsigned)where) / sizeof(int32_t) : 0;
    for (uint32_t k = 0; k < n; k++) sink_put(&s, arr[k]);
  } else {
    sink_put(&s, (int32_t)ret);
  }
  if (s.m.n) sink_flush(&s, 0);
  return s.ok;
}

/* Installs the leader's descriptors up to and including those of event `event` of `ring`.
 * Messages from all leader threads share the channel: whichever follower thread reads a message
 * installs it and notes it, so a thread may find its descriptors already in place. */
static volatile uint32_t g_fd_lock;
uint64_t g_fd_installed[MVR_MAX_RINGS];  /* per ring: events below this have their descriptors */
static uint32_t g_fd_gen[MVR_MAX_RINGS]; /* ... of the ring's task pair of this generation (its gen) */

/* Ring k's count for its current pair: a pair's descriptors may be installed before the follower
 * creates its thread (below), so a new pair starts from 0 only if none of its own were noted. */
void fd_ring_fresh(uint32_t k) {
  uint32_t gen = __atomic_load_n(&g_agent.shm->ring[k].gen, __ATOMIC_SEQ_CST);
  if (g_fd_gen[k] == gen) return;
  g_fd_gen[k] = gen;
  g_fd_installed[k] = 0;
}

/* Whether a descriptor message of ring k is this process's to install: a ring of one of its own
 * tasks, or of a thread that the leader process it pairs with (that of `own`, the caller's ring)
 * created and this process has not created yet. The latter matters: the leader's new thread may
 * send its descriptors (its first openat) before the follower's main thread, which waits for a
 * task pair's event behind them, gets to create the thread; left in the channel, that message
 * held back every later one, and the follower hung (Python's http.server under load). */
static int fd_msg_ours(uint32_t k, uint32_t own) {
  if (ring_mine(k)) return 1;
  mvr_ringctl *rc = &g_agent.shm->ring[k];
  return __atomic_load_n(&rc->follower_tgid, __ATOMIC_SEQ_CST) == 0 && rc->in_use &&
         rc->leader_tgid == g_agent.shm->ring[own].leader_tgid && rc->leader_tgid != 0;
}

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
    if (pr == (long)sizeof m && m.ring < g_agent.shm->nrings && !fd_msg_ours(m.ring, ring)) {
      spin_unlock(&g_fd_lock);
      struct timespec pause = {0, 200000};
      RAW2(SYS_nanosleep, &pause, 0);
      spin_lock(&g_fd_lock);
      continue;
    }
    int got[MVR_FDMSG_FDS];
    long r;
    do r = mvr_fd_recv(g_agent.fdsock, &m, sizeof m, got, MVR_FDMSG_FDS, &n, NULL, MSG_CMSG_CLOEXEC);
    while (r == -EINTR);
    if (r != (long)sizeof m || m.ring >= MVR_MAX_RINGS) {
      for (unsigned k = 0; k < n; k++) RAW1(SYS_close, got[k]);
      spin_unlock(&g_fd_lock);
      follower_retire(MVR_REPORT_INTERNAL, "the descriptor channel from the leader failed", call, event,
                      MVR_RULE_DEFAULT);
    }
    if (n != m.n || m.n > MVR_FDMSG_FDS) {
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
    /* An event's descriptors are in place once its last message is. */
    if (m.ring < g_agent.shm->nrings && !ring_mine(m.ring)) fd_ring_fresh(m.ring);
    if (!m.more && m.event + 1 > g_fd_installed[m.ring]) g_fd_installed[m.ring] = m.event + 1;
  }
  spin_unlock(&g_fd_lock);
}
