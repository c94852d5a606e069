/* mvr_ring.h — the shared memory between the monitor, the leader's agent and the follower's agent.
 *
 * One memfd, created by the monitor, mapped by all three. The header holds the global state (the
 * follower's report, flags) and each ring's control words; then come `nrings` data areas, one per
 * task pair alive at once (`--max-tasks`; pages are only allocated when touched, and an agent maps
 * a ring's area only once one of its tasks uses that ring). Each is a single-producer (leader
 * thread) single-consumer (follower thread) ring of variable-length event records.
 *
 * Positions (head, tail) are byte counters that only grow; the physical offset is pos % data_size.
 * A record never straddles the end of the data area: when it would, the leader writes a PAD record
 * up to the end and continues at offset 0. Records and buffers are 8-byte aligned.
 *
 * Ordering: the leader writes a record, then publishes it with a release store of `head`; the
 * follower reads `head` with acquire. The follower releases space with a release store of `tail`
 * (the start of the oldest record the matcher may still read).
 */
#ifndef MVR_RING_H
#define MVR_RING_H

#include <stdint.h>

#include "mvr_abi.h"

#define MVR_SHM_MAGIC 0x4d565231u /* "MVR1" */
#define MVR_SHM_VERSION 7u
#define MVR_HDR_SIZE (512u * 1024u)
#define MVR_REPORT_MAX 8192u

#define MVR_REC_EVENT 1u
#define MVR_REC_PAD 2u
#define MVR_REC_SIGNAL 3u /* a signal handler of the leader ran before event `index`; nr = the signal */
#define MVR_REC_CHUNK 5u  /* bytes of the split event before it (MVR_RECF_SPLIT): len[0] bytes follow the header */
#define MVR_REC_AGENT                                                                                                  \
  4u /* a note between agents, not an event (no index): args[0] = fd, args[1] = the
                           * new leader's epoll user data for it (written when a follower is promoted) */
/* A successful clock read (clock_gettime, gettimeofday, time), compact: mvr_clockrec, 48 bytes
 * against an event record's 136. The ring reader (mvr_ringread.h) gives it as the MVR_REC_EVENT it
 * stands for (with MVR_RECF_CLOCK), so every consumer reads it as any other event. */
#define MVR_REC_CLOCK 6u

/* A signal record's args: where the leader's thread was when its handler ran. args[0] holds
 * MVR_SIG_DURING when it was blocked in a call it makes on its own (a local call: pause,
 * nanosleep, clock_nanosleep, futex...; its number in args[1]), with MVR_SIG_REM when that call
 * was a sleep that left time: its remaining timespec (tv_sec, tv_nsec) in args[2], args[3]. The
 * follower ends its own sleep there with EINTR and that remaining time (agent/follow.c). */
#define MVR_SIG_DURING 1
#define MVR_SIG_REM 2

/* Record flags. */
#define MVR_RECF_TRUNCATED 1u /* some buffer was cut at the per-buffer cap */
#define MVR_RECF_NORET 2u     /* recorded before the call (exit_group, execve, clone): ret unknown */
/* A buffer was larger than the per-buffer cap: the record has no buffers, len[i] are the full
 * lengths, and the bytes follow in MVR_REC_CHUNK records (each parameter's in order, unpadded),
 * written as the follower frees room; it reassembles them in its own memory. */
#define MVR_RECF_SPLIT 4u
/* A task creation (clone, fork) names the new task pair's ring in its upper 16 bits, as ring + 1
 * (0: the leader had no ring for it, more tasks were alive at once than --max-tasks allows): the
 * follower's matching creation takes the same ring. */
#define MVR_RECF_RING_SHIFT 16u
#define MVR_RECF_RING(k) ((uint32_t)((k) + 1u) << MVR_RECF_RING_SHIFT)
#define MVR_RECF_RING_OF(flags) ((int64_t)((flags) >> MVR_RECF_RING_SHIFT) - 1) /* -1: none */
#define MVR_RECF_PRODUCER 8u /* an effect other tasks may observe (see "Order across tasks" below) */
#define MVR_RECF_CLOCK 16u   /* read from a compact clock record (MVR_REC_CLOCK): no seq or prod stamp */

