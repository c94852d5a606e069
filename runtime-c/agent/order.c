/* order.c — order across tasks (threads and processes of one version; mvr_ring.h, "Order across
 * tasks"): the leader stamps every event with its place in one order, and marks producers; the
 * follower takes an event only once the producers stamped before it are taken.
 *
 * Why: a multi-threaded server hands work from one thread to another through memory and wakes the
 * other thread through the kernel (memcached's main thread queues an accepted connection, then
 * writes a worker's eventfd). The follower gets every result from the leader, so without an order
 * its worker is handed the leader's eventfd read before its own main thread has queued anything,
 * and looks at an empty queue. The kernel-visible hand-offs are the producers below; a follower
 * task that waits until every producer stamped before its event has been taken by the follower
 * task that made it sees, in its memory, whatever that producer's task had done before it.
 *
 * What is a producer (agent side: which calls another task may observe the effect of):
 *  - a write of any kind, to any descriptor (write, writev, pwrite*, send*, sendmsg, sendmmsg,
 *    splice/tee/vmsplice/sendfile into it), and connect: besides the channels between the
 *    version's own tasks (an eventfd, a pipe, a socketpair), a reply to a client is one too, as the
 *    client may act on it on another connection, which another task serves (memcached: a set
 *    answered on one connection, then a get of that key on another);
 *  - a signal sent (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo);
 *  - the creation of a followed child process (fork, clone without CLONE_VM): recorded in the
 *    parent once it returns, when the child may have recorded events already (tasks.c);
 *  - close, shutdown, dup2/dup3 of a channel (the other end sees the end of the stream), and of any
 *    descriptor in a process with more than one followed thread (another thread's next descriptor
 *    may get that number, which the follower installs under the same number); epoll_ctl there
 *    (another thread may wait on that epoll instance). In a single-threaded process of a
 *    multi-process program these stay private to it; the internal[] table says what is a channel.
 * Not producers: reads, waits, accepts, clock reads... — they wait for the producers before them
 * (except clock reads and own-id queries: observes_nothing below), and nothing waits for them, so an idle task blocked in epoll_wait in the leader, or a follower
 * task that makes fewer clock reads, holds no other task back. Hand-offs through memory alone
 * (spinning on a flag) are not ordered: no system call says that they happened; nor is the order
 * in which two tasks change the same memory between their calls (two clients' sets of one key
 * with different values, and a third client's get): that is a data race of the program's
 * answers, which the second version can only reproduce by chance.
 *
 * Cost: one atomic add per event in the leader (order_seq), two for a producer; in the follower,
 * one load per event taken (order_done), per producer a compare-and-swap, and a futex wake of
 * exactly the tasks it lets go on, when some wait. Producers are taken in the leader's producer order, so follower tasks that serve
 * requests take turns at each reply. A producer blocked in the leader (a write to a full pipe or
 * to a slow client on a blocking socket) holds back every later event of the follower until it
 * returns. */
#include "agent.h"

/* ---- leader: descriptors that are channels between the version's own tasks --------------------- */

static volatile uint8_t g_internal[FDMAX / 8];

static int is_internal(int64_t fd) { return fd >= 0 && fd < FDMAX && (g_internal[fd >> 3] >> (fd & 7) & 1); }

static void set_internal(int64_t fd, int on) {
  if (fd < 0 || fd >= FDMAX) return;
  if (on) __atomic_or_fetch(&g_internal[fd >> 3], (uint8_t)(1u << (fd & 7)), __ATOMIC_RELAXED);
  else __atomic_and_fetch(&g_internal[fd >> 3], (uint8_t) ~(1u << (fd & 7)), __ATOMIC_RELAXED);
}

