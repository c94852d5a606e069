/* --record TRACE (`mvrc record`): the monitor consumes the leader's rings itself and writes a
 * JSON-lines trace (docs/traces.md).
 *
 * The leader runs under the agent exactly as beside a follower (follower_attached stays 1, so each
 * thread and followed child process records into its own ring, docs/runtime.md "What is
 * recorded"), and the monitor itself is the consumer: every few milliseconds it walks each ring
 * from tail to head, writes one JSON line per record (docs/traces.md) and releases the space,
 * waking a leader thread that waits for it. A leader thread with a full ring waits for that drain
 * (up to RECORD_WAIT_MS), so events are not lost to a slow disk; if they are anyway (the wait ran
 * out, a descriptor could not be passed), or the trace cannot be written, the run ends in an error
 * (status 2) and the trace has no end line, rather than looking complete. The descriptors the
 * leader sends for a follower are read and closed at once, so that its channel never fills. */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvr_fdpass.h"
#include "mvr_json.h"
#include "monitor.h"

static FILE *rec_out;
static int rec_errno;                    /* the first write error: nothing is written after it */
static char *rec_problem;                /* events were lost or a record was unreadable */
static uint64_t rec_next[MVR_MAX_RINGS]; /* per ring: the index of the next event */
static mvr_strbuf rec_line;              /* the line being built: one fwrite per record */

static int rec_ok(void) { return !rec_errno && !rec_problem; }

/* A 64-bit value: a JSON number while a double holds it exactly (|v| < 2^53), else a decimal string. */
static void rl_val(int64_t v) {
  const int64_t lim = (int64_t)1 << 53;
  if (v > -lim && v < lim) {
    mvr_sb_i64(&rec_line, v);
    return;
  }
  mvr_sb_addc(&rec_line, '"');
  mvr_sb_i64(&rec_line, v);
  mvr_sb_addc(&rec_line, '"');
}

/* The trace cannot be written (disk full, a closed pipe): said at once, and the program goes on
 * unrecorded (detached, the leader stops recording and never waits for the monitor again). */
static void rec_write_failed(int err) {
  if (rec_errno) return;
  rec_errno = err ? err : EIO;
  fprintf(stderr, "mvrc record: error: cannot write the trace %s: %s (the program goes on, unrecorded)\n", opt.record,
          strerror(rec_errno));
  fflush(stderr);
  detach_follower();
}

static void rl_flush(void) {
  size_t n = rec_line.len;
  if (!rec_errno && n) {
    errno = 0;
    if (fwrite(rec_line.p, 1, n, rec_out) != n) rec_write_failed(errno);
  }
  mvr_sb_clear(&rec_line);
}

