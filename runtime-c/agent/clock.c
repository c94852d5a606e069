/* clock.c — the clock: how the leader reads it (below, "leader"), and the time a follower sees
 * when it reads the clock on its own.
 *
 * A clock read the rules let the follower make without a leader counterpart (std/time's
 * `nothing => clock_gettime(_, _)`) used to be executed for real. A follower that follows live
 * is about a millisecond behind its leader, so that was close enough; a new version that catches
 * up by replaying a journal runs seconds or hours behind the leader's stream, and the real clock
 * put its timers (Redis's serverCron, a cache's expiry) at other events than the old version's:
 * it diverged where the old version's timer had not fired yet.
 *
 * So the follower's own reads are given the leader's time: the real clock minus the lag, where the
 * lag is how far the leader's stream (its latest clock read the follower has seen) is behind the
 * follower's real clock at the moment the follower saw it. All the wall and monotonic clocks tick
 * together, so one lag serves them all; a value given never goes back (per clock). Per-process and
 * per-thread CPU clocks (and the dynamic clock ids, which are negative) are the follower's own:
 * nothing in the leader's stream says what they would be.
 *
 * Threads share the lag (one version, one stream of time); a race between two notes only makes
 * the lag one note older. */
#include "agent.h"

/* The static clock ids the lag applies to (CLOCK_REALTIME .. CLOCK_TAI, minus the CPU clocks). */
#define CLOCKS 12
static int is_shared_clock(int64_t id) {
  return id >= 0 && id < CLOCKS && id != CLOCK_PROCESS_CPUTIME_ID && id != CLOCK_THREAD_CPUTIME_ID;
}

static int64_t g_lag_ns;        /* real clock minus the leader's, at the latest note */
static int g_lag_known;         /* some leader clock read was seen */
static int64_t g_given[CLOCKS]; /* the latest value given to the follower, per clock */