typedef struct mvr_rec {
  uint32_t size; /* whole record, header + buffers, multiple of 8 */
  uint32_t kind; /* MVR_REC_EVENT or MVR_REC_PAD */
  uint32_t nr;
  uint32_t flags;
  uint64_t index; /* event index in the leader's stream, from 0 */
  int64_t args[6];
  int64_t ret;
  uint32_t len[6]; /* recorded bytes per parameter; buffers follow in parameter order, each 8-aligned */
  uint64_t seq;    /* MVR_REC_EVENT: its place in the one order over all the leader's tasks (from 1) */
  uint64_t prod;   /* MVR_REC_EVENT: producers stamped before it (a producer: its own number, from 0) */
} mvr_rec;

/* A clock read as the leader records it when it succeeded (agent/clock.c): the leader reads the
 * clock through the vDSO, as the program would, and records the value, not a whole event. Redis
 * reads the clock twice per command: at 136 bytes an event, those reads were two thirds of its
 * journal. The event it stands for: clock_gettime(clk, ptr) = 0 with val's 16 bytes (a timespec)
 * at ptr; gettimeofday(ptr, NULL) = 0 with a timeval; time(ptr) = val[0], with val[0]'s 8 bytes at
 * ptr unless ptr is NULL. Not stamped in the order across tasks: a clock read waits for nothing
 * and nothing waits for it (order.c, observes_nothing). Any other shape (an error, gettimeofday's
 * time zone) is an ordinary event record. */
typedef struct mvr_clockrec {
  uint32_t size; /* sizeof(mvr_clockrec) */
  uint32_t kind; /* MVR_REC_CLOCK */
  uint32_t nr;   /* SYS_clock_gettime, SYS_gettimeofday or SYS_time */
  int32_t clk;   /* clock_gettime's clock id (0 for the others) */
  uint64_t index;
  int64_t ptr;    /* where the program got the value: clock_gettime's args[1], the others' args[0] */
  int64_t val[2]; /* the bytes the call wrote (timespec, timeval), or time's result in val[0] */
} mvr_clockrec;

/* Order across tasks (threads and processes of one version; agent/order.c).
 * Every event gets `seq` from the shared counter order_seq: one order over all tasks, consistent
 * with each task's own. A *producer* is an event whose effect another task of the version may
 * observe, through the kernel or through a client that acts on it: a write of any kind (to an
 * eventfd or pipe between its threads, a reply to a client), a signal sent, a close or epoll_ctl in
 * a multi-threaded process (the list is order.c's). A producer takes its stamp before
 * the call runs (its effect comes after it), every other event after its call returned (what it
 * observed came before it); `prod` counts the producers stamped before (order_prod). The follower
 * takes an event only once order_done (the producers its tasks have taken, in producer order)
 * reaches the event's `prod`: whatever another task did that could have caused it, the follower's
 * task for it did first. Producers are thus taken in the leader's producer order; the rest of the
 * events in any order that respects it. */

/* What a follower thread is doing, for crash reports (written before each decision). */
typedef struct mvr_fcall {
  uint32_t nr;
  uint32_t valid;
  int64_t args[6];
  uint64_t event; /* next leader event the follower's matcher looks at */
} mvr_fcall;

enum mvr_report_kind {
  MVR_REPORT_NONE = 0,
  MVR_REPORT_DIVERGE = 1,          /* irreconcilable divergence */
  MVR_REPORT_EXPECTED_DIVERGE = 2, /* a `diverge "reason"` rule */
  MVR_REPORT_UNSUPPORTED = 3,      /* something the v1 runtime cannot follow (new processes, exec) */
  MVR_REPORT_INTERNAL = 4,         /* the follower's agent failed (ring, rules module, descriptors) */
  MVR_REPORT_CRASH = 5,            /* a fault (SIGSEGV...) whose handler then diverged (a crash report) */
};