/* Events can no longer be written in full: the trace stops here (it keeps what came before). */
static void rec_lost(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rec_lost(const char *fmt, ...) {
  if (rec_problem) return;
  va_list ap;
  va_start(ap, fmt);
  rec_problem = mvr_vfmt(fmt, ap);
  va_end(ap);
  detach_follower();
}

static void rec_event(unsigned k, const mvr_ringrec *rr) {
  const mvr_rec *r = &rr->h;
  if (r->index != rec_next[k]) {
    rec_lost("thread %u: event #%llu follows #%llu", k, (unsigned long long)r->index, (unsigned long long)rec_next[k]);
    return;
  }
  rec_next[k] = r->index + 1;
  mvr_sb_add(&rec_line, "{\"thread\":");
  mvr_sb_i64(&rec_line, k);
  mvr_sb_add(&rec_line, ",\"i\":");
  mvr_sb_i64(&rec_line, (int64_t)r->index);
  mvr_sb_add(&rec_line, ",\"nr\":");
  mvr_sb_i64(&rec_line, r->nr);
  mvr_sb_add(&rec_line, ",\"name\":\"");
  if (mvr_si_known(r->nr)) {
    mvr_sb_add(&rec_line, mvr_si_name(r->nr));
  } else { /* the reader's name for a number the table does not know */
    mvr_sb_add(&rec_line, "syscall_");
    mvr_sb_i64(&rec_line, r->nr);
  }
  mvr_sb_add(&rec_line, "\",\"args\":[");
  for (int i = 0; i < 6; i++) {
    if (i) mvr_sb_add(&rec_line, ",");
    rl_val(r->args[i]);
  }
  mvr_sb_add(&rec_line, "],\"ret\":");
  rl_val(r->ret); /* 0 when noret: the call had not returned when it was recorded */
  int any = 0;
  for (int i = 0; i < 6; i++) {
    if (r->len[i]) {
      mvr_sb_add(&rec_line, any ? ",\"" : ",\"bufs\":{\"");
      mvr_sb_i64(&rec_line, i);
      mvr_sb_add(&rec_line, "\":\"");
      mvr_sb_hex(&rec_line, rr->buf[i], r->len[i]);
      mvr_sb_add(&rec_line, "\"");
      any = 1;
    }
  }
  if (any) mvr_sb_add(&rec_line, "}");
  if (r->flags & MVR_RECF_TRUNCATED) mvr_sb_add(&rec_line, ",\"truncated\":true");
  if (r->flags & MVR_RECF_NORET) mvr_sb_add(&rec_line, ",\"noret\":true");
  mvr_sb_add(&rec_line, "}\n");
  rl_flush();
}

static void rec_signal(unsigned k, const mvr_rec *r) {
  if (r->nr < 1 || r->nr > 64 || r->index != rec_next[k]) {
    rec_lost("an unreadable signal record in thread %u at event #%llu", k, (unsigned long long)rec_next[k]);
    return;
  }
  mvr_sb_add(&rec_line, "{\"thread\":");
  mvr_sb_i64(&rec_line, k);
  mvr_sb_add(&rec_line, ",\"before\":");
  mvr_sb_i64(&rec_line, (int64_t)r->index);
  mvr_sb_add(&rec_line, ",\"signal\":");
  mvr_sb_i64(&rec_line, r->nr);
  mvr_sb_add(&rec_line, "}\n");
  rl_flush();
}

/* Writes ring k's records up to its head and releases them; returns 1 when there were any. */
static int rec_drain_ring(unsigned k) {
  mvr_ringctl *rc = &shm->ring[k];
  uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE);
  uint64_t pos = rc->tail, size = shm->data_size;
  if (pos == head) return 0;
  const uint8_t *data = ring_data + (uint64_t)k * size;
  while (pos < head && rec_ok()) {
    mvr_ringrec rr;
    if (mvr_ring_read(data, size, pos, head, &rr) != MVR_RR_OK) {
      rec_lost("an unreadable record in thread %u after event #%llu", k, (unsigned long long)rec_next[k]);
      break;
    }
    if (rr.h.kind == MVR_REC_EVENT) rec_event(k, &rr);
    else if (rr.h.kind == MVR_REC_SIGNAL) rec_signal(k, &rr.h);
    /* MVR_REC_PAD fills the end of the data area; MVR_REC_AGENT is a note between agents. */
    pos += rr.h.size;
  }
  /* Once recording stopped, whatever is left is released unread: the leader no longer records. */
  rc->consumed = rec_next[k];
  __atomic_store_n(&rc->tail, head, __ATOMIC_SEQ_CST);
  /* The whole ring is free now, more than any leader_want: wake a waiting leader thread. Both
   * sides store, then load the other's word (SEQ_CST), so a leader that went to sleep after
   * this load saw the new tail first. */
  if (__atomic_load_n(&rc->leader_waiting, __ATOMIC_SEQ_CST)) {
    __atomic_add_fetch(&rc->tail_seq, 1, __ATOMIC_SEQ_CST);
    futex_wake(&rc->tail_seq);
  }
  return 1;
}

/* The leader's descriptor messages, meant for a follower: closed as they come. */
static void rec_drain_fds(void) {
  while (leader.chan >= 0) {
    mvr_fdmsg m;
    int fds[MVR_FDMSG_FDS];
    unsigned n;
    ssize_t r = mvr_fd_recv(leader.chan, &m, sizeof m, fds, MVR_FDMSG_FDS, &n, NULL, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r == -EAGAIN || r == -EINTR) return;
    if (r <= 0) { /* every process that held the channel is gone */
      close(leader.chan);
      leader.chan = -1;
      return;
    }
    for (unsigned i = 0; i < n; i++) close(fds[i]);
  }
}

/* Reaps every child (the monitor is a subreaper: the program's orphans too); returns 1 when none
 * is left. */
static int rec_reap(void) {
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    if (p == leader.pid) {
      leader.state = P_EXITED;
      leader.status = st;
    }
  }
  return p < 0 && errno == ECHILD;
}