/* After a leader call: which descriptors it made channels, or made something else. */
void order_note_fds(uint32_t nr, const int64_t *a, int64_t ret) {
  if (ret < 0) return;
  switch (nr) {
    case SYS_eventfd:
    case SYS_eventfd2: set_internal(ret, 1); return;
    case SYS_pipe:
    case SYS_pipe2:
    case SYS_socketpair: {
      const int *p = (const int *)(uintptr_t)(nr == SYS_socketpair ? a[3] : a[0]);
      if (p) {
        set_internal(p[0], 1);
        set_internal(p[1], 1);
      }
      return;
    }
    case SYS_dup: set_internal(ret, is_internal(a[0])); return;
    case SYS_dup2:
    case SYS_dup3: set_internal(a[1], is_internal(a[0])); return;
    case SYS_fcntl:
      if (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC) set_internal(ret, is_internal(a[0]));
      return;
    case SYS_close: set_internal(a[0], 0); return;
    default:
      if (mvr_si_returns_fd(nr)) set_internal(ret, 0);
      return;
  }
}

/* More than one task of this process is followed or recording: its descriptor table is shared. */
static int multi_task(void) { return __atomic_load_n(&g_agent.tasks, __ATOMIC_RELAXED) > 1; }

/* Whether a leader call is a producer (above). */
static int producer(uint32_t nr, const int64_t *a) {
  switch (nr) {
    case SYS_write:
    case SYS_writev:
    case SYS_pwrite64:
    case SYS_pwritev:
    case SYS_pwritev2:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_vmsplice:
    case SYS_splice:
    case SYS_tee:
    case SYS_sendfile:
    case SYS_connect:
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill:
    case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo:
    case SYS_fork: /* a followed child process (tasks.c): it is recorded after the child's first events */
    case SYS_clone:
    case SYS_clone3: return 1;
    case SYS_close:
    case SYS_shutdown: return is_internal(a[0]) || multi_task();
    case SYS_dup2:
    case SYS_dup3: return is_internal(a[1]) || multi_task();
    case SYS_epoll_ctl: return multi_task();
    default: return 0;
  }
}

/* ---- leader: stamps ---------------------------------------------------------------------------- */

/* Before a leader call: a producer takes its stamp now, and holds the program's signal handlers
 * off until its record is published (record_begin): a handler's own events would otherwise be
 * recorded before it with later stamps, and the follower would wait for the producer behind them.
 * Returns 1 when the caller must call order_leave after recording. */
int order_enter(tstate *ts, uint32_t nr, const int64_t *a) {
  if (!ts || ts->leader_stopped || !producer(nr, a)) return 0;
  record_begin(ts);
  /* A call re-issued after a role-switch kick keeps the stamp it took (no hole in the producers). */
  if (!ts->pre_valid) {
    ts->pre_prod = __atomic_fetch_add(&g_agent.shm->order_prod, 1, __ATOMIC_SEQ_CST);
    ts->pre_seq = __atomic_add_fetch(&g_agent.shm->order_seq, 1, __ATOMIC_SEQ_CST);
    ts->pre_valid = 1;
  }
  return 1;
}

void order_leave(tstate *ts) { record_end(ts); }

/* The stamp of the event being recorded (record.c, with the program's handlers held off). */
void order_stamp(tstate *ts, mvr_rec *r) {
  if (ts->pre_valid) {
    r->seq = ts->pre_seq;
    r->prod = ts->pre_prod;
    r->flags |= MVR_RECF_PRODUCER;
    ts->pre_valid = 0;
    return;
  }
  /* Its call has returned: whatever it observed was done before these loads. */
  r->prod = __atomic_load_n(&g_agent.shm->order_prod, __ATOMIC_SEQ_CST);
  r->seq = __atomic_add_fetch(&g_agent.shm->order_seq, 1, __ATOMIC_SEQ_CST);
}

/* A fresh stream (ring_restart): single-threaded programs only, so no other task stamps. */
void order_restart(void) {
  g_agent.shm->order_seq = 0;
  g_agent.shm->order_prod = 0;
  g_agent.shm->order_done = 0;
  if (t_ts) t_ts->pre_valid = 0;
}