/* The role switch (promotion, rollback from the updated-leader stage, failover after a leader
 * crash), for every thread of the program. The monitor sets REQ (and kicks each leader thread that
 * is inside a recorded call with SIGSYS, so that a blocking call returns). A leader thread marks
 * itself `in_call` (seq_cst) before it checks the state at a recorded call's entry, and clears the
 * mark once the call's record is published: so once REQ is set, no thread can slip an event past
 * the cut unseen. Each leader thread stops at its next recorded entry (leader_paused); one that is
 * in no recorded call (blocked in a local call such as futex) is already at the cut. The follower
 * agent, once no leader thread is inside a recorded call and every ring's events are consumed,
 * moves REQ -> SWITCHING, becomes the leader (every ring restarts at event #0), bumps switch_gen and
 * sets DONE. Its other threads, and the old leader's (following with back_rules when old_follows,
 * else killed), take their new role at their next call (switch_gen against the one they applied).
 * ABORT (set by the monitor, only from REQ): the leader's threads resume. */
enum mvr_promote {
  MVR_PROMOTE_NONE = 0,
  MVR_PROMOTE_REQ = 1,
  MVR_PROMOTE_SWITCHING = 2,
  MVR_PROMOTE_DONE = 3,
  MVR_PROMOTE_ABORT = 4
};

/* ringctl in_call while a leader thread records a signal it handles outside a call. */
#define MVR_IN_CALL_SIGNAL 0xffffffffu

/* Exit status a follower uses after writing a report, so that the monitor tells it from a crash. */
#define MVR_FOLLOWER_REPORT_EXIT 86

/* Task pairs: the main threads share ring 0; a leader task creation takes a free ring and names it
 * in its event (MVR_RECF_RING), and the follower's matching creation takes the same one. A ring is
 * free again once its pair ended: the leader's task recorded its end (leader_eof) and the
 * follower's matched its own (follower_exited), or no follower is attached; never while the
 * journal is kept (a later version replays every ring from its event #0). `nrings` (--max-tasks)
 * bounds the pairs alive at once, MVR_MAX_RINGS the flag. */
#define MVR_MAX_RINGS 1024
#define MVR_DEFAULT_RINGS 16

/* One ring's control words. */
typedef struct mvr_ringctl {
  /* Written by the leader thread. */
  _Alignas(64) volatile uint64_t head; /* bytes published */
  volatile uint64_t events;            /* events published */
  volatile uint32_t head_seq;          /* futex word: bumped when publishing and the follower waits */
  volatile uint32_t leader_eof;        /* 1: this leader thread (or the process) records no more */
  volatile uint32_t leader_waiting;    /* 1 while the leader waits on tail_seq */
  volatile uint64_t leader_want;       /* free bytes the waiting leader wants before it is woken */
  volatile uint32_t in_use;            /* 1 once a leader thread owns this ring (set by the leader) */
  volatile uint64_t leader_wait_ns;    /* total time the leader spent waiting for space */
  volatile uint32_t gen;               /* times the ring was taken by a task pair (the monitor tells pairs apart) */
  volatile int32_t leader_tgid;        /* the leader process whose task records here */
  volatile uint32_t in_call;           /* syscall nr + 1 while the leader thread is inside a recorded call */
  volatile int32_t leader_tid;         /* the leader thread's tid (the monitor kicks it at a role switch) */
  volatile uint32_t process;           /* 1: the leader's task on this ring is a child process, not a thread */

  /* Written by the follower thread. */
  _Alignas(64) volatile uint64_t tail; /* bytes released */
  volatile uint64_t consumed;          /* leader events decided (the matcher's low water) */
  volatile uint32_t tail_seq;          /* futex word: bumped when releasing and the leader waits */
  volatile uint32_t follower_waiting;  /* 1 while the follower waits on head_seq */
  volatile uint64_t follower_calls;    /* follower syscalls handled */
  volatile int32_t follower_pid;       /* the follower process following this ring, when not the first */
  volatile uint32_t follower_exited;   /* 1: that process matched the leader's exit_group and exited */
  volatile uint32_t last_rule;         /* the rule of the follower's last decision (0xffffffff: default) */
  volatile int32_t follower_tgid;      /* the follower process whose task follows this ring */
  volatile uint32_t in_local;          /* 1 while the follower thread is in a blocking call it executes itself */
  volatile uint64_t order_wait;        /* 1 + the producer it waits for (order_done), 0: not waiting (reports) */
  volatile uint64_t order_need;        /* the order_done it waits for (0: none): who to wake (order.c) */
  volatile uint32_t order_futex;       /* futex word it sleeps on meanwhile */
  mvr_fcall fcur;                      /* the follower's current call */
} mvr_ringctl;

