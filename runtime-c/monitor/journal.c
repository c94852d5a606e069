/* The journal's descriptor queue: the descriptors of the leader's events, queued in order for
 * the follower and, while the journal lasts, kept whole so that a replaying follower gets them. */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

jfd *jq;
size_t jq_n, jq_cap, jq_fwd;
int jq_keep;             /* the queue is the journal's */
int placeholder_fd = -1; /* sent instead of a journal descriptor the leader already closed */
uint64_t jscan_pos;      /* ring 0 position up to which close events were looked at */

/* While the journal is kept, the monitor would hold every descriptor the leader ever created (and
 * a connection the leader closed would never be shut down): when the leader closes one, the
 * monitor drops its copy and a replaying follower gets a placeholder (/dev/null) in its place,
 * which it closes at the same event. */

void journal_scan_closes(void) {
  if (!jq_keep || !shm->journal_valid) return;
  uint64_t head = __atomic_load_n(&shm->ring[0].head, __ATOMIC_ACQUIRE);
  /* The agent sends an event's descriptors before it publishes the event: once the head is read,
   * draining the channel queues the descriptors of every event up to it. */
  relay_read();
  while (jscan_pos < head) {
    mvr_ringrec rr;
    /* A PAD record: the ring wrapped, so it no longer holds every event from #0 (journal over). */
    if (mvr_ring_read(ring_data, shm->data_size, jscan_pos, head, &rr) != MVR_RR_OK || rr.h.kind == MVR_REC_PAD) return;
    const mvr_rec *r = &rr.h;
    if (r->kind == MVR_REC_EVENT && r->nr == SYS_close && r->ret == 0) {
      int fd = (int)r->args[0];
      int done = 0;
      /* The descriptor this close ends is the newest one with that number created BEFORE it: a
       * later connection may already have been given the same number (and be queued). */
      for (size_t i = jq_n; i-- > 0 && !done;) {
        if (jq[i].m.ring != 0 || jq[i].m.event >= r->index) continue;
        for (unsigned k = 0; k < jq[i].m.n && k < MVR_FDMSG_FDS; k++) {
          if (jq[i].m.fds[k] != fd) continue;
          done = 1;
          /* A regular file or a directory is kept: a replaying follower may need its contents
           * (glibc maps its locale files, then closes them; a placeholder makes it load another
           * locale), and keeping it open changes nothing for anyone else. A socket or a pipe is
           * dropped, so that the leader's close really shuts it down. */
          struct stat sb;
          if (jq[i].fds[k] >= 0 && fstat(jq[i].fds[k], &sb) == 0 && (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) break;
          if (jq[i].fds[k] >= 0) close(jq[i].fds[k]);
          jq[i].fds[k] = -2;
          break;
        }
      }
    }
    jscan_pos += r->size;
  }
}

static void jq_close(size_t i) {
  for (unsigned k = 0; k < jq[i].m.n && k < MVR_FDMSG_FDS; k++)
    if (jq[i].fds[k] >= 0) close(jq[i].fds[k]);
}

/* Drops what is no longer needed: everything forwarded (or everything, without a follower),
 * unless the queue is the journal's. */
void jq_trim(void) {
  if (jq_keep) return;
  size_t upto = follower.chan >= 0 ? jq_fwd : jq_n;
  if (!upto) return;
  for (size_t i = 0; i < upto; i++) jq_close(i);
  memmove(jq, jq + upto, (jq_n - upto) * sizeof *jq);
  jq_n -= upto;
  jq_fwd -= upto < jq_fwd ? upto : jq_fwd;
}

/* Drops every queued descriptor: the leader started a fresh stream (a handoff's fork point, a
 * role switch), so none of them will be asked for again. */
void jq_clear(void) {
  for (size_t i = 0; i < jq_n; i++) jq_close(i);
  jq_n = jq_fwd = 0;
  jq_keep = 0;
}

void jq_drop_journal(void) {
  jq_keep = 0;
  jq_trim();
}
