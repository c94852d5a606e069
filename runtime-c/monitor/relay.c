/* Descriptor channels and the relay: each version's SOCK_SEQPACKET channel to the monitor and its
 * handoff control channel, and the leader -> monitor -> follower forwarding of descriptors.
 *
 * Each process has its own channel (a SOCK_SEQPACKET pair) to the monitor. The leader's agent sends
 * the descriptors of each event on its channel; the monitor queues them and forwards them, in
 * order, on the follower's channel. While the journal lasts the queue is kept whole (the monitor
 * holds those descriptors), so a follower started later replays them from event #0. */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvr_fdpass.h"
#include "monitor.h"

/* Moves a descriptor to MVR_FD_BASE or above (same number in both children), close-on-exec: each
 * child clears the flag on the descriptors it keeps. */
int high_fd(int fd) {
  int h = fcntl(fd, F_DUPFD_CLOEXEC, MVR_FD_BASE);
  if (h < 0) mvr_die_errno("fcntl(F_DUPFD)");
  close(fd);
  return h;
}

static void big_buffers(int fd) {
  /* Room for many descriptors in flight while the follower lags (root may exceed wmem_max). */
  int big = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

/* A new channel: returns the monitor's end; *child gets the process's end (both close-on-exec). */
int new_channel(int *child) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) mvr_die_errno("socketpair");
  int m = high_fd(sv[0]);
  *child = high_fd(sv[1]);
  big_buffers(m);
  big_buffers(*child);
  return m;
}

void relay_read(void) { relay_read_some((size_t)-1); }

/* Reads at most `max` messages from the leader's channel; returns how many it read. */
size_t relay_read_some(size_t max) {
  size_t got = 0;
  while (leader.chan >= 0 && got < max) {
    if (jq_n == jq_cap) {
      jq_cap = jq_cap ? jq_cap * 2 : 256;
      jq = mvr_xrealloc(jq, jq_cap * sizeof *jq);
    }
    jfd *e = &jq[jq_n];
    for (unsigned k = 0; k < MVR_FDMSG_FDS; k++) e->fds[k] = -1;
    unsigned n;
    int msg_flags;
    ssize_t r = mvr_fd_recv(leader.chan, &e->m, sizeof e->m, e->fds, MVR_FDMSG_FDS, &n, &msg_flags,
                            MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r == -EAGAIN || r == -EINTR) return got;
    if (r <= 0) { /* the leader is gone */
      close(leader.chan);
      leader.chan = -1;
      return got;
    }
    got++;
    if (e->m.ring == MVR_FDMSG_RESET) {
      /* The leader started a fresh stream (a handoff): the old one's descriptors are not needed. */
      for (unsigned k = 0; k < n; k++) close(e->fds[k]);
      jq_clear();
      memset(jscan_pos, 0, sizeof jscan_pos);
      memset(jrecv_next, 0, sizeof jrecv_next);
      continue;
    }
    if (r != (ssize_t)sizeof e->m || (msg_flags & MSG_CTRUNC) || n != e->m.n) {
      /* The monitor could not take them (descriptor limit), or the message is not a whole
       * mvr_fdmsg (its count cannot be trusted): the journal ends here. */
      for (unsigned k = 0; k < n; k++) close(e->fds[k]);
      if (__atomic_exchange_n(&shm->journal_valid, 0, __ATOMIC_SEQ_CST)) shm->journal_end = shm->ring[0].events;
      if (jq_keep) jq_ended_by_fds = 1;
      jq_drop_journal();
      __atomic_store_n(&shm->overflow, 1, __ATOMIC_SEQ_CST);
      shm->fd_error = EMFILE;
      return got;
    }
    if (e->m.ring < MVR_MAX_RINGS && e->m.event + 1 > jrecv_next[e->m.ring]) jrecv_next[e->m.ring] = e->m.event + 1;
    jq_n++;
  }
  return got;
}

void relay_forward(void) {
  while (follower.chan >= 0 && jq_fwd < jq_n) {
    jfd *e = &jq[jq_fwd];
    /* e->m.n is at most MVR_FDMSG_FDS: relay_read queued only messages whose count matched what
     * came. An event with more descriptors comes as several messages, relayed in turn. */
    int fds[MVR_FDMSG_FDS];
    for (unsigned k = 0; k < e->m.n; k++) fds[k] = jq_fd(e->fds[k]);
    ssize_t r = mvr_fd_send(follower.chan, &e->m, sizeof e->m, fds, e->m.n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0) return; /* full (sent later) or the follower is gone */
    jq_fwd++;
  }
  jq_trim();
}

/* A handoff control channel (a stream socketpair): returns the monitor's end; *child gets the
 * process's end (both close-on-exec, at the runtime's numbers). */
int new_dsu_channel(int *child) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) mvr_die_errno("socketpair");
  int m = high_fd(sv[0]);
  *child = high_fd(sv[1]);
  fcntl(m, F_SETFL, O_NONBLOCK);
  return m;
}

/* Closes a version's handoff control channel (the monitor's end) and forgets its number. */
void close_dsu(struct version *v) {
  if (v->dsu >= 0) close(v->dsu);
  v->dsu = -1;
  v->dsu_no = -1;
}
