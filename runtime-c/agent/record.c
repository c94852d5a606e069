/* record.c — leader: recording events, signals and agent notes into this thread's ring (mvr_ring.h),
 * waiting (bounded) for room, and ending a stream. */
#include <sys/vfs.h>

#include "agent.h"

/* ---- leader: recording ---------------------------------------------------------------------- */

/* Waits until `need` bytes are free; returns 0 when the follower is gone or the bound passed. */
static int leader_wait_space(tstate *ts, uint64_t need) {
  mvr_ringctl *rc = ts->rc;
  uint64_t size = g_agent.shm->data_size;
  uint64_t start = 0;
  for (;;) {
    uint64_t head = rc->head;
    uint64_t tail = __atomic_load_n(&rc->tail, __ATOMIC_ACQUIRE);
    if (size - (head - tail) >= need) return 1;
    if (!g_agent.shm->follower_attached || g_agent.shm->overflow) return 0;
    if (__atomic_load_n(&g_agent.shm->follower_catching_up, __ATOMIC_SEQ_CST)) {
      /* A new version still loading or replaying: the leader never waits for it. */
      __atomic_store_n(&g_agent.shm->overflow, 1, __ATOMIC_SEQ_CST);
      return 0;
    }
    uint64_t t = now_ns();
    if (!start) start = t;
    if (t - start >= (uint64_t)g_agent.shm->ring_wait_ms * 1000000ull) {
      /* Bounded: the leader never waits longer; the monitor retires the follower. */
      __atomic_store_n(&g_agent.shm->overflow, 1, __ATOMIC_SEQ_CST);
      rc->leader_wait_ns += t - start;
      return 0;
    }
    uint32_t seq = __atomic_load_n(&rc->tail_seq, __ATOMIC_ACQUIRE);
    /* Be woken only when an eighth of the ring is free: one wake-up per record would make the
     * leader crawl at the speed of a syscall round trip. */
    rc->leader_want = need > size / 8 ? need : size / 8;
    __atomic_store_n(&rc->leader_waiting, 1, __ATOMIC_SEQ_CST);
    tail = __atomic_load_n(&rc->tail, __ATOMIC_SEQ_CST);
    if (size - (head - tail) < need) futex_wait(&rc->tail_seq, seq, 10 * 1000000ull);
    __atomic_store_n(&rc->leader_waiting, 0, __ATOMIC_SEQ_CST);
    rc->leader_wait_ns += now_ns() - t;
  }
}

/* ---- leader: the journal on disk (mvr_ring.h, journal_file) ------------------------------------ */

#define JOURNAL_STEP (64ull << 20) /* the most a ring is allocated ahead at once */
#define JOURNAL_MIN_STEP (1ull << 20)

/* Allocates ring k's part of the file up to at least `upto`, and a step ahead when the filesystem
 * has room for it: one fallocate every few MiB of records, so that writes through the mapping
 * never meet an unallocated block (SIGBUS). Returns 0 when the filesystem would be left with less
 * than journal_min_free, or refuses (ENOSPC, a quota): the caller ends the journal. */
int journal_allocate(uint32_t ring, uint64_t upto) {
  return journal_allocate_keep(ring, upto, g_agent.shm->journal_min_free);
}