static int64_t real_ns(int64_t id) {
  struct timespec t;
  if (RAW2(SYS_clock_gettime, id, &t) != 0) return INT64_MIN;
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t timespec_ns(const uint8_t *p) {
  struct timespec t;
  memcpy(&t, p, sizeof t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void clock_note_leader(const mvr_event *ev) {
  int64_t id, leader;
  if (ev->ret < 0) return;
  switch (ev->nr) {
    case SYS_clock_gettime:
      id = ev->args[0];
      if (!is_shared_clock(id) || !ev->buf[1] || ev->buf_len[1] < sizeof(struct timespec)) return;
      leader = timespec_ns(ev->buf[1]);
      break;
    case SYS_gettimeofday: {
      struct timeval tv;
      if (!ev->buf[0] || ev->buf_len[0] < sizeof tv) return;
      memcpy(&tv, ev->buf[0], sizeof tv);
      id = CLOCK_REALTIME;
      leader = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
      break;
    }
    case SYS_time:
      id = CLOCK_REALTIME;
      leader = ev->ret * 1000000000;
      break;
    default: return;
  }
  int64_t real = real_ns(id);
  if (real == INT64_MIN) return;
  /* A coarse or second-granular reading is behind the real clock by up to its granularity: the
   * lag is never taken as negative (a follower's time is never ahead of the real clock). */
  int64_t lag = real > leader ? real - leader : 0;
  __atomic_store_n(&g_lag_ns, lag, __ATOMIC_RELAXED);
  __atomic_store_n(&g_lag_known, 1, __ATOMIC_RELEASE);
}

/* The leader's time on clock `id` now, or INT64_MIN when the real clock must be read. */
static int64_t follower_now(int64_t id) {
  if (!is_shared_clock(id) || !__atomic_load_n(&g_lag_known, __ATOMIC_ACQUIRE)) return INT64_MIN;
  int64_t real = real_ns(id);
  if (real == INT64_MIN) return INT64_MIN;
  int64_t t = real - __atomic_load_n(&g_lag_ns, __ATOMIC_RELAXED);
  int64_t given = __atomic_load_n(&g_given[id], __ATOMIC_RELAXED);
  while (t > given && !__atomic_compare_exchange_n(&g_given[id], &given, t, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
  return t > given ? t : given;
}

int clock_follower_own(uint32_t nr, const int64_t *args, int64_t *ret) {
  int64_t t;
  switch (nr) {
    case SYS_clock_gettime: {
      if (!args[1] || (t = follower_now(args[0])) == INT64_MIN) return 0;
      struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
      memcpy((void *)(uintptr_t)args[1], &ts, sizeof ts);
      *ret = 0;
      return 1;
    }
    case SYS_gettimeofday: {
      if ((t = follower_now(CLOCK_REALTIME)) == INT64_MIN) return 0;
      if (args[0]) {
        struct timeval tv = {.tv_sec = t / 1000000000, .tv_usec = (t % 1000000000) / 1000};
        memcpy((void *)(uintptr_t)args[0], &tv, sizeof tv);
      }
      if (args[1]) RAW2(SYS_gettimeofday, 0, args[1]); /* the time zone is the system's */
      *ret = 0;
      return 1;
    }
    case SYS_time: {
      if ((t = follower_now(CLOCK_REALTIME)) == INT64_MIN) return 0;
      int64_t s = t / 1000000000;
      if (args[0]) memcpy((void *)(uintptr_t)args[0], &s, sizeof s);
      *ret = s;
      return 1;
    }
    default: return 0;
  }
}

/* ---- leader: clock reads through the vDSO ---------------------------------------------------------
 * A clock read is the program's most frequent call (Redis: two per command), and natively costs no
 * syscall: libc calls the vDSO. The leader used to make it a real syscall (exec_call: on this kind
 * of VM ~4 us against ~80 ns) and record it as a whole event (136 bytes). Now a leader thread that
 * records reads the clock through libc's own function, as the program would, and records the value
 * in a compact record (mvr_clockrec); the follower's view reads that as the event it stands for.
 *
 * libc's function may make a syscall itself (a clock id the vDSO does not serve, a clocksource it
 * cannot read from user space): during the read this thread's syscall user dispatch selector is
 * ALLOW (sud_allow), so whatever libc does runs natively and unrecorded; the agent records the
 * result. No program handler runs meanwhile (record_begin defers it), and the value is read into
 * the agent's own memory, so nothing in that window can fault; it is given to the program once the
 * record is published. Errors (an unknown clock id) are recorded as ordinary events; a NULL
 * destination (the kernel's EFAULT) and gettimeofday's time zone take the ordinary path. */
static int (*g_libc_clock_gettime)(clockid_t, struct timespec *);
static int (*g_libc_gettimeofday)(struct timeval *restrict, void *restrict);
static time_t (*g_libc_time)(time_t *);

/* libc's own definitions (not the next one in the search order, which may be a library's). */
void clock_init(void *libc) {
  if (!libc) return;
  g_libc_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(libc, "clock_gettime");
  g_libc_gettimeofday = (int (*)(struct timeval *restrict, void *restrict))dlsym(libc, "gettimeofday");
  g_libc_time = (time_t(*)(time_t *))dlsym(libc, "time");
}

/* A clock read of a recording leader thread: 1 with the program's result (or -errno) in *ret; 0
 * when the ordinary path must take it (not a recording leader thread, a role switch to apply, a
 * shape the compact record does not hold). */
int leader_clock(uint32_t nr, const int64_t *a, int64_t *ret) {
  tstate *ts = t_ts;
  if (g_agent.role != ROLE_LEADER || !ts || ts->leader_stopped || t_passthrough || g_agent.prelude || !recording() ||
      ts->gen != __atomic_load_n(&g_agent.gen, __ATOMIC_ACQUIRE))
    return 0;
  int64_t ptr;
  switch (nr) {
    case SYS_clock_gettime:
      if (!g_libc_clock_gettime || !a[1]) return 0;
      ptr = a[1];
      break;
    case SYS_gettimeofday:
      if (!g_libc_gettimeofday || !a[0] || a[1]) return 0;
      ptr = a[0];
      break;
    case SYS_time:
      if (!g_libc_time) return 0;
      ptr = a[0];
      break;
    default: return 0;
  }
  /* The cut of a role switch: the read is an event like any other (switch.c). Paused and now the
   * follower: the ordinary path decides the call as the follower. */
  if (!leader_enter(ts, nr)) return 0;
  int64_t val[2] = {0, 0};
  int64_t r;
  record_begin(ts);
  sud_allow(1);
  switch (nr) {
    case SYS_clock_gettime: r = g_libc_clock_gettime((clockid_t)a[0], (struct timespec *)val); break;
    case SYS_gettimeofday: r = g_libc_gettimeofday((struct timeval *)val, NULL); break;
    default: r = val[0] = (int64_t)g_libc_time(NULL); break;
  }
  sud_allow(0);
  if (r == -1 && nr != SYS_time) r = -errno;
  if (r >= 0) leader_record_clock(nr, nr == SYS_clock_gettime ? a[0] : 0, ptr, val);
  else leader_record(nr, a, r, 0); /* nothing was written: an ordinary event */
  record_end(ts);
  leader_leave(ts);
  if (r >= 0 && ptr) memcpy((void *)(uintptr_t)ptr, val, nr == SYS_time ? 8 : 16);
  *ret = r;
  return 1;
}