typedef struct mvr_shared {
  uint32_t magic, version;
  uint64_t data_size;    /* bytes in each ring's data area; ring r's data follows the header at r * data_size */
  uint64_t max_buf;      /* per-buffer recording cap */
  uint32_t ring_wait_ms; /* the longest the leader waits for ring space before giving up on the follower */
  uint32_t nrings;

  volatile uint32_t overflow;         /* 1: the leader gave up on the follower (ring full, descriptor channel) */
  volatile int32_t fd_error;          /* errno of a failed descriptor send */
  volatile uint32_t leader_threads;   /* threads and processes the leader created (followed or not) */
  volatile uint32_t follower_threads; /* threads and processes the follower created */
  volatile uint32_t leader_started;   /* set by the leader's agent at start-up */
  volatile uint32_t ring_lock;        /* taken by a leader task claiming a ring (tasks.c) */

  /* The follower's report before it exits with MVR_FOLLOWER_REPORT_EXIT. */
  volatile uint32_t report_kind;  /* enum mvr_report_kind */
  volatile uint32_t report_rule;  /* rule index, or 0xffffffff for the default */
  volatile uint64_t report_event; /* leader event index of the report */
  volatile uint32_t report_ring;  /* the thread pair */
  char report[MVR_REPORT_MAX];    /* NUL-terminated, multi-line, strace-like */

  /* Written by the monitor. */
  _Alignas(64) volatile uint32_t follower_attached; /* 0: the leader stops recording at once */

  /* Live update (docs/lifecycle.md). */
  volatile uint32_t lifecycle;              /* 1: the monitor takes update/promote/commit/rollback (informative) */
  volatile uint32_t journal_valid;          /* 1: ring data holds every leader event from #0 (nothing released) */
  volatile uint64_t journal_limit;          /* bytes of a ring the journal may use; past it journal_valid = 0 */
  volatile uint64_t journal_end;            /* ring 0's event count when the journal bound was exceeded */
  volatile uint32_t promote_state;          /* enum mvr_promote: the role switch handshake */
  volatile uint32_t leader_paused;          /* set by the leader agent while it waits at a syscall entry */
  volatile uint32_t old_follows;            /* at the switch: the paused leader becomes the follower (else retired) */
  volatile uint32_t journal_ended_by_tasks; /* the journal ended because a ring was reused (tasks.c) */
  volatile uint32_t leader_dead;            /* failover: the leader is gone, no thread of it is at a call */
  volatile uint32_t switch_gen;             /* role switches done (the follower bumps it as it takes over) */
  volatile uint64_t switch_event;           /* ring 0 events the follower had consumed when it took over */
  volatile uint64_t pause_start_ns;         /* CLOCK_MONOTONIC when the leader paused for the switch */
  volatile uint64_t pause_ns;               /* how long it was paused until the follower took over */
  volatile uint64_t catch_target;           /* ring 0 events a replaying follower must consume to catch up */
  volatile uint64_t catch_done_ns;          /* CLOCK_MONOTONIC when it had (written by the follower) */
  char back_rules[1024];                    /* rules module (or "") for the paused leader once it follows */

  /* Handoff (docs/handoff.md, "Under multi-version execution"). */
  volatile uint32_t dsu_pending;   /* the monitor wrote a request on the leader's DSU channel */
  volatile uint32_t handoff_point; /* the leader's agent started a fresh stream for a handoff */
  /* 1 while a new version loads handed-off state or replays the journal, until it has consumed
   * the backlog that built up meanwhile: a full ring then retires it at once, since waiting
   * would pause the leader's clients for a follower that is not consuming yet. */
  volatile uint32_t follower_catching_up;
  uint32_t split_events; /* set by the monitor when a follower may run: the leader splits large buffers */

  /* Order across tasks (above): the leader's counters, and the producers the follower took. Both
   * start again with a fresh stream (ring_restart) and for a new follower (from event #0). */
  _Alignas(64) volatile uint64_t order_seq;  /* leader: events stamped */
  volatile uint64_t order_prod;              /* leader: producers stamped */
  _Alignas(64) volatile uint64_t order_done; /* follower: producers taken (all below it) */
  volatile uint32_t order_waiters;           /* follower tasks waiting for order_done (each: ring order_need) */

  mvr_ringctl ring[MVR_MAX_RINGS];

  /* The journal on disk (docs/lifecycle.md, "The journal"): an updatable single leader's rings are
   * a sparse file in the state directory, not memory. A write through the mapping to a block the
   * filesystem has not allocated would raise SIGBUS in the leader (a full disk), so every ring is
   * allocated (fallocate) ahead of its head by the leader's agent, and a ring is written only
   * below its journal_alloc (plus an 8-byte PAD header at it: MVR_JOURNAL_SLACK more is allocated).
   * When no more can be allocated (--journal-size, or --journal-min-free of the filesystem), the
   * journal ends as at its bound, each ring is given ring_floor (if the disk has it), and goes on
   * as an ordinary ring over what it has: it wraps at its journal_alloc (a PAD record to the end
   * of the data area). */
  uint32_t journal_file;                          /* 1: the rings are that file (else a memfd: all writable) */
  volatile uint32_t journal_ended_by_space;       /* the journal ended: its filesystem had no room (min free) */
  uint64_t ring_floor;                            /* bytes a ring gets when first used: its size past the journal */
  uint64_t journal_min_free;                      /* bytes of its filesystem the journal leaves free */
  volatile uint64_t journal_alloc[MVR_MAX_RINGS]; /* ring k: positions [0, alloc) are allocated in the file */
} mvr_shared;