/* ---- follower: taking events in order ---------------------------------------------------------- */

/* Waits until every producer stamped before `pe` has been taken, then takes it (a producer moves
 * order_done on and wakes the tasks waiting for it). Returns at once in the common case. A wait
 * that never ends (a follower task blocked on a lock that another holds while it waits here: the
 * versions took it in another order) is the monitor's to see: the pair makes no progress, and its
 * report says what this task waits for (order_wait). */
/* Calls whose result no other task's call can have caused: a clock read, the caller's own ids. The
 * follower gets the leader's result whatever its other tasks have taken, so such an event does not
 * wait for the producers before it (it is no producer either). Why it matters: a follower thread
 * that holds a lock of the program's while it makes one (Python's interpreter lock around
 * time.monotonic() and the thread's gettid at its start) would otherwise wait there for another
 * thread's event that comes only after that thread got the lock: the follower hung. The thread's
 * next other call still waits for every producer before it. */
static int observes_nothing(uint32_t nr) {
  switch (nr) {
    case SYS_clock_gettime:
    case SYS_gettimeofday:
    case SYS_time:
    case SYS_clock_getres:
    case SYS_gettid:
    case SYS_getpid:
    case SYS_getppid: return 1;
    default: return 0;
  }
}

/* Wakes the follower tasks that wait for no more than `done` producers taken. */
static void wake_waiters(uint64_t done) {
  mvr_shared *shm = g_agent.shm;
  if (!__atomic_load_n(&shm->order_waiters, __ATOMIC_SEQ_CST)) return;
  for (unsigned k = 0; k < shm->nrings; k++) {
    mvr_ringctl *o = &shm->ring[k];
    uint64_t n = __atomic_load_n(&o->order_need, __ATOMIC_SEQ_CST);
    if (n && n <= done) {
      __atomic_add_fetch(&o->order_futex, 1, __ATOMIC_SEQ_CST);
      futex_wake(&o->order_futex);
    }
  }
}

/* ---- follower: a lock of the program's held across a wait for order ---------------------------
 * The order says which task reaches a producer first; the program's own locks (futexes, which are
 * not recorded) say which task runs when, and the follower's tasks take those locks in their own
 * order. The two can cross: Python's handler thread released its interpreter lock to close its
 * connection (a producer, stamped as it began), and meanwhile the main thread took the lock, made
 * a call while holding it (the getsockname of a new connection, the clone of a new thread) and was
 * recorded after that stamp. In the follower the main thread can get the lock first, after both
 * threads' previous calls: it then waits for the handler thread's close while holding the lock that
 * thread needs to get there. Neither moves again; the monitor would retire the follower as hung.
 * So a task that has waited ORDER_BREAK_NS while no producer was taken, for a producer whose task
 * (of this process, its event already recorded) is blocked in a call of its own (a futex: a lock
 * or a condition), goes on without it: the producers up to its own event count as taken
 * (order_skip), and their tasks no longer wait when they reach them. What the order guarded may
 * then differ (memory the skipped task would have written before its producer); a follower that
 * acts on that differs from its leader and is retired as diverging, where it was otherwise sure to
 * hang. A producer not recorded yet (the leader's task still inside a blocking write) is never
 * skipped: that wait ends when the leader's call does. */
#define ORDER_BREAK_NS (200u * 1000000ull)

/* Whether producer `p` is an unconsumed event of another task of this process whose follower is
 * blocked in a call it makes itself. Another task's ring is read as the monitor reads it (from its
 * tail; records there stay until that task consumes them, and that task is blocked). */
