/* The shared memory: the header and the rings both versions' agents use (mvr_ring.h), its
 * creation, and the few monitor-side reads and wakes of it. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>

#include "monitor.h"

mvr_shared *shm;
uint8_t *ring_data;
int shm_fd = -1;

char journal_path[PATH_MAX];
static char made_dir[PATH_MAX];

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mvr-monitor: warning: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
} /* the state directory, when the monitor made it (removed at the end) */

/* The journal's file goes when the monitor ends (the processes that still map it keep its pages). */
static void remove_journal(void) {
  if (journal_path[0]) unlink(journal_path);
  if (made_dir[0]) rmdir(made_dir); /* only if empty: the CLI keeps its rules there */
}

/* The rings of an updatable single leader: a sparse file in the state directory (the journal on
 * disk, mvr_ring.h), its header and ring 0's floor allocated now. Returns -1 (the rings are then
 * memory, and the journal is off from the start) when the filesystem has no room for that. */
static int open_journal_file(uint64_t total, uint64_t first) {
  char dflt[PATH_MAX];
  const char *dir = opt.state_dir;
  if (!dir) {
    /* Beside the control socket: the operator already chose where this server's runtime lives. */
    if (snprintf(dflt, sizeof dflt, "%s.state", opt.control) >= (int)sizeof dflt)
      mvr_die("the control socket's path is too long for a state directory beside it: give --state-dir");
    dir = dflt;
  }
  if (mkdir(dir, 0700) == 0) {
    if (snprintf(made_dir, sizeof made_dir, "%s", dir) >= (int)sizeof made_dir) made_dir[0] = 0;
  } else if (errno != EEXIST) mvr_die_errno("cannot create the state directory %s (--state-dir)", dir);
  struct statfs sf;
  if (statfs(dir, &sf) < 0) mvr_die_errno("cannot read the state directory %s (--state-dir)", dir);
  if ((uint64_t)sf.f_type == TMPFS_MAGIC || (uint64_t)sf.f_type == RAMFS_MAGIC)
    warn("the state directory %s is in memory (tmpfs): the journal will take memory as it grows; "
         "give --state-dir a directory on a disk",
         dir);
  if (!opt.journal_min_free_given) {
    /* A full disk hurts every program on it: the journal leaves 5% of it free, at most 1 GiB. */
    uint64_t fs = (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize / 20;
    opt.journal_min_free = fs < (1ull << 30) ? fs : (1ull << 30);
  }
  atexit(remove_journal);
  if (snprintf(journal_path, PATH_MAX, "%s/journal-%d.rings", dir, (int)getpid()) >= PATH_MAX)
    mvr_die("the state directory's path is too long (--state-dir): %s", dir);
  int low = open(journal_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (low < 0) {
    journal_path[0] = 0;
    mvr_die_errno("cannot create the journal in the state directory %s (--state-dir)", dir);
  }
  int fd = high_fd(low);
  if (ftruncate(fd, (off_t)total) < 0)
    mvr_die_errno("cannot size the journal's file %s at %llu bytes (--journal-size %llu for each of --max-tasks %u "
                  "rings): give a smaller --journal-size",
                  journal_path, (unsigned long long)total, (unsigned long long)opt.journal_size, opt.max_tasks);
  uint64_t avail = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
  int room = avail >= opt.journal_min_free + first;
  if (room && fallocate(fd, 0, 0, (off_t)first) < 0) {
    if (errno == EOPNOTSUPP)
      mvr_die("the filesystem of the state directory %s cannot allocate ahead (fallocate), which the journal needs "
              "so that a full disk never stops the server: give --state-dir another directory",
              dir);
    room = 0;
  }
  if (!room) {
    warn("the state directory %s has %llu bytes free, less than the %llu the journal needs with "
         "--journal-min-free %llu: no journal, an update by replay will be refused",
         dir, (unsigned long long)avail, (unsigned long long)(first + opt.journal_min_free),
         (unsigned long long)opt.journal_min_free);
    close(fd);
    remove_journal();
    journal_path[0] = 0;
    return -1;
  }
  return fd;
}

void create_shm(void) {
  /* One data area per thread pair; pages are allocated only when a ring is used. */
  uint64_t data_size = opt.ring_size;
  int journal = opt.agent && opt.control && !opt.follower_argv && opt.journal_size;
  if (opt.agent && opt.control && !opt.follower_argv) {
    /* A new version that loads handed-off state is not consuming yet: the ring holds what the
     * leader records meanwhile (~16 MB/s for kv under 8 busy clients), and filling it fails the
     * update. So an updatable leader gets room for seconds of that unless told otherwise. */
    if (!opt.ring_size_given && data_size < UPDATABLE_RING_SIZE) data_size = UPDATABLE_RING_SIZE;
  }
  /* Past the journal, a ring of its file wraps within this much (mvr_ring.h). */
  uint64_t floor = data_size;
  /* A single leader that may be updated keeps its journal in the rings: room for the bound. */
  if (journal && opt.journal_size > data_size) data_size = (opt.journal_size + 4095) & ~(uint64_t)4095;
  uint64_t total = MVR_HDR_SIZE + (uint64_t)opt.max_tasks * data_size;
  /* Ring 0's first step on disk (the agent allocates the rest as the leader records). */
  uint64_t ring0 = floor < MVR_JOURNAL_FIRST ? floor : MVR_JOURNAL_FIRST;
  int fd = -1, no_room = 0;
  if (journal) {
    uint64_t first = MVR_HDR_SIZE + (ring0 + MVR_JOURNAL_SLACK < data_size ? ring0 + MVR_JOURNAL_SLACK : data_size);
    fd = open_journal_file(total, first);
    no_room = fd < 0;
  }
  if (fd < 0) {
    /* Memory: the journal (when there is no room for its file) takes no more than a ring. */
    if (no_room) data_size = floor, total = MVR_HDR_SIZE + (uint64_t)opt.max_tasks * data_size;
    int low = memfd_create("mvr-ring", MFD_CLOEXEC);
    if (low < 0) mvr_die_errno("memfd_create");
    fd = high_fd(low);
    if (ftruncate(fd, (off_t)total) < 0) mvr_die_errno("ftruncate of the ring (%llu bytes)", (unsigned long long)total);
  }
  void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) mvr_die_errno("mmap of the ring");
  shm = p;
  ring_data = (uint8_t *)p + MVR_HDR_SIZE;
  memset(shm, 0, sizeof *shm);
  shm->magic = MVR_SHM_MAGIC;
  shm->version = MVR_SHM_VERSION;
  shm->data_size = data_size;
  /* One buffer of a record may take a quarter of the ring (4 MiB by default: Redis's largest
   * requests), so that a record with two large buffers still fits; a larger one is cut (a
   * truncated event, which retires the follower if it needs those bytes). A journal's ring counts
   * as its floor here, which is all it has once the journal ends. */
  shm->max_buf = (floor < data_size ? floor : data_size) / 4;
  /* Larger ones are split across chunk records for a follower; a trace (--record) cuts them. */
  shm->split_events = !opt.record;
  /* A recording leader waits for the monitor's drain, which only the speed of the trace file
   * holds back: a full ring is worth a long wait there, as giving up loses events. */
  shm->ring_wait_ms = opt.record ? RECORD_WAIT_MS : opt.deadline_ms;
  shm->nrings = opt.max_tasks;
  shm->follower_attached = 1;
  shm->ring_floor = floor;
  shm->journal_min_free = opt.journal_min_free;
  if (journal && !no_room) {
    shm->journal_file = 1;
    shm->journal_alloc[0] = ring0;
  }
  /* No room for the journal: it is over before it began (a replay is refused, saying why). */
  shm->journal_ended_by_space = (uint32_t)no_room;
  shm_fd = fd;
}

void futex_wake(volatile uint32_t *w) { syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

uint64_t total_events(void) {
  uint64_t n = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) n += shm->ring[k].events;
  return n;
}
uint64_t total_consumed(void) {
  uint64_t n = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) n += shm->ring[k].consumed;
  return n;
}

/* Detach the follower: the leader stops recording and never waits for it again. */
void detach_follower(void) {
  __atomic_store_n(&shm->follower_attached, 0, __ATOMIC_SEQ_CST);
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    __atomic_add_fetch(&shm->ring[k].tail_seq, 1, __ATOMIC_SEQ_CST);
    futex_wake(&shm->ring[k].tail_seq);
  }
}

/* Bytes the journal's file takes on its disk (0 when the rings are memory). */
uint64_t journal_disk(void) {
  struct stat sb;
  if (!journal_path[0] || fstat(shm_fd, &sb) < 0) return 0;
  return (uint64_t)sb.st_blocks * 512u;
}