/* Every ring handed out was ended by its thread or process (exit or exit_group through the agent):
 * nothing more can be recorded, even if a process the agent does not follow lives on. */
static int rec_all_ended(void) {
  uint32_t n = __atomic_load_n(&shm->leader_threads, __ATOMIC_SEQ_CST);
  for (uint32_t k = 0; k <= n && k < shm->nrings; k++)
    if (!__atomic_load_n(&shm->ring[k].leader_eof, __ATOMIC_SEQ_CST)) return 0;
  return 1;
}

/* Opened before anything else is set up, so that a trace that cannot be written costs nothing. */
void record_open(void) {
  rec_out = fopen(opt.record, "we");
  if (!rec_out) mvr_die_errno("cannot write the trace %s", opt.record);
  setvbuf(rec_out, NULL, _IOFBF, 1u << 20);
}

int record_run(int sfd) {
  mvr_sb_add(&rec_line, "{\"mvrcTrace\":");
  mvr_sb_i64(&rec_line, MVR_TRACE_FORMAT_VERSION);
  mvr_sb_add(&rec_line, ",\"command\":[");
  for (char **a = opt.leader_argv; *a; a++) {
    if (a != opt.leader_argv) mvr_sb_add(&rec_line, ",");
    mvr_json_str(&rec_line, *a);
  }
  mvr_sb_add(&rec_line, "],\"arch\":\"x86_64\"}\n");
  rl_flush();
  int child;
  leader.chan = new_channel(&child);
  spawn(&leader, opt.leader_argv, -1, child, -1, opt.leader_env, opt.n_leader_env);
  close(child);
  int busy = 0, stop = 0;
  for (;;) {
    struct pollfd pf[2] = {{sfd, POLLIN, 0}, {leader.chan, POLLIN, 0}};
    /* Every millisecond while events come (a leader thread whose ring is full waits for this
     * drain), every 10 ms when idle. */
    int r = poll(pf, 2, busy ? 1 : 10);
    if (r < 0 && errno != EINTR) mvr_die_errno("poll");
    if (r > 0 && (pf[0].revents & POLLIN)) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) continue;
        if (leader.state == P_RUNNING) kill(leader.pid, (int)si.ssi_signo);
        else stop = 1; /* interrupted while waiting for the program's other processes */
      }
    }
    rec_drain_fds();
    /* Reaped first, drained after: the events of a process found gone are all in its ring. */
    int none_left = rec_reap();
    busy = 0;
    for (unsigned k = 0; k < MVR_MAX_RINGS; k++) busy |= rec_drain_ring(k);
    if (leader.state == P_EXITED && (none_left || stop || rec_all_ended())) break;
  }
  rec_drain_fds();
  if (rec_ok() && __atomic_load_n(&shm->overflow, __ATOMIC_SEQ_CST)) {
    if (shm->fd_error)
      rec_lost("the program could not pass a new descriptor to the recorder (%s)", strerror(shm->fd_error));
    else
      rec_lost("a ring (%llu bytes) stayed full for %u s while the trace was written",
               (unsigned long long)shm->data_size, RECORD_WAIT_MS / 1000);
  }
  if (rec_ok()) {
    mvr_sb_add(&rec_line, "{\"end\":true,\"status\":");
    mvr_sb_i64(&rec_line, leader_exit_code());
    mvr_sb_add(&rec_line, "}\n");
    rl_flush();
  }
  errno = 0;
  if (fflush(rec_out) != 0) rec_write_failed(errno);
  errno = 0;
  if (fclose(rec_out) != 0) rec_write_failed(errno);
  if (rec_problem) {
    fprintf(stderr, "mvrc record: error: %s: the trace %s stops there (it has no end line)\n", rec_problem, opt.record);
    return 2;
  }
  if (rec_errno) return 2;
  if (__atomic_load_n(&shm->leader_threads, __ATOMIC_SEQ_CST) >= shm->nrings)
    fprintf(stderr,
            "mvrc record: warning: the program created more than %u threads and processes: those past them were not "
            "recorded (--max-tasks)\n",
            shm->nrings - 1);
  if (!shm->leader_started && !(WIFEXITED(leader.status) && WEXITSTATUS(leader.status) == 127))
    fprintf(
        stderr,
        "mvrc record: warning: %s never loaded the agent (a statically linked program?): no system call was recorded\n",
        opt.leader_argv[0]);
  return leader_exit_code();
}
