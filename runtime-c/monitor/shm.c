/* The shared memory: the header and the rings both versions' agents use (mvr_ring.h), its
 * creation, and the few monitor-side reads and wakes of it. */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>

#include "monitor.h"

mvr_shared *shm;
uint8_t *ring_data;
int shm_fd = -1;

void create_shm(void) {
  int low = memfd_create("mvr-ring", MFD_CLOEXEC);
  if (low < 0) mvr_die_errno("memfd_create");
  int fd = high_fd(low);
  /* One data area per thread pair; pages are allocated only when a ring is used. */
  /* A single leader that may be updated keeps its journal in the rings: room for the bound. */
  uint64_t data_size = opt.ring_size;
  if (opt.agent && opt.control && !opt.follower_argv) {
    if (opt.journal_size > data_size) data_size = (opt.journal_size + 4095) & ~(uint64_t)4095;
    /* A new version that loads handed-off state is not consuming yet: the ring holds what the
     * leader records meanwhile (~16 MB/s for kv under 8 busy clients), and filling it fails the
     * update. So an updatable leader gets room for seconds of that unless told otherwise. */
    if (!opt.ring_size_given && data_size < UPDATABLE_RING_SIZE) data_size = UPDATABLE_RING_SIZE;
  }
  uint64_t total = MVR_HDR_SIZE + (uint64_t)opt.max_tasks * data_size;
  if (ftruncate(fd, (off_t)total) < 0) mvr_die_errno("ftruncate of the ring (%llu bytes)", (unsigned long long)total);
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
   * truncated event, which retires the follower if it needs those bytes). */
  shm->max_buf = data_size / 4;
  /* Larger ones are split across chunk records for a follower; a trace (--record) cuts them. */
  shm->split_events = !opt.record;
  /* A recording leader waits for the monitor's drain, which only the speed of the trace file
   * holds back: a full ring is worth a long wait there, as giving up loses events. */
  shm->ring_wait_ms = opt.record ? RECORD_WAIT_MS : opt.deadline_ms;
  shm->nrings = opt.max_tasks;
  shm->follower_attached = 1;
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