/* The same, leaving `keep` bytes free: a ring's floor may take from the journal's reserve. */
int journal_allocate_keep(uint32_t ring, uint64_t upto, uint64_t keep) {
  mvr_shared *sh = g_agent.shm;
  uint64_t size = sh->data_size, have = __atomic_load_n(&sh->journal_alloc[ring], __ATOMIC_ACQUIRE);
  if (upto <= have) return 1;
  /* Past the journal's bound a ring needs no more than its floor (what it wraps at later). */
  uint64_t lim = sh->journal_limit > sh->ring_floor ? sh->journal_limit : sh->ring_floor;
  lim = (lim + 4095) & ~4095ull;
  if (lim > size) lim = size;
  if (upto > lim) return 0;
  /* Steps grow with the ring (a thread that records little takes little disk). */
  uint64_t step = have < JOURNAL_MIN_STEP ? JOURNAL_MIN_STEP : have < JOURNAL_STEP ? have : JOURNAL_STEP;
  uint64_t want = (upto + step + 4095) & ~4095ull;
  uint64_t least = (upto + 4095) & ~4095ull;
  if (want > lim) want = lim;
  if (least > lim) least = lim;
  struct statfs sf;
  if (RAW2(SYS_fstatfs, g_agent.shm_fd, &sf) == 0) {
    uint64_t avail = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
    if (avail < keep + (want - have) + MVR_JOURNAL_SLACK) want = least;
    if (avail < keep + (want - have) + MVR_JOURNAL_SLACK) return 0;
  }
  uint64_t base = MVR_HDR_SIZE + (uint64_t)ring * size;
  uint64_t end = want + MVR_JOURNAL_SLACK < size ? want + MVR_JOURNAL_SLACK : size;
  if (RAW4(SYS_fallocate, g_agent.shm_fd, 0, base + have, end - have) < 0) return 0;
  /* Another thread may give this ring its floor meanwhile (journal_end): the larger one stays. */
  uint64_t cur = __atomic_load_n(&sh->journal_alloc[ring], __ATOMIC_ACQUIRE);
  while (cur < want &&
         !__atomic_compare_exchange_n(&sh->journal_alloc[ring], &cur, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {}
  return 1;
}

/* Ends the journal (once, whoever passes a bound first): a later replay is refused, saying why.
 * Each ring of its file then goes on as an ordinary ring over what it has: it gets its floor
 * (--ring-size) now, taken from the reserve if need be, so that it works as a ring of that size;
 * on a full disk it keeps what it has (a record larger than that is lost to a follower, which
 * is retired: ring_reserve). */
void journal_end(uint32_t by_space) {
  mvr_shared *sh = g_agent.shm;
  if (!__atomic_exchange_n(&sh->journal_valid, 0, __ATOMIC_SEQ_CST)) return;
  sh->journal_end = sh->ring[0].events;
  sh->journal_ended_by_space = by_space;
  journal_floors();
}

/* Every ring of the journal's file in use gets its floor (the journal is over). */
void journal_floors(void) {
  mvr_shared *sh = g_agent.shm;
  if (!sh->journal_file) return;
  for (uint32_t k = 0; k < sh->nrings; k++)
    if (__atomic_load_n(&sh->journal_alloc[k], __ATOMIC_ACQUIRE)) journal_allocate_keep(k, sh->ring_floor, 0);
}

/* While the journal lasts, room for `need` more bytes at the head: within its bound and
 * allocated. Else the journal ends here (a later update by replay is refused, saying why) and the
 * leader goes on, its ring an ordinary ring from now on. */
static void journal_keep(tstate *ts, uint64_t need) {
  mvr_shared *sh = g_agent.shm;
  if (!__atomic_load_n(&sh->journal_valid, __ATOMIC_SEQ_CST)) return;
  uint64_t end = ts->rc->head + need;
  uint32_t space = 0;
  /* The journal keeps every event from #0: nothing is ever overwritten while it lasts. */
  if (end <= sh->journal_limit && end <= sh->data_size) {
    if (!sh->journal_file || end <= __atomic_load_n(&sh->journal_alloc[ts->ring], __ATOMIC_ACQUIRE)) return;
    if (journal_allocate(ts->ring, end)) return;
    space = 1;
  }
  journal_end(space);
}

/* Where the ring wraps: its data area's end, but a ring of the journal's file past the journal
 * only has what was allocated (ring_floor unless the disk was full): it wraps there, with a PAD record to the
 * area's end, whose 8-byte header lies within MVR_JOURNAL_SLACK. The free-space check against the
 * whole area stays right: the PAD's bytes count as used until the follower passes them. */
static uint64_t ring_wrap(const tstate *ts) {
  mvr_shared *sh = g_agent.shm;
  if (!sh->journal_file || __atomic_load_n(&sh->journal_valid, __ATOMIC_SEQ_CST)) return sh->data_size;
  return __atomic_load_n(&sh->journal_alloc[ts->ring], __ATOMIC_ACQUIRE);
}

/* Faults in the ring's pages ahead of the head, a step at a time (MADV_POPULATE_WRITE, Linux
 * 5.14): one call instead of a page fault per 4 KiB page the records reach, a sixth of a journaling
 * Redis leader's CPU (each fault of the journal's file also reads the page: zeroes, as fallocate
 * left it). Only where writing is allowed: below the journal's allocation on disk. A kernel
 * without it says EINVAL once: the pages are then faulted in as they are written. */
#define POPULATE_STEP (1ull << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static int g_no_populate;

static void ring_populate(tstate *ts, uint64_t end) {
  if (end <= ts->populated || g_no_populate) return;
  mvr_shared *sh = g_agent.shm;
  uint64_t size = sh->data_size, head = ts->rc->head;
  /* A fresh stream (a role switch, a handoff) starts its positions again. */
  uint64_t from = ts->populated > head && ts->populated <= head + POPULATE_STEP ? ts->populated : head & ~4095ull;
  uint64_t off = from % size;
  uint64_t lim = sh->journal_file ? __atomic_load_n(&sh->journal_alloc[ts->ring], __ATOMIC_ACQUIRE) : size;
  if (lim > size) lim = size;
  uint64_t n = off < lim ? lim - off : 0;
  if (n > POPULATE_STEP) n = POPULATE_STEP;
  if (n && RAW3(SYS_madvise, ts->data + off, n, MADV_POPULATE_WRITE) == -EINVAL) g_no_populate = 1;
  /* Past the allocation (nothing to do) or after a failure: tried again a step later. */
  ts->populated = from + (n ? n : POPULATE_STEP);
}

/* Room for a record of `need` bytes at the ring's head (a pad record first when it would wrap);
 * NULL when the leader gave up on the follower. *end is the head to publish once it is written. */
static mvr_rec *ring_reserve(tstate *ts, uint64_t need, uint64_t *end) {
  journal_keep(ts, need);
  uint64_t size = g_agent.shm->data_size, wrap = ring_wrap(ts);
  uint64_t head = ts->rc->head;
  uint64_t off = head % size;
  uint64_t pad = (off + need > wrap) ? size - off : 0;
  if (need > wrap) {
    /* A ring the full disk left smaller than this record: it can never hold it (ring_wrap). */
    __atomic_store_n(&g_agent.shm->overflow, 1, __ATOMIC_SEQ_CST);
    return NULL;
  }
  if (!leader_wait_space(ts, pad + need)) return NULL;
  ring_populate(ts, head + pad + need);
  if (pad) {
    mvr_rec *p = (mvr_rec *)(ts->data + off);
    p->size = (uint32_t)pad;
    p->kind = MVR_REC_PAD;
    head += pad;
    off = 0;
  }
  *end = head + need;
  return (mvr_rec *)(ts->data + off);
}

/* Makes the records up to `end` visible, and wakes a follower that sleeps waiting for them. */
static void ring_publish(tstate *ts, uint64_t end) {
  mvr_ringctl *rc = ts->rc;
  __atomic_store_n(&rc->head, end, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&rc->follower_waiting, __ATOMIC_SEQ_CST)) {
    __atomic_add_fetch(&rc->head_seq, 1, __ATOMIC_SEQ_CST);
    futex_wake(&rc->head_seq);
  }
}

/* Writes the bytes of a split event (MVR_RECF_SPLIT) after its header: chunk records of at most
 * the per-buffer cap, each published at once so that the follower takes it and frees its room
 * while the next is written. Returns 0 when the leader gave up on the follower. */
static int write_chunks(tstate *ts, const int64_t *args, const uint64_t *lens, unsigned slots, const model_src *ms) {
  uint64_t cap = g_agent.shm->max_buf;
  for (unsigned i = 0; i < 6; i++) {
    if (!lens[i]) continue;
    const uint8_t *src = (const uint8_t *)(uintptr_t)args[i];
    uint8_t *gathered = NULL;
    if (slots & (1u << i)) { /* iovecs, a msghdr's parts: gathered once, then cut */
      gathered = raw_alloc(lens[i]);
      if (!gathered) return 0;
      model_copy(ms, i, gathered, lens[i]);
      src = gathered;
    }
    for (uint64_t off = 0; off < lens[i];) {
      uint64_t n = lens[i] - off < cap ? lens[i] - off : cap;
      uint64_t end;
      mvr_rec *c = ring_reserve(ts, sizeof(mvr_rec) + mvr_align8(n), &end);
      if (!c) {
        if (gathered) RAW2(SYS_munmap, gathered, lens[i]);
        return 0;
      }
      memset(c, 0, sizeof *c);
      c->size = (uint32_t)(sizeof(mvr_rec) + mvr_align8(n));
      c->kind = MVR_REC_CHUNK;
      c->index = ts->rc->events;
      c->len[0] = (uint32_t)n;
      memcpy(c + 1, src + off, n);
      ring_publish(ts, end);
      off += n;
    }
    if (gathered) RAW2(SYS_munmap, gathered, lens[i]);
  }
  return 1;
}

/* Records a successful clock read as a compact record (mvr_clockrec in mvr_ring.h): `val` holds
 * the bytes the call wrote (or time's result). Called inside the read's leader_enter. */
void leader_record_clock(uint32_t nr, int64_t clk, int64_t ptr, const int64_t val[2]) {
  tstate *ts = t_ts;
  if (!ts || ts->leader_stopped || g_agent.role != ROLE_LEADER) return;
  if (!recording()) {
    ts->leader_stopped = 1;
    return;
  }
  record_begin(ts);
  uint64_t end;
  mvr_clockrec *c = (mvr_clockrec *)ring_reserve(ts, sizeof *c, &end);
  if (!c) {
    ts->leader_stopped = 1;
    record_end(ts);
    return;
  }
  c->size = (uint32_t)sizeof *c;
  c->kind = MVR_REC_CLOCK;
  c->nr = nr;
  c->clk = (int32_t)clk;
  c->index = ts->rc->events;
  c->ptr = ptr;
  c->val[0] = val[0];
  c->val[1] = val[1];
  ts->rc->events = c->index + 1;
  ring_publish(ts, end);
  record_end(ts);
}

/* Whether an event fits a compact clock record, and its value: a successful read whose value went
 * where mvr_clockrec says (a trapped call's, read back from the program's memory). */
static int clock_compact(uint32_t nr, const int64_t *args, int64_t ret, int64_t val[2]) {
  val[0] = val[1] = 0;
  switch (nr) {
    case SYS_clock_gettime:
      if (ret != 0 || !args[1] || args[0] != (int32_t)args[0]) return 0;
      memcpy(val, (const void *)(uintptr_t)args[1], 16);
      return 1;
    case SYS_gettimeofday:
      if (ret != 0 || !args[0] || args[1]) return 0;
      memcpy(val, (const void *)(uintptr_t)args[0], 16);
      return 1;
    case SYS_time:
      if (ret < 0) return 0;
      val[0] = ret;
      return 1;
    default: return 0;
  }
}

void leader_record(uint32_t nr, const int64_t *args, int64_t ret, uint32_t flags) {
  tstate *ts = t_ts;
  if (!ts || ts->leader_stopped || g_agent.role != ROLE_LEADER) return;
  if (!recording()) {
    ts->leader_stopped = 1;
    return;
  }
  int64_t cval[2];
  if (!(flags & MVR_RECF_NORET) && clock_compact(nr, args, ret, cval)) {
    leader_record_clock(nr, nr == SYS_clock_gettime ? args[0] : 0, nr == SYS_clock_gettime ? args[1] : args[0], cval);
    return;
  }
  mvr_ringctl *rc = ts->rc;
  uint64_t cap = g_agent.shm->max_buf;
  /* With a follower, a buffer past the cap is split across chunk records rather than cut (up to
   * what a record's 32-bit lengths hold). */
  uint64_t limit = g_agent.shm->split_events ? 0xfffffff8ull : cap;
  uint64_t lens[6];
  uint64_t need = sizeof(mvr_rec);
  unsigned arity = mvr_si_arity(nr);
  /* Iovec arrays, msghdrs, mmsghdr vectors: the bytes they carry, by the model (gather.c). */
  unsigned slots = mvr_si_model_slots(nr);
  model_src ms;
  if (slots) model_describe(nr, args, ret, 1, &ms);
  for (unsigned i = 0; i < 6; i++) {
    lens[i] = 0;
    if (slots & (1u << i)) {
      uint64_t full = ms.out[i] && (flags & MVR_RECF_NORET) ? 0 : ms.full[i];
      lens[i] = full > limit ? limit : full;
      if (full > limit) flags |= MVR_RECF_TRUNCATED;
      if (lens[i] > cap) flags |= MVR_RECF_SPLIT;
      need += mvr_align8(lens[i]);
      continue;
    }
    if (i >= arity) continue;
    int k = mvr_si_kind(nr, i);
    uint64_t full = 0;
    if (mvr_kind_is_in(k)) full = mvr_in_len(nr, i, args, UINT64_MAX);
    else if (mvr_kind_is_out(k) && !(flags & MVR_RECF_NORET)) full = mvr_out_len(nr, i, args, ret, UINT64_MAX);
    lens[i] = full > limit ? limit : full;
    if (full > limit) flags |= MVR_RECF_TRUNCATED;
    if (lens[i] > cap) flags |= MVR_RECF_SPLIT;
    need += mvr_align8(lens[i]);
  }
  if (flags & MVR_RECF_SPLIT) need = sizeof(mvr_rec); /* the bytes follow in chunk records */
  /* No handler of the program runs while the record is written: its own syscalls would be
   * recorded in the middle of it otherwise (record_begin). */
  record_begin(ts);
  uint64_t end;
  mvr_rec *r = ring_reserve(ts, need, &end);
  if (!r) {
    ts->leader_stopped = 1;
    record_end(ts);
    return;
  }
  r->size = (uint32_t)need;
  r->kind = MVR_REC_EVENT;
  r->nr = nr;
  r->flags = flags;
  r->index = rc->events;
  order_stamp(ts, r);
  for (unsigned i = 0; i < 6; i++) r->args[i] = args[i];
  r->ret = ret;
  uint8_t *p = (uint8_t *)(r + 1);
  for (unsigned i = 0; i < 6; i++) {
    r->len[i] = (uint32_t)lens[i];
    if (flags & MVR_RECF_SPLIT) continue;
    if (lens[i] && (slots & (1u << i))) model_copy(&ms, i, p, lens[i]);
    else if (lens[i]) memcpy(p, (const void *)(uintptr_t)args[i], lens[i]);
    p += mvr_align8(lens[i]);
  }
  /* Descriptors travel before the event is published, so the follower never waits for them. */
  if (creates_fds(nr, args) && !(flags & MVR_RECF_NORET) && !leader_send_fds(ts, nr, args, ret, r->index)) {
    ts->leader_stopped = 1;
    record_end(ts);
    return;
  }
  if (flags & MVR_RECF_SPLIT) {
    ring_publish(ts, end); /* the header first: the follower starts taking the chunks */
    if (!write_chunks(ts, args, lens, slots, &ms)) {
      ts->leader_stopped = 1;
      record_end(ts);
      return;
    }
    rc->events = rc->events + 1;
    record_end(ts);
    return;
  }
  rc->events = r->index + 1;
  ring_publish(ts, end);
  record_end(ts);
}

/* Records that the leader runs its handler for `sig` now, before its next event, with the siginfo
 * the handler gets (its sender's pid, a child's status...: the follower's handler gets the same). */
void leader_record_signal(int sig, const siginfo_t *info) {
  tstate *ts = t_ts;
  if (!ts || ts->leader_stopped || g_agent.role != ROLE_LEADER) return;
  if (!recording()) {
    ts->leader_stopped = 1;
    return;
  }
  /* A signal is an event of the cut as a call is (switch.c). */
  int entered = leader_signal_enter(ts);
  if (!entered) return; /* this process follows now: the handler runs unrecorded */
  record_begin(ts);
  uint64_t end;
  uint32_t need = (uint32_t)(sizeof(mvr_rec) + mvr_align8(sizeof(siginfo_t)));
  mvr_rec *r = ring_reserve(ts, need, &end);
  if (!r) {
    ts->leader_stopped = 1;
    record_end(ts);
    if (entered > 0) leader_leave(ts);
    return;
  }
  memset(r, 0, need);
  r->size = need;
  r->len[0] = (uint32_t)sizeof(siginfo_t);
  if (info) memcpy(r + 1, info, sizeof *info);
  r->kind = MVR_REC_SIGNAL; /* not an event: no stamp */
  r->nr = (uint32_t)sig;
  /* Blocked in a local call (agent_call): the follower's own one ends here too (follow.c). A
   * sleep's remaining time is written by the kernel before the handler runs. */
  uint32_t during = ts->local_nr;
  const int64_t *la = ts->local_args;
  if (during && la) {
    r->args[0] = MVR_SIG_DURING;
    r->args[1] = during;
    const struct timespec *rem = NULL;
    if (during == SYS_nanosleep) rem = (const struct timespec *)(uintptr_t)la[1];
    else if (during == SYS_clock_nanosleep && !(la[1] & TIMER_ABSTIME)) rem = (const struct timespec *)(uintptr_t)la[3];
    if (rem) {
      r->args[0] |= MVR_SIG_REM;
      r->args[2] = rem->tv_sec;
      r->args[3] = rem->tv_nsec;
    }
  }
  r->index = ts->rc->events;
  ring_publish(ts, end);
  record_end(ts);
  if (entered > 0) leader_leave(ts);
}

/* Writes an agent note (MVR_REC_AGENT): not an event, the follower's view applies and skips it. */
void leader_note(int64_t fd, int64_t data) {
  tstate *ts = t_ts;
  if (!ts || ts->leader_stopped || !recording()) return;
  uint64_t end;
  mvr_rec *r = ring_reserve(ts, sizeof(mvr_rec), &end);
  if (!r) return;
  memset(r, 0, sizeof *r);
  r->size = (uint32_t)sizeof(mvr_rec);
  r->kind = MVR_REC_AGENT;
  r->index = ts->rc->events;
  r->args[0] = fd;
  r->args[1] = data;
  /* Not an event: the follower sees it with the next one, no need to wake it. */
  __atomic_store_n(&ts->rc->head, end, __ATOMIC_SEQ_CST);
}

void ring_eof(mvr_ringctl *rc) {
  __atomic_store_n(&rc->leader_eof, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&rc->head_seq, 1, __ATOMIC_SEQ_CST);
  futex_wake(&rc->head_seq);
}