static int lock_inversion(tstate *ts, uint64_t p, const parsed *pe) {
  mvr_shared *shm = g_agent.shm;
  for (uint32_t k = 0; k < shm->nrings; k++) {
    mvr_ringctl *o = &shm->ring[k];
    uint8_t *data = __atomic_load_n(&g_agent.ring_map[k], __ATOMIC_ACQUIRE);
    if (k == ts->ring || !data || !o->in_use || o->follower_tgid != g_agent.tgid) continue;
    if (!__atomic_load_n(&o->in_local, __ATOMIC_SEQ_CST)) continue;
    uint64_t pos = __atomic_load_n(&o->tail, __ATOMIC_SEQ_CST), head = __atomic_load_n(&o->head, __ATOMIC_ACQUIRE);
    mvr_ringrec rr;
    while (mvr_ring_read(data, shm->data_size, pos, head, &rr) == MVR_RR_OK) {
      if (rr.h.kind == MVR_REC_EVENT && (rr.h.flags & MVR_RECF_PRODUCER) && rr.h.prod == p) {
        /* Still blocked, its records still there: what was read is its producer. */
        if (!__atomic_load_n(&o->in_local, __ATOMIC_SEQ_CST) || __atomic_load_n(&o->tail, __ATOMIC_SEQ_CST) > pos)
          return 0;
        char line[256];
        int n = snprintf(line, sizeof line,
                         "mvr-agent: task pair #%u went on at its leader event #%llu without waiting for task pair "
                         "#%u's event #%llu, which is blocked on a lock (order across tasks)\n",
                         ts->ring, (unsigned long long)pe->ev.index, k, (unsigned long long)rr.h.index);
        if (n > 0) RAW3(SYS_write, agent_errfd(), line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        return 1;
      }
      if (rr.h.kind == MVR_REC_EVENT && rr.h.prod > p) break; /* stamps grow along a ring */
      pos += rr.h.size;
    }
  }
  return 0;
}

/* Counts the producers below `need` as taken, and lets go the tasks that waited for them. */
static void order_skip(uint64_t need) {
  mvr_shared *shm = g_agent.shm;
  uint64_t cur = __atomic_load_n(&shm->order_done, __ATOMIC_SEQ_CST);
  while (cur < need &&
         !__atomic_compare_exchange_n(&shm->order_done, &cur, need, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
  wake_waiters(need);
}

void order_take(tstate *ts, const parsed *pe) {
  mvr_shared *shm = g_agent.shm;
  uint64_t need = pe->prod;
  if (!(pe->flags & MVR_RECF_PRODUCER) && observes_nothing(pe->ev.nr)) return;
  if (__atomic_load_n(&shm->order_done, __ATOMIC_ACQUIRE) < need) {
    /* Asleep until the task that takes the producer it needs wakes exactly this one: on two
     * vCPUs shared with the leader and its clients, yielding or waking every waiting task costs
     * the scheduling rounds that the producer's own task needs. */
    mvr_ringctl *rc = ts->rc;
    uint64_t seen = ~0ull, since = 0;
    __atomic_add_fetch(&shm->order_waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
      uint32_t w = __atomic_load_n(&rc->order_futex, __ATOMIC_SEQ_CST);
      __atomic_store_n(&rc->order_need, need, __ATOMIC_SEQ_CST);
      uint64_t done = __atomic_load_n(&shm->order_done, __ATOMIC_SEQ_CST);
      if (done >= need) break;
      rc->order_wait = done + 1;
      uint64_t t = now_ns();
      if (done != seen) {
        seen = done;
        since = t;
      } else if (t - since >= ORDER_BREAK_NS && lock_inversion(ts, done, pe)) {
        order_skip(need);
        break;
      }
      futex_wait(&rc->order_futex, w, 50 * 1000000ull);
    }
    __atomic_store_n(&rc->order_need, 0, __ATOMIC_SEQ_CST);
    __atomic_sub_fetch(&shm->order_waiters, 1, __ATOMIC_SEQ_CST);
    rc->order_wait = 0;
  }
  /* All producers before it are taken: order_done == need, unless it was taken already (a
   * decision's events are taken before it is applied, and again when they are released). */
  if ((pe->flags & MVR_RECF_PRODUCER) &&
      __atomic_compare_exchange_n(&shm->order_done, &need, need + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
    wake_waiters(need + 1);
}
