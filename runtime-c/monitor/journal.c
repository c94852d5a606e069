/* The journal's descriptor queue: the descriptors of the leader's events, queued in order for
 * the follower and, while the journal lasts, kept whole so that a replaying follower gets them. */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

jfd *jq;
size_t jq_n, jq_cap, jq_fwd;
int jq_keep;                       /* the queue is the journal's */
int placeholder_fd = -1;           /* sent instead of a journal descriptor the leader already closed */
uint64_t jscan_pos[MVR_MAX_RINGS]; /* per ring, the position up to which close events were looked at */
int jq_ended_by_fds;
uint64_t jrecv_next[MVR_MAX_RINGS];

/* While the journal is kept, the monitor would hold every descriptor the leader ever created (and
 * a connection the leader closed would never be shut down): when the leader closes one, the
 * monitor drops its copy and a replaying follower gets a placeholder (/dev/null) in its place,
 * which it closes at the same event.
 *
 * A regular file or a directory is kept instead: a replaying follower may need its contents (glibc
 * maps its locale files, then closes them; a placeholder makes it load another locale). But a
 * server opens the same files again and again (nginx opens a static file per request): one copy
 * of each file (device, inode and open flags) is kept, shared by every queued event that opened
 * it, so the monitor's descriptors grow with the files the leader opened, not with its requests
 * (at about 10,000 requests of a file they ran out, and the journal ended).
 *
 * A queued entry's descriptor is: >= 0 its own; -1 none; -2 the placeholder; <= -3 the shared
 * copy kept[-3 - value]. */
typedef struct kept_file {
  dev_t dev;
  ino_t ino;
  int flags; /* F_GETFL: the access mode and status flags, which a mapping or a read depends on */
  int fd;
} kept_file;
static kept_file *kept;
static size_t kept_n, kept_cap;
/* Open addressing over kept[] (index + 1; 0: empty), so that a close costs the same at any size. */
static uint32_t *kept_ix;
static size_t kept_ix_cap;

static size_t kept_slot(dev_t dev, ino_t ino, int flags) {
  uint64_t h =
      ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)ino * 0xc2b2ae3d27d4eb4full) ^ (uint64_t)(unsigned)flags;
  h ^= h >> 29;
  return (size_t)(h & (kept_ix_cap - 1));
}

static void kept_rehash(void) {
  size_t cap = kept_ix_cap ? kept_ix_cap * 2 : 256;
  free(kept_ix);
  kept_ix = mvr_xrealloc(NULL, cap * sizeof *kept_ix);
  memset(kept_ix, 0, cap * sizeof *kept_ix);
  kept_ix_cap = cap;
  for (size_t i = 0; i < kept_n; i++) {
    size_t s = kept_slot(kept[i].dev, kept[i].ino, kept[i].flags);
    while (kept_ix[s]) s = (s + 1) & (kept_ix_cap - 1);
    kept_ix[s] = (uint32_t)(i + 1);
  }
}

/* The stored value for `fd` (a regular file or a directory the leader closed): the shared copy of
 * that file, `fd` itself becoming it if it is the first; `fd` is closed otherwise. */
static int kept_share(int fd, const struct stat *sb) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return fd;
  if ((kept_n + 1) * 2 > kept_ix_cap) kept_rehash();
  size_t s = kept_slot(sb->st_dev, sb->st_ino, flags);
  for (; kept_ix[s]; s = (s + 1) & (kept_ix_cap - 1)) {
    const kept_file *k = &kept[kept_ix[s] - 1];
    if (k->dev == sb->st_dev && k->ino == sb->st_ino && k->flags == flags) {
      close(fd);
      return -3 - (int)(kept_ix[s] - 1);
    }
  }
  if (kept_n == kept_cap) {
    kept_cap = kept_cap ? kept_cap * 2 : 64;
    kept = mvr_xrealloc(kept, kept_cap * sizeof *kept);
  }
  kept[kept_n] = (kept_file){.dev = sb->st_dev, .ino = sb->st_ino, .flags = flags, .fd = fd};
  kept_ix[s] = (uint32_t)(kept_n + 1);
  return -3 - (int)kept_n++;
}

static void kept_clear(void) {
  for (size_t i = 0; i < kept_n; i++) close(kept[i].fd);
  kept_n = 0;
  if (kept_ix) memset(kept_ix, 0, kept_ix_cap * sizeof *kept_ix);
}