#define MVR_JOURNAL_SLACK 4096u
/* The largest data area: a PAD record runs to the area's end and its size is 32 bits. */
#define MVR_RING_MAX 0xfffff000ull
#define MVR_JOURNAL_FIRST (1u << 20) /* a ring's first allocation while the journal lasts */

_Static_assert(sizeof(mvr_shared) <= MVR_HDR_SIZE, "header must fit its page(s)");

static inline uint64_t mvr_align8(uint64_t n) { return (n + 7u) & ~(uint64_t)7u; }

/* A ring's follower side from the stream's start: nothing released, consumed or called. The one
 * place that knows these fields (a new follower, a reused ring, a role switch all start here);
 * the futex words keep counting, since a sleeper compares them. */
static inline void mvr_ringctl_restart_follower(mvr_ringctl *rc) {
  rc->tail = 0;
  rc->consumed = 0;
  rc->follower_calls = 0;
  rc->follower_exited = 0;
  rc->fcur.valid = 0;
}

/* A fresh stream: no event published, and the follower side from its start. */
static inline void mvr_ringctl_restart_stream(mvr_ringctl *rc) {
  rc->head = 0;
  rc->events = 0;
  rc->leader_eof = 0;
  mvr_ringctl_restart_follower(rc);
}

/* The environment variables the monitor sets for the agents (MVR_ENV_*) and MVR_FD_BASE (the
 * runtime's own descriptors sit at or above it, the same numbers in both versions) are in the
 * generated mvr_abi.h, shared with the TypeScript side. */

/* Descriptor channel (a SOCK_SEQPACKET pair, leader -> follower): for every leader event that
 * creates descriptors, messages carrying them (SCM_RIGHTS) and the numbers they have in the
 * leader, so the follower installs the same kernel objects under the same numbers. An event that
 * creates more than MVR_FDMSG_FDS (a recvmsg or recvmmsg passing many with SCM_RIGHTS: up to the
 * kernel's SCM_MAX_FD, 253, per message) sends them in several messages, all but the last with
 * `more` set. Sent before the event is published, so the follower never waits for a message that
 * is not on its way. */
#define MVR_FDMSG_FDS 8
typedef struct mvr_fdmsg {
  uint64_t event;
  uint32_t ring;
  uint32_t n;
  int32_t fds[MVR_FDMSG_FDS];
  uint32_t more; /* another message of the same event follows */
  uint32_t pad;
} mvr_fdmsg;

/* A descriptor message with this ring number carries no descriptor: the leader started a fresh
 * stream (a handoff), so every message before it belongs to the old one. */
#define MVR_FDMSG_RESET 0xffffffffu

#endif /* MVR_RING_H */