int jq_fd(int stored) {
  if (stored == -2) return placeholder_fd;
  if (stored <= -3 && (size_t)(-3 - stored) < kept_n) return kept[-3 - stored].fd;
  return stored;
}

/* Ends, in the queue, the descriptor `fd` that a close in ring `ring` at its event `index` closed:
 * the newest one with that number created BEFORE it in the same ring (a later connection may
 * already have been given the same number, and be queued). Only the ring's own creations are
 * looked at: a thread's or a child process's close of a descriptor another task created keeps it
 * (as before), never drops one that another process's table still holds. */
static void end_closed(uint32_t ring, uint64_t index, int fd) {
  for (size_t i = jq_n; i-- > 0;) {
    if (jq[i].m.ring != ring || jq[i].m.event >= index) continue;
    for (unsigned k = 0; k < jq[i].m.n && k < MVR_FDMSG_FDS; k++) {
      if (jq[i].m.fds[k] != fd) continue;
      int *mine = &jq[i].fds[k];
      if (*mine < 0) return; /* already ended (placeholder or shared copy) */
      struct stat sb;
      if (fstat(*mine, &sb) == 0 && (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) {
        *mine = kept_share(*mine, &sb);
      } else {
        /* A socket or a pipe is dropped, so that the leader's close really shuts it down. */
        close(*mine);
        *mine = -2;
      }
      return;
    }
  }
}

/* Looks at ring k's records up to head for closes. `bounded`: stops at a close whose ring has not
 * had the descriptors of a later event received yet (the creation it ends may still be on the
 * channel: a ring's messages come in order). */
static void scan_ring(uint32_t k, uint64_t head, int bounded) {
  const uint8_t *data = ring_data + (uint64_t)k * shm->data_size;
  while (jscan_pos[k] < head) {
    mvr_ringrec rr;
    /* A PAD record: the ring wrapped, so it no longer holds every event from #0 (journal over). */
    if (mvr_ring_read(data, shm->data_size, jscan_pos[k], head, &rr) != MVR_RR_OK || rr.h.kind == MVR_REC_PAD) return;
    const mvr_rec *r = &rr.h;
    if (r->kind == MVR_REC_EVENT && r->nr == SYS_close && r->ret == 0) {
      if (bounded && jrecv_next[k] <= r->index) return;
      end_closed(k, r->index, (int)r->args[0]);
    }
    jscan_pos[k] += r->size;
  }
}

void journal_scan_closes(void) {
  if (!jq_keep || !shm->journal_valid) {
    relay_read();
    return;
  }
  static uint64_t heads[MVR_MAX_RINGS];
  uint32_t nrings = shm->nrings < MVR_MAX_RINGS ? shm->nrings : MVR_MAX_RINGS;
  for (uint32_t k = 0; k < nrings; k++) heads[k] = __atomic_load_n(&shm->ring[k].head, __ATOMIC_ACQUIRE);
  /* The agent sends an event's descriptors before it publishes the event: once the heads are
   * read, draining the channel queues the descriptors of every event up to them. It is drained a
   * batch at a time, each followed by the closes it allows: a monitor that got little CPU for a
   * while (a loaded machine) would otherwise take tens of thousands of descriptors the leader
   * already closed at once, and run out (the journal ended at ~850,000 nginx requests). */
  for (;;) {
    size_t got = relay_read_some(256);
    for (uint32_t k = 0; k < nrings; k++) scan_ring(k, heads[k], 1);
    if (got < 256 || !shm->journal_valid) break;
  }
  if (!shm->journal_valid) return;
  for (uint32_t k = 0; k < nrings; k++) scan_ring(k, heads[k], 0);
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
  if (!jq_n) kept_clear(); /* no queued event refers to a shared copy any more */
}

/* Drops every queued descriptor: the leader started a fresh stream (a handoff's fork point, a
 * role switch), so none of them will be asked for again. */
void jq_clear(void) {
  for (size_t i = 0; i < jq_n; i++) jq_close(i);
  jq_n = jq_fwd = 0;
  jq_keep = 0;
  kept_clear();
}

void jq_drop_journal(void) {
  jq_keep = 0;
  jq_trim();
}
