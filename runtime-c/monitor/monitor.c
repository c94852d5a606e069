/* mvr-monitor — starts the leader and the follower, owns the shared ring and the control socket,
 * and retires the follower on a crash, a hang, a divergence or a full ring. It never sits on the
 * syscall path: the agents in both processes talk through the ring.
 *
 *   mvr-monitor --agent SO [--rules SO] [--back SO] [--control SOCK] [--follower-log FILE] [--state-dir DIR]
 *               [--state replay|handoff] [--ring-size BYTES] [--journal-size BYTES] [--deadline-ms N] [--leader-env K=V]...
 *               [--follower-env K=V]... -- LEADER_CMD... [::: FOLLOWER_CMD...]
 *   mvr-monitor --agent SO --record TRACE [--ring-size BYTES] [--leader-env K=V]... -- CMD...
 *
 * Exit status: the leader's (128+N when it was killed by signal N); 2 for a usage/environment error.
 *
 * --record (`mvrc record`): the leader runs alone under the agent and records as if a follower
 * were attached; the monitor itself consumes every ring and writes the events to TRACE in the
 * JSON-lines trace format (docs/traces.md). See "recording" below.
 *
 * Lifecycle: the monitor is the parent of both processes and learns of a crash or an exit from
 * SIGCHLD at once (signalfd + waitpid); the follower's own child processes (fork pairs) are
 * watched through pidfds, and the monitor is a child subreaper so orphans are reaped. It does not
 * ptrace them: under PTRACE_SEIZE every signal, including the SIGSYS that syscall user dispatch
 * raises for each syscall, stops the tracee for the tracer (a signal-delivery-stop: measured here,
 * 1000 of 1000 trapped syscalls, ~10 us each instead of ~1-2 us), which would put the monitor on
 * the syscall path. New threads and processes arm SUD themselves (agent/trampoline.S).
 *
 * Live update (docs/lifecycle.md): with --agent and --control the leader runs under the agent even
 * alone (stage `single leader`), journaling its events; the control socket takes update, promote,
 * commit and rollback. Descriptors travel through the monitor (a relay: leader -> monitor ->
 * follower), which keeps those of the journal so that a replaying follower gets them again. */
#include <sys/resource.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "mvr_rules.h"
#include "mvr_ring.h"
#include "mvr_decode.h"
#include "mvr_params.h"
#include "mvr_util.h"

#define MAX_ENV 64
#define MAX_RETIRE 16
#define MAX_CLIENTS 8
#define UPDATABLE_RING_SIZE (64ull << 20)
#define RECORD_WAIT_MS 60000u

typedef struct options {
  const char *agent, *rules, *back, *control, *follower_log, *state_dir;
  const char *record; /* --record TRACE: write the leader's events there, no follower */
  uint64_t ring_size, journal_size;
  int ring_size_given;
  uint32_t deadline_ms;
  const char *state; /* how `update` brings the new version's state up to date by default */
  const char *leader_env[MAX_ENV], *follower_env[MAX_ENV];
  int n_leader_env, n_follower_env;
  char **leader_argv, **follower_argv;
} options;

typedef struct retirement {
  int pid;
  const char *reason; /* crash, hang, divergence, expected-divergence, unsupported, ring-full, runtime-error, leader-exited */
  uint64_t event;
  char *detail;
} retirement;

enum proc_state { P_NONE, P_RUNNING, P_EXITED, P_RETIRED, P_FINISHED };

static options opt;
static mvr_shared *shm;
static uint8_t *ring_data;
static int leader_pid = -1, follower_pid = -1;
static enum proc_state leader_state = P_NONE, follower_state = P_NONE;
static int leader_status;
static retirement retired[MAX_RETIRE];
static int n_retired;
static sigset_t orig_mask;

/* ---- live update state ------------------------------------------------------------------------- */
static int lifecycle; /* the leader runs under the agent and may be updated (--agent and --control) */
enum stage { ST_SINGLE, ST_OUTDATED, ST_UPDATED };
static enum stage stage;
static const char *const stage_names[] = {"single leader", "outdated leader", "updated leader"};
static int leader_version = 1, follower_version, next_version = 2;
static const char *follower_rules;   /* the rules the follower runs (for reports) */
static char *upd_rules, *upd_back;  /* the current update's forward and backward rules */
static char **upd_argv;              /* the current update's new-version command */
static char **upd_env;
static int upd_n_env;
static int upd_retries, upd_attempt;
static int upd_handoff;              /* the current update brings the state by handoff, not replay */
enum { HO_NONE, HO_REQUESTED, HO_LOADING, HO_FOLLOWING };
static int ho_state;                 /* the handoff's progress (see start_handoff) */
static char ho_error[512];           /* what the new version reported before it ended */
static uint64_t upd_retry_at;        /* when to start the next attempt (ms), 0: none */
static uint64_t catch_start_ms, catch_target, catch_done_ms, catch_events;
static uint64_t catch_start_ns, catch_rate;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static int catch_active;
/* shm->follower_catching_up is set while the new version loads or replays; once it has, the
 * leader's event count at that moment is the backlog it still has to consume before the flag
 * is cleared (0 while it is still loading or replaying). */
static uint64_t backlog_mark;

static void set_catching_up(int on) {
  backlog_mark = 0;
  __atomic_store_n(&shm->follower_catching_up, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

/* The role switch in progress. */
enum op { OP_NONE, OP_PROMOTE, OP_ROLLBACK, OP_FAILOVER };
static enum op switch_op;
static uint64_t switch_t0;
static uint64_t switch_asked;        /* when the switch was asked for (ms) */
static int switch_requested;         /* REQ was set (after the follower came close enough) */
static int switch_client = -1;       /* the control client waiting for the switch's answer */

typedef struct tl_entry {
  uint64_t ms; /* wall clock */
  const char *event;
  char *reason;
  enum stage stage;
} tl_entry;
static tl_entry *timeline;
static size_t n_timeline, cap_timeline;
static void tl_add(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void usage(const char *msg) {
  mvr_die("%s\nusage: mvr-monitor --agent SO [--rules SO] [--back SO] [--control SOCK] [--follower-log FILE] "
          "[--state-dir DIR] [--ring-size BYTES] [--journal-size BYTES] [--deadline-ms N] [--leader-env K=V]... "
          "[--follower-env K=V]... -- LEADER_CMD... [::: FOLLOWER_CMD...]\n"
          "       mvr-monitor --agent SO --record TRACE [--ring-size BYTES] [--leader-env K=V]... -- CMD...",
          msg);
}

static uint64_t parse_num(const char *flag, const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s expects a number, got '%s'", flag, s);
    usage(msg);
  }
  return v;
}

static void parse_args(int argc, char **argv) {
  opt.ring_size = 16u << 20;
  opt.journal_size = 64u << 20;
  opt.deadline_ms = 3000;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (i + 1 >= argc) usage("an option lacks its value");
    const char *v = argv[++i];
    if (!strcmp(a, "--agent")) opt.agent = v;
    else if (!strcmp(a, "--rules")) opt.rules = v;
    else if (!strcmp(a, "--back")) opt.back = v;
    else if (!strcmp(a, "--journal-size")) opt.journal_size = parse_num(a, v);
    else if (!strcmp(a, "--state")) {
      if (strcmp(v, "replay") && strcmp(v, "handoff")) usage("--state expects replay or handoff");
      opt.state = v;
    }
    else if (!strcmp(a, "--control")) opt.control = v;
    else if (!strcmp(a, "--record")) opt.record = v;
    else if (!strcmp(a, "--follower-log")) opt.follower_log = v;
    else if (!strcmp(a, "--state-dir")) opt.state_dir = v;
    else if (!strcmp(a, "--ring-size")) opt.ring_size = parse_num(a, v), opt.ring_size_given = 1;
    else if (!strcmp(a, "--deadline-ms")) opt.deadline_ms = (uint32_t)parse_num(a, v);
    else if (!strcmp(a, "--leader-env") || !strcmp(a, "--follower-env")) {
      int lead = a[2] == 'l';
      if (!strchr(v, '=')) usage("--leader-env/--follower-env expect K=V");
      if ((lead ? opt.n_leader_env : opt.n_follower_env) >= MAX_ENV) usage("too many environment settings");
      if (lead) opt.leader_env[opt.n_leader_env++] = v;
      else opt.follower_env[opt.n_follower_env++] = v;
    } else {
      char msg[256];
      snprintf(msg, sizeof msg, "unknown option '%s'", a);
      usage(msg);
    }
  }
  if (i >= argc) usage("no leader command");
  opt.leader_argv = &argv[i];
  for (int j = i; j < argc; j++) {
    if (!strcmp(argv[j], ":::")) {
      argv[j] = NULL;
      if (j + 1 >= argc) usage("no follower command after ':::'");
      opt.follower_argv = &argv[j + 1];
      break;
    }
  }
  if (!opt.leader_argv[0]) usage("no leader command");
  if (opt.follower_argv && !opt.agent) usage("--agent is required with a follower");
  if (opt.record && !opt.agent) usage("--record needs --agent");
  if (opt.record && (opt.follower_argv || opt.control || opt.state || opt.rules || opt.back))
    usage("--record records a single program: no follower, --control, --state, --rules or --back");
  if (opt.ring_size < (1u << 16)) usage("--ring-size must be at least 65536");
  opt.ring_size = (opt.ring_size + 4095) & ~(uint64_t)4095;
  if (opt.deadline_ms == 0) usage("--deadline-ms must be positive");
}

/* ---- shared memory ----------------------------------------------------------------------------- */

/* Moves a descriptor to MVR_FD_BASE or above (same number in both children), close-on-exec: each
 * child clears the flag on the descriptors it keeps. */
static int high_fd(int fd) {
  int h = fcntl(fd, F_DUPFD_CLOEXEC, MVR_FD_BASE);
  if (h < 0) mvr_die_errno("fcntl(F_DUPFD)");
  close(fd);
  return h;
}

/* ---- descriptor relay --------------------------------------------------------------------------
 * Each process has its own channel (a SOCK_SEQPACKET pair) to the monitor. The leader's agent sends
 * the descriptors of each event on its channel; the monitor queues them and forwards them, in
 * order, on the follower's channel. While the journal lasts the queue is kept whole (the monitor
 * holds those descriptors), so a follower started later replays them from event #0. */

static int leader_chan = -1, follower_chan = -1; /* the monitor's ends */
/* Each version's handoff control channel (runtime-c/dsu, MVR_DSU_CTL_FD): the monitor's end, and
 * the number the version's end has in that process. */
static int leader_dsu = -1, follower_dsu = -1;
static int leader_chan_no = -1, follower_chan_no = -1, leader_dsu_no = -1, follower_dsu_no = -1;
static void close_follower_dsu(void);
typedef struct jfd {
  mvr_fdmsg m;
  int fds[2];
} jfd;
static jfd *jq;
static size_t jq_n, jq_cap, jq_fwd;
static int jq_keep; /* the queue is the journal's */
static int placeholder_fd = -1; /* sent instead of a journal descriptor the leader already closed */
static uint64_t jscan_pos;      /* ring 0 position up to which close events were looked at */

/* While the journal is kept, the monitor would hold every descriptor the leader ever created (and
 * a connection the leader closed would never be shut down): when the leader closes one, the
 * monitor drops its copy and a replaying follower gets a placeholder (/dev/null) in its place,
 * which it closes at the same event. */
static void relay_read(void);

static void journal_scan_closes(void) {
  if (!jq_keep || !shm->journal_valid) return;
  uint64_t head = __atomic_load_n(&shm->ring[0].head, __ATOMIC_ACQUIRE);
  /* The agent sends an event's descriptors before it publishes the event: once the head is read,
   * draining the channel queues the descriptors of every event up to it. */
  relay_read();
  while (jscan_pos < head) {
    const mvr_rec *r = (const mvr_rec *)(ring_data + jscan_pos % shm->data_size);
    if (r->size < sizeof(mvr_rec) || r->size > shm->data_size || r->kind == MVR_REC_PAD) return; /* journal over */
    if (r->kind == MVR_REC_EVENT && r->nr == SYS_close && r->ret == 0) {
      int fd = (int)r->args[0];
      int done = 0;
      /* The descriptor this close ends is the newest one with that number created BEFORE it: a
       * later connection may already have been given the same number (and be queued). */
      for (size_t i = jq_n; i-- > 0 && !done;) {
        if (jq[i].m.ring != 0 || jq[i].m.event >= r->index) continue;
        for (unsigned k = 0; k < jq[i].m.n && k < 2; k++) {
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

static void big_buffers(int fd) {
  /* Room for many descriptors in flight while the follower lags (root may exceed wmem_max). */
  int big = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

/* A new channel: returns the monitor's end; *child gets the process's end (both close-on-exec). */
static int new_channel(int *child) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) mvr_die_errno("socketpair");
  int m = high_fd(sv[0]);
  *child = high_fd(sv[1]);
  big_buffers(m);
  big_buffers(*child);
  return m;
}

static void jq_close(size_t i) {
  for (unsigned k = 0; k < jq[i].m.n && k < 2; k++)
    if (jq[i].fds[k] >= 0) close(jq[i].fds[k]);
}

/* Drops what is no longer needed: everything forwarded (or everything, without a follower),
 * unless the queue is the journal's. */
static void jq_trim(void) {
  if (jq_keep) return;
  size_t upto = follower_chan >= 0 ? jq_fwd : jq_n;
  if (!upto) return;
  for (size_t i = 0; i < upto; i++) jq_close(i);
  memmove(jq, jq + upto, (jq_n - upto) * sizeof *jq);
  jq_n -= upto;
  jq_fwd -= upto < jq_fwd ? upto : jq_fwd;
}

static void jq_drop_journal(void) {
  jq_keep = 0;
  jq_trim();
}

static void relay_read(void) {
  while (leader_chan >= 0) {
    if (jq_n == jq_cap) {
      jq_cap = jq_cap ? jq_cap * 2 : 256;
      jq = realloc(jq, jq_cap * sizeof *jq);
      if (!jq) mvr_die("out of memory");
    }
    jfd *e = &jq[jq_n];
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    struct iovec iov = {&e->m, sizeof e->m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
    ssize_t r = recvmsg(leader_chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) { /* the leader is gone */
      close(leader_chan);
      leader_chan = -1;
      return;
    }
    e->fds[0] = e->fds[1] = -1;
    unsigned n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (n > 2) n = 2;
      memcpy(e->fds, CMSG_DATA(c), n * sizeof(int));
    }
    if (e->m.ring == MVR_FDMSG_RESET) {
      /* The leader started a fresh stream (a handoff): the old one's descriptors are not needed. */
      for (unsigned k = 0; k < n; k++) close(e->fds[k]);
      for (size_t i = 0; i < jq_n; i++) jq_close(i);
      jq_n = jq_fwd = 0;
      jq_keep = 0;
      jscan_pos = 0;
      continue;
    }
    if ((mh.msg_flags & MSG_CTRUNC) || n != e->m.n) {
      /* The monitor could not take them (descriptor limit): the journal ends here. */
      for (unsigned k = 0; k < n; k++) close(e->fds[k]);
      if (__atomic_exchange_n(&shm->journal_valid, 0, __ATOMIC_SEQ_CST)) shm->journal_end = shm->ring[0].events;
      jq_drop_journal();
      __atomic_store_n(&shm->overflow, 1, __ATOMIC_SEQ_CST);
      shm->fd_error = EMFILE;
      return;
    }
    jq_n++;
  }
}

static void relay_forward(void) {
  while (follower_chan >= 0 && jq_fwd < jq_n) {
    jfd *e = &jq[jq_fwd];
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {&e->m, sizeof e->m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (e->m.n) {
      mh.msg_control = cm.buf;
      mh.msg_controllen = CMSG_SPACE(e->m.n * sizeof(int));
      struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(e->m.n * sizeof(int));
      int fds[2] = {e->fds[0] == -2 ? placeholder_fd : e->fds[0], e->fds[1] == -2 ? placeholder_fd : e->fds[1]};
      memcpy(CMSG_DATA(c), fds, e->m.n * sizeof(int));
    }
    ssize_t r = sendmsg(follower_chan, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0) return; /* full (sent later) or the follower is gone */
    jq_fwd++;
  }
  jq_trim();
}

static int create_shm(void) {
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
  uint64_t total = MVR_HDR_SIZE + (uint64_t)MVR_MAX_RINGS * data_size;
  if (ftruncate(fd, (off_t)total) < 0) mvr_die_errno("ftruncate of the ring (%llu bytes)", (unsigned long long)total);
  void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) mvr_die_errno("mmap of the ring");
  shm = p;
  ring_data = (uint8_t *)p + MVR_HDR_SIZE;
  memset(shm, 0, sizeof *shm);
  shm->magic = MVR_SHM_MAGIC;
  shm->version = MVR_SHM_VERSION;
  shm->data_size = data_size;
  shm->max_buf = opt.ring_size / 16;
  /* A recording leader waits for the monitor's drain, which only the speed of the trace file
   * holds back: a full ring is worth a long wait there, as giving up loses events. */
  shm->ring_wait_ms = opt.record ? RECORD_WAIT_MS : opt.deadline_ms;
  shm->nrings = MVR_MAX_RINGS;
  shm->follower_attached = 1;
  return fd;
}

static void futex_wake(volatile uint32_t *w) { syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

/* Finds leader event `index` in ring `ring` (it is there when index >= the follower's low water). */
static const mvr_rec *find_event(unsigned ring, uint64_t index, mvr_event *ev) {
  mvr_ringctl *rc = &shm->ring[ring];
  uint64_t pos = rc->tail, head = rc->head, size = shm->data_size;
  const uint8_t *data = ring_data + (uint64_t)ring * size;
  while (pos < head) {
    const mvr_rec *r = (const mvr_rec *)(data + pos % size);
    if (r->size < 8 || r->size > size) return NULL;
    if (r->kind == MVR_REC_EVENT && r->index == index) {
      memset(ev, 0, sizeof *ev);
      ev->index = r->index;
      ev->nr = r->nr;
      ev->ret = r->ret;
      const uint8_t *p = (const uint8_t *)(r + 1);
      for (int i = 0; i < 6; i++) {
        ev->args[i] = r->args[i];
        ev->buf[i] = r->len[i] ? p : NULL;
        ev->buf_len[i] = r->len[i];
        p += mvr_align8(r->len[i]);
      }
      return r;
    }
    pos += r->size;
  }
  return NULL;
}

/* ---- processes --------------------------------------------------------------------------------- */

static void set_env_list(const char *const *list, int n) {
  for (int i = 0; i < n; i++) {
    char *kv = strdup(list[i]);
    char *eq = strchr(kv, '=');
    *eq = 0;
    setenv(kv, eq + 1, 1);
    free(kv);
  }
}

static int spawn(char **argv, int follower, int shm_fd, int log_fd, int chan, int dsu, const char *const *env, int n_env,
                 const char *rules) {
  pid_t pid = fork();
  if (pid < 0) mvr_die_errno("fork");
  if (pid) return pid;
  sigprocmask(SIG_SETMASK, &orig_mask, NULL);
  /* The user's settings first, so that a LD_PRELOAD among them is kept after the agent's. */
  set_env_list(env, n_env);
  if (dsu >= 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", dsu);
    setenv("MVR_DSU_CTL_FD", buf, 1);
    fcntl(dsu, F_SETFD, 0);
  }
  if (chan >= 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", shm_fd);
    setenv(MVR_ENV_SHM_FD, buf, 1);
    setenv(MVR_ENV_ROLE, follower ? "follower" : "leader", 1);
    int mine = chan;
    snprintf(buf, sizeof buf, "%d", mine);
    setenv(MVR_ENV_FDSOCK, buf, 1);
    fcntl(shm_fd, F_SETFD, 0);
    fcntl(mine, F_SETFD, 0);
    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
      /* The agent first: its time functions must win; the user's own preloads stay. */
      size_t n = strlen(opt.agent) + strlen(old) + 2;
      char *pre = malloc(n);
      if (!pre) _exit(127);
      snprintf(pre, n, "%s:%s", opt.agent, old);
      setenv("LD_PRELOAD", pre, 1);
    } else {
      setenv("LD_PRELOAD", opt.agent, 1);
    }
    if (follower) setenv(MVR_ENV_RULES, rules ? rules : "", 1);
    else unsetenv(MVR_ENV_RULES);
  }
  if (follower) {
    /* Its own process group: a terminal's ^C reaches the leader (which records it), not the follower. */
    setpgid(0, 0);
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0 && nul != 0) {
      dup2(nul, 0);
      close(nul);
    }
    dup2(log_fd, 1);
    dup2(log_fd, 2);
  }
  execvp(argv[0], argv);
  fprintf(stderr, "mvr-monitor: cannot run '%s': %s\n", argv[0], strerror(errno));
  _exit(127);
}

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < b->cap - b->n) {
      b->n += (size_t)k;
      return;
    }
    b->cap = b->cap * 2 + (size_t)(k > 0 ? k : 64);
    b->p = realloc(b->p, b->cap);
    if (!b->p) mvr_die("out of memory");
  }
}

static void sb_json_str(sbuf *b, const char *s) {
  sb_add(b, "\"");
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') sb_add(b, "\\%c", c);
    else if (c == '\n') sb_add(b, "\\n");
    else if (c < 32 || c >= 127) sb_add(b, "\\u%04x", c);
    else sb_add(b, "%c", c);
  }
  sb_add(b, "\"");
}

/* ---- reports ----------------------------------------------------------------------------------- */

static char *fmt_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_alloc(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s ? s : strdup("");
}

/* The text of rule `idx` of the rules module, for reports (the module is a data table to the
 * monitor: it is opened, never run). */
static void rule_text(char *out, size_t cap, uint32_t idx) {
  static void *mod;
  static const char *loaded;
  static const mvr_rule_info *info;
  static const uint32_t *count;
  if (idx == MVR_RULE_DEFAULT) {
    snprintf(out, cap, "default rule (a syscall matches itself)");
    return;
  }
  if (loaded != follower_rules) { /* the follower's rules changed (an update, a promotion) */
    if (mod) dlclose(mod);
    mod = NULL;
    info = NULL;
    count = NULL;
    loaded = follower_rules;
  }
  if (!mod && follower_rules && *follower_rules) {
    mod = dlopen(follower_rules, RTLD_LAZY | RTLD_LOCAL);
    if (mod) {
      info = dlsym(mod, "mvr_rules_info");
      count = dlsym(mod, "mvr_rules_count");
    }
  }
  if (info && count && idx < *count)
    snprintf(out, cap, "%s:%u:%u: %s", info[idx].file, info[idx].line, info[idx].column, info[idx].text ? info[idx].text : "");
  else
    snprintf(out, cap, "rule #%u", idx);
}

/* Per thread pair: the leader event the follower was at, and its last call, strace-like. */
static char *context_lines(void) {
  sbuf b = {malloc(256), 0, 256};
  b.p[0] = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (!rc->in_use) continue;
    char lev[1024] = "(no longer in the ring)", fcall[1024] = "(none yet)";
    uint64_t event = rc->consumed;
    /* The leader may not have recorded the follower's next event yet: give it a moment, so that
     * the report can name it. */
    for (int i = 0; i < 40 && event >= rc->events && !rc->leader_eof && leader_state == P_RUNNING; i++) {
      struct timespec ms5 = {0, 5000000};
      nanosleep(&ms5, NULL);
    }
    mvr_event ev;
    const mvr_rec *r = find_event(k, event, &ev);
    if (r) mvr_format_event(lev, sizeof lev, &ev, !(r->flags & MVR_RECF_NORET));
    else if (event >= rc->events) snprintf(lev, sizeof lev, "(not recorded yet: the leader has %llu events)", (unsigned long long)rc->events);
    if (rc->fcur.valid) {
      mvr_call c;
      memset(&c, 0, sizeof c);
      c.nr = rc->fcur.nr;
      for (int i = 0; i < 6; i++) c.args[i] = rc->fcur.args[i];
      mvr_format_call(fcall, sizeof fcall, &c);
    }
    char rule[512] = "(no decision yet)";
    if (rc->follower_calls) rule_text(rule, sizeof rule, rc->last_rule);
    if (k) sb_add(&b, "  task pair #%u:\n", k);
    sb_add(&b, "  leader:   %s (event #%llu)\n  follower: %s (its last syscall, #%llu)\n  rule:     %s (its last decision)\n",
           lev, (unsigned long long)event, fcall, (unsigned long long)rc->follower_calls, rule);
  }
  return b.p;
}

static uint64_t total_events(void) {
  uint64_t n = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) n += shm->ring[k].events;
  return n;
}
static uint64_t total_consumed(void) {
  uint64_t n = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) n += shm->ring[k].consumed;
  return n;
}

static void follower_gone(const char *why, int failure);

static void add_retirement(const char *reason, uint64_t event, char *detail) {
  if (n_retired < MAX_RETIRE) {
    retired[n_retired].pid = follower_pid;
    retired[n_retired].reason = reason;
    retired[n_retired].event = event;
    retired[n_retired].detail = detail;
    n_retired++;
  }
  fprintf(stderr, "mvr-monitor: follower (pid %d) retired: %s at leader event #%llu\n%s", follower_pid, reason,
          (unsigned long long)event, detail);
  if (opt.follower_log) fprintf(stderr, "mvr-monitor: the follower's output is in %s\n", opt.follower_log);
  fflush(stderr);
  follower_gone(reason, 1);
}

/* Detach the follower: the leader stops recording and never waits for it again. */
static void detach_follower(void) {
  __atomic_store_n(&shm->follower_attached, 0, __ATOMIC_SEQ_CST);
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    __atomic_add_fetch(&shm->ring[k].tail_seq, 1, __ATOMIC_SEQ_CST);
    futex_wake(&shm->ring[k].tail_seq);
  }
}

static void retire(const char *reason, uint64_t event, char *detail) {
  detach_follower();
  if (follower_pid > 0) kill(-follower_pid, SIGKILL); /* its process group: its own child processes too */
  if (follower_state == P_RUNNING) {
    kill(follower_pid, SIGKILL);
    int st;
    while (waitpid(follower_pid, &st, 0) < 0 && errno == EINTR) {}
  }
  follower_state = P_RETIRED;
  add_retirement(reason, event, detail);
}

static void on_follower_exit(int st) {
  follower_state = P_EXITED;
  uint32_t kind = __atomic_load_n(&shm->report_kind, __ATOMIC_SEQ_CST);
  if (WIFEXITED(st) && WEXITSTATUS(st) == MVR_FOLLOWER_REPORT_EXIT && kind != MVR_REPORT_NONE) {
    static const char *const names[] = {"", "divergence", "expected-divergence", "unsupported", "runtime-error"};
    detach_follower();
    follower_state = P_RETIRED;
    add_retirement(kind < 5 ? names[kind] : "divergence", shm->report_event, fmt_alloc("  %s", shm->report));
    return;
  }
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    detach_follower();
    follower_state = P_RETIRED;
    char *ctx = context_lines();
    add_retirement("crash", shm->ring[0].consumed,
                   fmt_alloc("  the follower was killed by signal %d (%s)%s\n%s", sig, strsignal(sig),
                             WCOREDUMP(st) ? ", core dumped" : "", ctx));
    free(ctx);
    return;
  }
  if (ho_state == HO_LOADING) {
    /* A handoff's new version that ended before it followed: it could not load the state. */
    detach_follower();
    follower_state = P_RETIRED;
    add_retirement("load-failed", 0, fmt_alloc("  the new version exited with status %d before its first update point: %s\n",
                                               WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                                               ho_error[0] ? ho_error : "it sent no report (see its log)"));
    return;
  }
  if (!shm->ring[0].follower_exited) {
    /* It ended without matching the leader's exit: its agent could not start, or it was not
     * the program it should be. */
    detach_follower();
    follower_state = P_RETIRED;
    char *ctx = context_lines();
    add_retirement("runtime-error", shm->ring[0].consumed,
                   fmt_alloc("  the follower exited with status %d without reaching the leader's exit (see its log)\n%s",
                             WIFEXITED(st) ? WEXITSTATUS(st) : -1, ctx));
    free(ctx);
    return;
  }
  /* A normal exit: the agent matched the follower's exit against the leader's. Its child
   * processes (if any) may still be catching up with theirs: they are watched until they end. */
  follower_state = P_FINISHED;
}

static uint64_t last_consumed_k[MVR_MAX_RINGS], last_progress_k[MVR_MAX_RINGS];

static int child_pidfd[MVR_MAX_RINGS];

/* Follower processes other than the first (fork children) are not the monitor's children: their
 * end is seen through a pidfd, and their report through the shared header. */
static void check_follower_children(void) {
  uint32_t kind = __atomic_load_n(&shm->report_kind, __ATOMIC_SEQ_CST);
  if (kind != MVR_REPORT_NONE) {
    static const char *const names[] = {"", "divergence", "expected-divergence", "unsupported", "runtime-error"};
    retire(kind < 5 ? names[kind] : "divergence", shm->report_event, fmt_alloc("  %s", shm->report));
    return;
  }
  for (unsigned k = 1; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (rc->follower_pid <= 0) continue;
    if (child_pidfd[k] < 0) continue; /* already ended and judged */
    if (!child_pidfd[k]) {
      int fd = (int)syscall(SYS_pidfd_open, rc->follower_pid, 0);
      child_pidfd[k] = fd < 0 ? -1 : fd; /* gone already (reaped): judge it now */
    }
    if (child_pidfd[k] > 0) {
      struct pollfd pf = {child_pidfd[k], POLLIN, 0};
      if (poll(&pf, 1, 0) != 1) continue;
      close(child_pidfd[k]);
      child_pidfd[k] = -1;
    }
    if (rc->follower_exited || __atomic_load_n(&shm->report_kind, __ATOMIC_SEQ_CST) != MVR_REPORT_NONE) continue;
    char *ctx = context_lines();
    retire("crash", rc->consumed, fmt_alloc("  the follower's child process %d (task pair #%u) ended without reaching its leader's exit\n%s",
                                            rc->follower_pid, k, ctx));
    free(ctx);
    return;
  }
}

/* Follower child processes still running (their pidfd not yet signalled). */
static int children_alive(void) {
  int n = 0;
  for (unsigned k = 1; k < MVR_MAX_RINGS; k++) n += child_pidfd[k] > 0 || (child_pidfd[k] == 0 && shm->ring[k].follower_pid > 0);
  return n;
}

static int follower_active(void) {
  return follower_state == P_RUNNING || (follower_state == P_FINISHED && children_alive());
}

static void check_progress(void) {
  if (!follower_active()) return;
  check_follower_children();
  if (!follower_active()) {
    if (follower_state == P_FINISHED) detach_follower();
    return;
  }
  uint64_t t = now_ms();
  if (__atomic_load_n(&shm->overflow, __ATOMIC_SEQ_CST)) {
    char *ctx = context_lines();
    if (shm->fd_error)
      retire("ring-full", shm->ring[0].consumed, fmt_alloc("  the leader could not pass a descriptor to the follower (%s): it fell behind by %llu events\n%s",
                                  strerror(shm->fd_error), (unsigned long long)(total_events() - total_consumed()), ctx));
    else if (__atomic_load_n(&shm->follower_catching_up, __ATOMIC_SEQ_CST))
      retire("ring-full", shm->ring[0].consumed,
             fmt_alloc("  the ring (%llu bytes) filled while the new version was still %s (%llu events behind); the leader does not "
                       "wait for a version that is not consuming yet. Start `mvrc run` with a larger --ring-size, or update when the load "
                       "is lighter\n%s",
                       (unsigned long long)shm->data_size, upd_handoff ? "loading the handed-off state" : "replaying the journal",
                       (unsigned long long)(total_events() - total_consumed()), ctx));
    else
      retire("ring-full", shm->ring[0].consumed, fmt_alloc("  a ring (%llu bytes) stayed full for %u ms: the follower fell behind by %llu events\n%s",
                                  (unsigned long long)shm->data_size, opt.deadline_ms,
                                  (unsigned long long)(total_events() - total_consumed()), ctx));
    free(ctx);
    return;
  }
  /* Per thread pair: no progress past the deadline while its leader thread moved on. */
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    uint64_t consumed = rc->consumed;
    if (consumed != last_consumed_k[k] || rc->events <= consumed || !last_progress_k[k]) {
      last_consumed_k[k] = consumed;
      last_progress_k[k] = t;
      continue;
    }
    if (t - last_progress_k[k] >= opt.deadline_ms) {
      if (ho_state == HO_LOADING) {
        retire("hang", consumed, fmt_alloc("  the new version did not finish loading the handed-off state within %u ms while the leader "
                                           "moved on (%llu events): a larger state needs a larger --deadline-ms\n",
                                           opt.deadline_ms, (unsigned long long)rc->events));
        return;
      }
      char *ctx = context_lines();
      retire("hang", consumed, fmt_alloc("  no progress for %llu ms while the leader moved on (task pair #%u: leader at event #%llu, follower at #%llu)\n%s",
                                         (unsigned long long)(t - last_progress_k[k]), k, (unsigned long long)rc->events,
                                         (unsigned long long)consumed, ctx));
      free(ctx);
      return;
    }
  }
}

/* ---- control socket ---------------------------------------------------------------------------- */

/* ---- live update: timeline, stages, role switches ----------------------------------------------- */

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void tl_add(const char *event, const char *fmt, ...) {
  if (n_timeline == cap_timeline) {
    cap_timeline = cap_timeline ? cap_timeline * 2 : 32;
    timeline = realloc(timeline, cap_timeline * sizeof *timeline);
    if (!timeline) mvr_die("out of memory");
  }
  va_list ap;
  va_start(ap, fmt);
  char *r = NULL;
  if (vasprintf(&r, fmt, ap) < 0) r = NULL;
  va_end(ap);
  timeline[n_timeline].ms = wall_ms();
  timeline[n_timeline].event = event;
  timeline[n_timeline].reason = r ? r : strdup("");
  timeline[n_timeline].stage = stage;
  n_timeline++;
  if (lifecycle) {
    fprintf(stderr, "mvr-monitor: %s: %s (stage: %s)\n", event, r ? r : "", stage_names[stage]);
    fflush(stderr);
  }
}

static void reply(int c, const char *s) {
  if (c < 0) return;
  size_t off = 0, total = strlen(s);
  while (off < total) {
    ssize_t k = write(c, s + off, total - off);
    if (k <= 0) break;
    off += (size_t)k;
  }
  close(c);
}

static void reply_error(int c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_error(int c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = NULL;
  if (vasprintf(&m, fmt, ap) < 0) m = NULL;
  va_end(ap);
  sbuf b = {malloc(256), 0, 256};
  sb_add(&b, "{\"ok\":false,\"error\":");
  sb_json_str(&b, m ? m : "error");
  sb_add(&b, ",\"stage\":\"%s\"}\n", stage_names[stage]);
  reply(c, b.p);
  free(b.p);
  free(m);
}

static void reply_ok(int c, const char *msg) {
  sbuf b = {malloc(256), 0, 256};
  sb_add(&b, "{\"ok\":true,\"message\":");
  sb_json_str(&b, msg);
  sb_add(&b, ",\"stage\":\"%s\",\"leaderPid\":%d,\"leaderVersion\":%d}\n", stage_names[stage], leader_pid, leader_version);
  reply(c, b.p);
  free(b.p);
}

/* Called once the follower is gone (retired on a fault, or ended by rollback/commit). */
static void handoff_ended(const char *why);

/* What the monitor holds for a follower that is gone: its channels, its queued descriptors, the
 * catch-up state. */
static void release_follower_side(void) {
  if (follower_chan >= 0) {
    close(follower_chan);
    follower_chan = -1;
  }
  close_follower_dsu();
  jq_trim();
  catch_active = 0;
  set_catching_up(0);
}

static void follower_gone(const char *why, int failure) {
  release_follower_side();
  if (switch_op == OP_PROMOTE || switch_op == OP_ROLLBACK) {
    uint32_t want = MVR_PROMOTE_REQ;
    __atomic_compare_exchange_n(&shm->promote_state, &want, MVR_PROMOTE_ABORT, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    futex_wake(&shm->promote_state);
    reply_error(switch_client, "the follower was retired during the switch (%s): nothing changed", why);
    switch_client = -1;
    switch_op = OP_NONE;
  }
  if (stage == ST_OUTDATED) {
    stage = ST_SINGLE;
    if (lifecycle && failure) {
      tl_add("rollback", "automatic: the new version (pid %d) was retired (%s); version %d leads alone with its state intact",
             follower_pid, why, leader_version);
      if ((!strcmp(why, "divergence") || !strcmp(why, "expected-divergence")) && upd_argv && upd_attempt <= upd_retries &&
          (upd_handoff || shm->journal_valid)) {
        upd_retry_at = now_ms() + 300;
        tl_add("retry", "attempt %d of %d in 300 ms", upd_attempt + 1, upd_retries + 1);
      }
    }
  } else if (stage == ST_UPDATED && failure) {
    tl_add("retire", "the old version (pid %d, following) was retired (%s): rollback is no longer possible; commit to finish",
           follower_pid, why);
  }
  handoff_ended(why); /* after the stage is settled: the waiting client is told it */
}

/* Ends the follower on request (rollback, commit): not a fault, so no retirement report. */
static void end_follower(void) {
  detach_follower();
  if (follower_pid > 0 && (follower_state == P_RUNNING || follower_state == P_FINISHED)) {
    kill(follower_pid, SIGKILL);
    int st;
    if (follower_state == P_RUNNING)
      while (waitpid(follower_pid, &st, 0) < 0 && errno == EINTR) {}
  }
  follower_state = P_RETIRED;
  release_follower_side();
}

static int shm_fd_g = -1;

static void reset_follower_side(void) {
  shm->report_kind = MVR_REPORT_NONE;
  shm->report[0] = 0;
  shm->follower_threads = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    rc->tail = 0; /* the journal: nothing was released */
    rc->consumed = 0;
    rc->follower_calls = 0;
    rc->follower_exited = 0;
    rc->follower_pid = 0;
    rc->follower_waiting = 0;
    rc->fcur.valid = 0;
    rc->last_rule = MVR_RULE_DEFAULT;
    last_consumed_k[k] = 0;
    last_progress_k[k] = 0;
    if (child_pidfd[k] > 0) close(child_pidfd[k]);
    child_pidfd[k] = 0;
  }
}

/* A handoff control channel (a stream socketpair): returns the monitor's end; *child gets the
 * process's end (both close-on-exec, at the runtime's numbers). */
static int new_dsu_channel(int *child) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) mvr_die_errno("socketpair");
  int m = high_fd(sv[0]);
  *child = high_fd(sv[1]);
  fcntl(m, F_SETFL, O_NONBLOCK);
  return m;
}

static void close_follower_dsu(void) {
  if (follower_dsu >= 0) close(follower_dsu);
  follower_dsu = -1;
  follower_dsu_no = -1;
}

/* Starts (or restarts) the current update's new version as the follower, replaying the journal. */
static void start_follower(void) {
  upd_attempt++;
  reset_follower_side();
  char logp[PATH_MAX];
  if (opt.follower_log) snprintf(logp, sizeof logp, "%s", opt.follower_log);
  else snprintf(logp, sizeof logp, "%s/mvr-follower-%d-v%d.log", opt.state_dir ? opt.state_dir : "/tmp", (int)getpid(), next_version);
  int log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  int child;
  follower_chan = new_channel(&child);
  jq_fwd = 0; /* the journal's descriptors first */
  __atomic_store_n(&shm->follower_attached, 1, __ATOMIC_SEQ_CST);
  follower_rules = upd_rules;
  int dsu_child;
  follower_dsu = new_dsu_channel(&dsu_child);
  follower_dsu_no = dsu_child;
  follower_chan_no = child;
  follower_pid = spawn(upd_argv, 1, shm_fd_g, log_fd, child, dsu_child, (const char *const *)upd_env, upd_n_env, upd_rules);
  close(child);
  close(dsu_child);
  close(log_fd);
  follower_state = P_RUNNING;
  follower_version = next_version;
  stage = ST_OUTDATED;
  catch_active = 1;
  set_catching_up(1);
  catch_start_ms = now_ms();
  catch_target = shm->ring[0].events;
  shm->catch_target = catch_target ? catch_target : 1;
  shm->catch_done_ns = 0;
  catch_start_ns = mono_ns();
  catch_done_ms = 0;
  catch_events = 0;
  tl_add("update", "attempt %d: version %d (pid %d, %s) follows version %d, replaying the journal from event #0 (%llu events so far); log: %s",
         upd_attempt, next_version, follower_pid, upd_argv[0], leader_version, (unsigned long long)catch_target, logp);
  relay_forward();
}

static int single_threaded(void) { return shm->leader_threads == 0 && shm->follower_threads == 0; }

/* The leader is paused only once the follower is this close (in events), so that the pause lasts
 * about as long as the follower takes to consume a few events. */
#define SWITCH_LAG 64

static void request_switch(void) {
  switch_requested = 1;
  switch_t0 = now_ms();
  __atomic_store_n(&shm->promote_state, MVR_PROMOTE_REQ, __ATOMIC_SEQ_CST);
  futex_wake(&shm->promote_state);
  if (switch_op != OP_FAILOVER && leader_pid > 0) kill(leader_pid, SIGSYS); /* out of a blocking call */
}

static void begin_switch(enum op op, int old_follows, const char *back, int client) {
  snprintf(shm->back_rules, sizeof shm->back_rules, "%s", back ? back : "");
  shm->old_follows = (uint32_t)old_follows;
  if (op != OP_FAILOVER) shm->leader_paused = 0;
  shm->pause_start_ns = 0;
  shm->pause_ns = 0;
  switch_op = op;
  switch_asked = now_ms();
  switch_client = client;
  switch_requested = 0;
  if (op == OP_FAILOVER || shm->ring[0].events - shm->ring[0].consumed <= SWITCH_LAG) request_switch();
}

/* The switch finished: the follower leads. */
static void finish_switch(void) {
  enum op op = switch_op;
  int old_pid = leader_pid, old_ver = leader_version, old_chan = leader_chan;
  enum proc_state old_state = leader_state;
  uint64_t pause = shm->pause_ns / 1000000u; /* measured by the agents */
  set_catching_up(0); /* the follower consumed every event before it took over */
  int old_dsu = leader_dsu, old_dsu_no = leader_dsu_no, old_chan_no = leader_chan_no;
  leader_pid = follower_pid;
  leader_state = P_RUNNING;
  leader_version = follower_version;
  leader_chan = follower_chan;
  leader_dsu = follower_dsu;
  leader_dsu_no = follower_dsu_no;
  leader_chan_no = follower_chan_no;
  for (size_t i = 0; i < jq_n; i++) jq_close(i); /* the old stream's descriptors */
  jq_n = jq_fwd = 0;
  jq_keep = 0;
  reset_follower_side();
  int old_alive = old_state == P_RUNNING;
  if (shm->old_follows && old_alive) {
    follower_pid = old_pid;
    follower_state = P_RUNNING;
    follower_version = old_ver;
    follower_chan = old_chan;
    follower_dsu = old_dsu;
    follower_dsu_no = old_dsu_no;
    follower_chan_no = old_chan_no;
    follower_rules = upd_back;
    __atomic_store_n(&shm->follower_attached, 1, __ATOMIC_SEQ_CST);
  } else {
    if (old_alive) {
      kill(old_pid, SIGKILL);
      int st;
      while (waitpid(old_pid, &st, 0) < 0 && errno == EINTR) {}
    }
    if (old_chan >= 0) close(old_chan);
    if (old_dsu >= 0) close(old_dsu);
    follower_dsu = -1;
    follower_dsu_no = -1;
    follower_pid = -1;
    follower_state = P_NONE;
    follower_version = 0;
    follower_chan = -1;
    __atomic_store_n(&shm->follower_attached, 0, __ATOMIC_SEQ_CST);
  }
  switch_op = OP_NONE;
  ho_state = HO_NONE; /* a handoff's new version that leads is an ordinary leader */
  char msg[512];
  if (op == OP_PROMOTE) {
    stage = ST_UPDATED;
    if (shm->old_follows)
      snprintf(msg, sizeof msg, "version %d (pid %d) leads; version %d (pid %d) follows with the backward rules (switched at event #%llu, leader paused %llu ms)",
               leader_version, leader_pid, old_ver, old_pid, (unsigned long long)shm->switch_event, (unsigned long long)pause);
    else
      snprintf(msg, sizeof msg, "version %d (pid %d) leads; version %d was retired (no backward rules; switched at event #%llu, leader paused %llu ms)",
               leader_version, leader_pid, old_ver, (unsigned long long)shm->switch_event, (unsigned long long)pause);
    tl_add("promote", "%s", msg);
  } else if (op == OP_ROLLBACK) {
    stage = ST_SINGLE;
    snprintf(msg, sizeof msg, "version %d (pid %d) leads alone again with its state; version %d retired (leader paused %llu ms)",
             leader_version, leader_pid, old_ver, (unsigned long long)pause);
    tl_add("rollback", "%s", msg);
  } else {
    stage = ST_SINGLE;
    snprintf(msg, sizeof msg, "version %d (pid %d) took over after consuming all %llu events of the dead leader",
             leader_version, leader_pid, (unsigned long long)shm->switch_event);
    tl_add("failover", "%s", msg);
  }
  reply_ok(switch_client, msg);
  switch_client = -1;
}

/* Called every loop turn while a switch is in progress. */
static void switch_progress(void) {
  if (switch_op == OP_NONE) return;
  uint32_t st = __atomic_load_n(&shm->promote_state, __ATOMIC_SEQ_CST);
  if (st == MVR_PROMOTE_DONE) {
    finish_switch();
    return;
  }
  if (!switch_requested) {
    uint64_t lag = shm->ring[0].events - shm->ring[0].consumed;
    if (lag <= SWITCH_LAG) {
      request_switch();
    } else if (now_ms() - switch_asked > opt.deadline_ms) {
      enum op op = switch_op;
      switch_op = OP_NONE;
      tl_add(op == OP_PROMOTE ? "promote" : "rollback", "not started: the follower stayed %llu events behind for %u ms; nothing changed",
             (unsigned long long)lag, opt.deadline_ms);
      reply_error(switch_client, "%s not started: the follower is %llu events behind the leader (more than %d for %u ms); nothing changed",
                  op == OP_PROMOTE ? "promote" : "rollback", (unsigned long long)lag, SWITCH_LAG, opt.deadline_ms);
      switch_client = -1;
    }
    return;
  }
  uint64_t waited = now_ms() - switch_t0;
  if (st == MVR_PROMOTE_REQ && !shm->leader_paused && leader_pid > 0 && switch_op != OP_FAILOVER) kill(leader_pid, SIGSYS);
  if (st == MVR_PROMOTE_REQ && waited > opt.deadline_ms) {
    uint32_t want = MVR_PROMOTE_REQ;
    if (!__atomic_compare_exchange_n(&shm->promote_state, &want, MVR_PROMOTE_ABORT, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
    futex_wake(&shm->promote_state);
    enum op op = switch_op;
    switch_op = OP_NONE;
    if (op == OP_FAILOVER) {
      tl_add("failover", "failed: the follower did not consume the dead leader's events within %u ms", opt.deadline_ms);
      char *ctx = context_lines();
      retire("leader-exited", shm->ring[0].consumed, fmt_alloc("  the leader crashed and the follower could not take over\n%s", ctx));
      free(ctx);
      return;
    }
    tl_add(op == OP_PROMOTE ? "promote" : "rollback", "aborted: the %s was %s after %llu ms; nothing changed",
           shm->leader_paused ? "follower" : "leader", shm->leader_paused ? "not caught up" : "not paused",
           (unsigned long long)waited);
    reply_error(switch_client, "%s aborted: the %s did not reach a consistent point within %u ms; nothing changed",
                op == OP_PROMOTE ? "promote" : "rollback", shm->leader_paused ? "follower" : "leader", opt.deadline_ms);
    switch_client = -1;
  }
}

/* ---- control socket ---------------------------------------------------------------------------- */

static const char *state_name(enum proc_state s, int follower) {
  switch (s) {
    case P_RUNNING: return follower ? "following" : "running";
    case P_EXITED: return "exited";
    case P_RETIRED: return "retired";
    case P_FINISHED: return "finished";
    default: return "none";
  }
}

static char *status_json(void) {
  sbuf b = {malloc(1024), 0, 1024};
  uint64_t used = 0;
  unsigned pairs = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    used += shm->ring[k].head - shm->ring[k].tail;
    if (shm->ring[k].in_use) pairs++;
  }
  const char *leads = stage == ST_OUTDATED ? "old" : stage == ST_UPDATED ? "new" : "single";
  sb_add(&b, "{\"stage\":\"%s\",\"leads\":\"%s\",\"leader\":{\"pid\":%d,\"state\":\"%s\",\"version\":%d},", stage_names[stage], leads,
         leader_pid, state_name(leader_state, 0), leader_version);
  if (follower_pid > 0)
    sb_add(&b, "\"follower\":{\"pid\":%d,\"state\":\"%s\",\"version\":%d},", follower_pid, state_name(follower_state, 1), follower_version);
  else
    sb_add(&b, "\"follower\":null,");
  uint64_t wait_ns = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) wait_ns += shm->ring[k].leader_wait_ns;
  sb_add(&b, "\"events\":{\"recorded\":%llu,\"consumed\":%llu},", (unsigned long long)total_events(), (unsigned long long)total_consumed());
  sb_add(&b, "\"threads\":%u,", pairs);
  sb_add(&b, "\"ring\":{\"size\":%llu,\"used\":%llu,\"leaderWaitMs\":%llu},", (unsigned long long)shm->data_size,
         (unsigned long long)used, (unsigned long long)(wait_ns / 1000000u));
  sb_add(&b, "\"journal\":{\"enabled\":%s,\"valid\":%s,\"limit\":%llu,\"used\":%llu,\"descriptors\":%llu,\"exceededAtEvent\":%llu,"
         "\"endedByHandoff\":%s},",
         lifecycle && opt.journal_size ? "true" : "false", shm->journal_valid ? "true" : "false", (unsigned long long)shm->journal_limit,
         (unsigned long long)(shm->journal_valid ? shm->ring[0].head : 0), (unsigned long long)(jq_keep ? jq_n : 0),
         (unsigned long long)shm->journal_end, shm->handoff_point ? "true" : "false");
  if (catch_target || catch_done_ms) {
    uint64_t ms = (catch_done_ms ? catch_done_ms : now_ms()) - catch_start_ms;
    uint64_t ev = catch_done_ms ? catch_events : (stage == ST_OUTDATED ? shm->ring[0].consumed : 0);
    uint64_t rate = catch_done_ms ? catch_rate : ms ? ev * 1000u / ms : ev;
    sb_add(&b, "\"catchUp\":{\"target\":%llu,\"done\":%s,\"ms\":%llu,\"eventsPerSec\":%llu},", (unsigned long long)catch_target,
           catch_done_ms ? "true" : "false", (unsigned long long)ms, (unsigned long long)rate);
  } else {
    sb_add(&b, "\"catchUp\":null,");
  }
  sb_add(&b, "\"update\":{\"attempt\":%d,\"retries\":%d,\"state\":\"%s\"},", upd_attempt, upd_retries,
         upd_handoff ? "handoff" : "replay");
  sb_add(&b, "\"timeline\":[");
  for (size_t i = 0; i < n_timeline; i++) {
    sb_add(&b, "%s{\"timeMs\":%llu,\"event\":\"%s\",\"stage\":\"%s\",\"reason\":", i ? "," : "", (unsigned long long)timeline[i].ms,
           timeline[i].event, stage_names[timeline[i].stage]);
    sb_json_str(&b, timeline[i].reason);
    sb_add(&b, "}");
  }
  sb_add(&b, "],");
  sb_add(&b, "\"retirements\":[");
  for (int i = 0; i < n_retired; i++) {
    sb_add(&b, "%s{\"pid\":%d,\"reason\":\"%s\",\"event\":%llu,\"report\":", i ? "," : "", retired[i].pid, retired[i].reason,
           (unsigned long long)retired[i].event);
    sb_json_str(&b, retired[i].detail);
    sb_add(&b, "}");
  }
  sb_add(&b, "]}\n");
  return b.p;
}

static int open_control(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) mvr_die_errno("socket");
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) mvr_die("control socket path too long: %s", path);
  strcpy(sa.sun_path, path);
  unlink(path);
  mode_t old = umask(077); /* created 0600: only this user */
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (r < 0) mvr_die_errno("bind %s", path);
  chmod(path, 0600);
  if (listen(fd, 8) < 0) mvr_die_errno("listen");
  return fd;
}


/* Control lines are words separated by spaces, each percent-encoded (%XX) so that a value never
 * holds a raw space or newline: `status`, `promote`, `commit`, `rollback`,
 * `update [rules=SO] [back=SO] [state=replay|start] [retries=N] [env=K=V]... -- ARGV...`. */
static void pct_decode(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '%' && s[1] && s[2]) {
      char hex[3] = {s[1], s[2], 0};
      *o++ = (char)strtol(hex, NULL, 16);
      s += 2;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

static void free_argv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* ---- handoff (docs/handoff.md, "Under multi-version execution") --------------------------------
 * The monitor asks the leader's handoff library (on its DSU channel) to fork at its next update
 * point; the leader's agent starts a fresh event stream there, and the forked child (a child of
 * the monitor: CLONE_PARENT) serialises the state and execs the new version with the follower's
 * environment and descriptors named in the request. The new version loads the state and follows
 * from its first update point. Reports come back on the same channel. */

static uint64_t ho_t0, ho_kick;   /* when it was requested; when the leader was last interrupted */
static int ho_client = -1;        /* the control client waiting for the outcome */
static int ho_chan = -1;          /* the new version's descriptor channel (monitor's end) until it forks */
static char ho_buf[8192];
static size_t ho_len;
static struct {
  pid_t pid;
  int st;
} ho_early[8];                    /* children that ended before their "forked" report was read */
static int n_ho_early;

static void sb_field(sbuf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  sb_add(b, " ");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= 0x20 || *p >= 0x7f || *p == '%') sb_add(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    else sb_add(b, "%c", *p);
  }
}

static void handoff_cancel(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void handoff_cancel(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = NULL;
  if (vasprintf(&m, fmt, ap) < 0) m = NULL;
  va_end(ap);
  detach_follower();
  __atomic_store_n(&shm->dsu_pending, 0, __ATOMIC_SEQ_CST);
  if (ho_chan >= 0) close(ho_chan);
  ho_chan = -1;
  close_follower_dsu();
  ho_state = HO_NONE;
  tl_add("update", "handoff failed: %s; version %d leads alone with its state intact", m ? m : "error", leader_version);
  reply_error(ho_client, "handoff failed: %s; nothing changed, version %d keeps serving", m ? m : "error", leader_version);
  ho_client = -1;
  free(m);
}

/* Asks the leader for a handoff to the current update's new version. 0, or -1 with err. */
static int start_handoff(char *err, size_t cap) {
  if (leader_dsu < 0) {
    snprintf(err, cap, "the leader has no handoff channel any more (it did not answer an earlier request)");
    return -1;
  }
  upd_attempt++;
  reset_follower_side();
  ho_error[0] = 0;
  char logp[PATH_MAX];
  if (opt.follower_log) snprintf(logp, sizeof logp, "%s", opt.follower_log);
  else snprintf(logp, sizeof logp, "%s/mvr-follower-%d-v%d.log", opt.state_dir ? opt.state_dir : "/tmp", (int)getpid(), next_version);
  int log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  int chan_child, dsu_child;
  int chan = new_channel(&chan_child);
  int dsu = new_dsu_channel(&dsu_child);
  /* In the new version: its descriptor channel where the leader's was (the agent closes the
   * leader's in the child), its own handoff channel above every runtime descriptor it inherits. */
  int chan_no = leader_chan_no;
  int dsu_no = shm_fd_g;
  if (leader_chan_no > dsu_no) dsu_no = leader_chan_no;
  if (leader_dsu_no > dsu_no) dsu_no = leader_dsu_no;
  dsu_no++;
  sbuf b = {malloc(1024), 0, 1024};
  sb_add(&b, "update");
  char tmp[PATH_MAX + 64];
  sb_field(&b, "env=" MVR_ENV_ROLE "=follower");
  sb_field(&b, "env=" MVR_ENV_HANDOFF "=1");
  snprintf(tmp, sizeof tmp, "env=%s=%s", MVR_ENV_RULES, upd_rules ? upd_rules : "");
  sb_field(&b, tmp);
  snprintf(tmp, sizeof tmp, "env=%s=%d", MVR_ENV_FDSOCK, chan_no);
  sb_field(&b, tmp);
  snprintf(tmp, sizeof tmp, "env=MVR_DSU_CTL_FD=%d", dsu_no);
  sb_field(&b, tmp);
  for (int i = 0; i < upd_n_env; i++) {
    /* The agent first, as spawn() does: its time functions must win; the user's preloads stay. */
    char *e = !strncmp(upd_env[i], "LD_PRELOAD=", 11) ? fmt_alloc("env=LD_PRELOAD=%s:%s", opt.agent, upd_env[i] + 11)
                                                      : fmt_alloc("env=%s", upd_env[i]);
    sb_field(&b, e);
    free(e);
  }
  snprintf(tmp, sizeof tmp, "fd=%d", chan_no);
  sb_field(&b, tmp);
  sb_field(&b, "fd=1");
  sb_field(&b, "fd=2");
  snprintf(tmp, sizeof tmp, "fd=%d", dsu_no);
  sb_field(&b, tmp);
  sb_field(&b, "--");
  for (char **a = upd_argv; *a; a++) sb_field(&b, *a);
  sb_add(&b, "\n");
  int fds[4] = {chan_child, log_fd, log_fd, dsu_child};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof fds)];
  } cm;
  memset(&cm, 0, sizeof cm);
  struct iovec iov = {b.p, b.n};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
  struct cmsghdr *cmh = CMSG_FIRSTHDR(&mh);
  cmh->cmsg_level = SOL_SOCKET;
  cmh->cmsg_type = SCM_RIGHTS;
  cmh->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(cmh), fds, sizeof fds);
  ssize_t w = sendmsg(leader_dsu, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  int send_errno = errno;
  free(b.p);
  close(chan_child);
  close(dsu_child);
  close(log_fd);
  if (w != (ssize_t)iov.iov_len) {
    close(chan);
    close(dsu);
    snprintf(err, cap, "cannot send the request to the leader's handoff channel: %s", w < 0 ? strerror(send_errno) : "short write");
    return -1;
  }
  ho_chan = chan;
  follower_dsu = dsu;
  follower_dsu_no = dsu_no;
  follower_chan_no = chan_no;
  follower_rules = upd_rules;
  ho_len = 0;
  n_ho_early = 0;
  catch_target = 0;
  catch_done_ms = 0;
  catch_active = 0;
  shm->catch_target = 0;
  __atomic_store_n(&shm->handoff_point, 0, __ATOMIC_SEQ_CST);
  set_catching_up(1);
  __atomic_store_n(&shm->follower_attached, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&shm->dsu_pending, 1, __ATOMIC_SEQ_CST);
  kill(leader_pid, SIGSYS); /* out of a blocking call, to its update point */
  ho_state = HO_REQUESTED;
  ho_t0 = ho_kick = now_ms();
  tl_add("update", "attempt %d: handoff requested: version %d (%s) starts from version %d's state at its next update point; log: %s",
         upd_attempt, next_version, upd_argv[0], leader_version, logp);
  return 0;
}

static const char *report_field(char *line, const char *key) {
  size_t k = strlen(key);
  for (char *p = strchr(line, ' '); p; p = strchr(p + 1, ' '))
    if (!strncmp(p + 1, key, k) && p[1 + k] == '=') return p + 2 + k;
  return NULL;
}

/* A field of a report: the value (up to the next space), percent-decoded. */
static void field_value(char *line, const char *key, char *out, size_t cap) {
  const char *v = report_field(line, key);
  size_t n = 0;
  if (v)
    while (v[n] && v[n] != ' ') n++;
  if (n >= cap) n = cap - 1;
  memcpy(out, v ? v : "", n);
  out[n] = 0;
  pct_decode(out);
}

static void on_follower_exit(int st);

static void handoff_report(char *line) {
  char pid_s[24], a[32], b2[32], c2[400];
  field_value(line, "pid", pid_s, sizeof pid_s);
  int pid = atoi(pid_s);
  if (!strncmp(line, "forked ", 7) && ho_state == HO_REQUESTED) {
    if (pid <= 0 || pid == leader_pid) return handoff_cancel("the leader's report named no child process: '%.80s'", line);
    relay_read(); /* the leader's stream-reset marker was sent before the fork */
    __atomic_store_n(&shm->dsu_pending, 0, __ATOMIC_SEQ_CST);
    field_value(line, "point", a, sizeof a);
    follower_pid = pid;
    follower_state = P_RUNNING;
    follower_version = next_version;
    follower_chan = ho_chan;
    ho_chan = -1;
    jq_fwd = 0;
    stage = ST_OUTDATED;
    ho_state = HO_LOADING;
    tl_add("handoff", "version %d forked at update point #%s (%llu ms after the request): the new version (pid %d) loads its state, "
           "then follows from there", leader_version, a, (unsigned long long)(now_ms() - ho_t0), pid);
    for (int i = 0; i < n_ho_early; i++)
      if (ho_early[i].pid == pid) on_follower_exit(ho_early[i].st);
    n_ho_early = 0;
  } else if (!strncmp(line, "loaded ", 7) && ho_state == HO_LOADING && pid == follower_pid) {
    ho_state = HO_FOLLOWING;
    field_value(line, "entries", a, sizeof a);
    field_value(line, "bytes", b2, sizeof b2);
    char msg[600];
    snprintf(msg, sizeof msg, "version %d (pid %d) loaded %s entries (%s bytes) from version %d's state in %llu ms; it follows "
             "version %d from the fork point", follower_version, pid, a, b2, leader_version,
             (unsigned long long)(now_ms() - ho_t0), leader_version);
    tl_add("loaded", "%s", msg);
    reply_ok(ho_client, msg);
    ho_client = -1;
  } else if (!strncmp(line, "failed ", 7)) {
    field_value(line, "stage", a, sizeof a);
    field_value(line, "error", c2, sizeof c2);
    if (ho_state == HO_REQUESTED && (!strcmp(a, "request") || !strcmp(a, "fork"))) {
      handoff_cancel("the leader refused the request (%s): %s", a, c2);
    } else {
      snprintf(ho_error, sizeof ho_error, "%s: %s", !strcmp(a, "load") ? "it could not load the state" :
               !strcmp(a, "exec") ? "it could not be started" : "the state could not be saved", c2);
    }
  }
}

/* Reads the leader's reports (non-blocking). */
static void handoff_read(void) {
  while (leader_dsu >= 0) {
    if (ho_len == sizeof ho_buf - 1) ho_len = 0; /* a line this long is no report */
    ssize_t r = read(leader_dsu, ho_buf + ho_len, sizeof ho_buf - 1 - ho_len);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
      close(leader_dsu);
      leader_dsu = -1;
      return;
    }
    ho_len += (size_t)r;
    char *nl, *start = ho_buf;
    while ((nl = memchr(start, '\n', ho_len - (size_t)(start - ho_buf)))) {
      *nl = 0;
      handoff_report(start);
      start = nl + 1;
    }
    ho_len -= (size_t)(start - ho_buf);
    memmove(ho_buf, start, ho_len);
  }
}

/* Every loop turn: interrupts the leader until it reaches an update point; gives up after the
 * deadline. */
static void handoff_tick(void) {
  handoff_read();
  if (ho_state != HO_REQUESTED) return;
  uint64_t t = now_ms();
  if (leader_state != P_RUNNING) return handoff_cancel("the leader ended");
  if (t - ho_t0 > opt.deadline_ms) {
    /* A request it may still read later must never start a version nobody expects: its channel
     * is closed, and it is never asked to poll it again. */
    if (leader_dsu >= 0) close(leader_dsu);
    leader_dsu = -1;
    return handoff_cancel("version %d did not reach an update point within %u ms (a handoff needs a program that uses the "
                          "handoff library, runtime-c/dsu/mvr_dsu.h, and calls mvr_dsu_update_point() in its loop)",
                          leader_version, opt.deadline_ms);
  }
  if (t - ho_kick >= 100) {
    ho_kick = t;
    kill(leader_pid, SIGSYS);
  }
}

/* The follower is gone: the client waiting for the handoff's outcome gets it. */
static void handoff_ended(const char *why) {
  if (ho_state == HO_NONE) return;
  if (ho_client >= 0)
    reply_error(ho_client, "the new version was retired before it finished loading (%s)%s%s; nothing changed, version %d keeps serving",
                why, ho_error[0] ? ": " : "", ho_error, leader_version);
  ho_client = -1;
  ho_state = HO_NONE;
  if (ho_chan >= 0) close(ho_chan);
  ho_chan = -1;
}

static void cmd_update(int c, char **tok, int n) {
  if (!lifecycle) return reply_error(c, "this monitor cannot update: it was started without the agent in the leader");
  if (switch_op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage != ST_SINGLE) return reply_error(c, "update needs the single leader stage (now: %s): commit or roll back first", stage_names[stage]);
  if (leader_state != P_RUNNING) return reply_error(c, "the leader is not running");
  const char *rules = NULL, *back = NULL, *state = opt.state ? opt.state : "replay";
  int retries = 0, i = 1;
  const char *envs[MAX_ENV];
  int n_env = 0;
  for (; i < n && strcmp(tok[i], "--"); i++) {
    char *v = strchr(tok[i], '=');
    if (!v) return reply_error(c, "update: expected KEY=VALUE or '--', got '%.60s'", tok[i]);
    *v++ = 0;
    if (!strcmp(tok[i], "rules")) rules = v;
    else if (!strcmp(tok[i], "back")) back = v;
    else if (!strcmp(tok[i], "state")) state = v;
    else if (!strcmp(tok[i], "retries")) retries = atoi(v);
    else if (!strcmp(tok[i], "env") && strchr(v, '=') && n_env < MAX_ENV) envs[n_env++] = v;
    else return reply_error(c, "update: unknown setting '%.60s'", tok[i]);
  }
  if (i >= n - 1) return reply_error(c, "update needs the new version's command (after '--')");
  if (!strcmp(state, "start"))
    return reply_error(c, "--state start cannot update a running leader: the new version's start-up calls (socket, bind, listen...) "
                          "have no counterpart in the leader's live events; use --state replay (the default) or start both "
                          "versions together with `mvrc run -- OLD ::: NEW`");
  int handoff = !strcmp(state, "handoff");
  if (strcmp(state, "replay") && !handoff) return reply_error(c, "unknown --state '%.40s' (expected replay or handoff)", state);
  if (handoff && leader_dsu < 0)
    return reply_error(c, "--state handoff: version %d has no handoff channel (it did not answer an earlier request); nothing changed",
                       leader_version);
  if (handoff && !single_threaded())
    return reply_error(c, "--state handoff supports single-threaded programs only (this runtime version); nothing changed");
  if (!handoff && !shm->journal_valid && leader_version != 1)
    return reply_error(c, "cannot replay: version %d became the leader by promotion, so its journal does not start at its "
                          "first event and a new version cannot rebuild its state from it; restart it under `mvrc run "
                          "--control` to update it again, or use --state handoff; nothing changed, it keeps serving",
                       leader_version);
  if (!handoff && !shm->journal_valid && shm->handoff_point)
    return reply_error(c, "cannot replay: the journal ended at an earlier handoff (its fork point started a fresh event stream); "
                          "use --state handoff; nothing changed, the old version keeps serving");
  if (!handoff && !shm->journal_valid)
    return reply_error(c, opt.journal_size
                              ? "cannot replay: the journal bound (%llu bytes, --journal-size) was exceeded at leader event #%llu, so the "
                                "new version cannot rebuild the leader's state from its history; nothing changed, the old version keeps serving"
                              : "cannot replay: the journal is off (--journal-size 0)%.0llu; nothing changed, the old version keeps serving",
                       (unsigned long long)shm->journal_limit, (unsigned long long)shm->journal_end);
  if (rules && *rules && access(rules, R_OK)) return reply_error(c, "rules module not readable: %s", rules);
  if (back && *back && access(back, R_OK)) return reply_error(c, "backward rules module not readable: %s", back);
  free_argv(upd_argv);
  free_argv(upd_env);
  free(upd_rules);
  free(upd_back);
  upd_rules = rules && *rules ? strdup(rules) : NULL;
  upd_back = back && *back ? strdup(back) : NULL;
  int argc = n - i - 1;
  upd_argv = calloc((size_t)argc + 1, sizeof *upd_argv);
  for (int k = 0; k < argc; k++) upd_argv[k] = strdup(tok[i + 1 + k]);
  upd_env = calloc((size_t)n_env + 1, sizeof *upd_env);
  for (int k = 0; k < n_env; k++) upd_env[k] = strdup(envs[k]);
  upd_n_env = n_env;
  upd_retries = retries < 0 ? 0 : retries;
  upd_attempt = 0;
  upd_retry_at = 0;
  next_version = (leader_version > follower_version ? leader_version : follower_version) + 1;
  if (next_version <= leader_version) next_version = leader_version + 1;
  upd_handoff = handoff;
  if (handoff) {
    char err[300];
    if (start_handoff(err, sizeof err) < 0) return reply_error(c, "%s; nothing changed", err);
    ho_client = c; /* answered when the new version has loaded the state, or failed */
    return;
  }
  start_follower();
  char msg[256];
  snprintf(msg, sizeof msg, "version %d (pid %d) started as the follower of version %d (pid %d); it replays the journal, then follows live",
           follower_version, follower_pid, leader_version, leader_pid);
  reply_ok(c, msg);
}

static void cmd_promote(int c) {
  if (switch_op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage != ST_OUTDATED) return reply_error(c, "promote needs the outdated leader stage (now: %s)", stage_names[stage]);
  if (follower_state != P_RUNNING) return reply_error(c, "the follower is not running");
  if (leader_state != P_RUNNING) return reply_error(c, "the leader is not running");
  if (!single_threaded()) return reply_error(c, "promotion supports single-threaded programs only (this runtime version)");
  begin_switch(OP_PROMOTE, upd_back != NULL, upd_back, c);
}

static void cmd_commit(int c) {
  if (switch_op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage != ST_UPDATED) return reply_error(c, "commit needs the updated leader stage (now: %s)%s", stage_names[stage],
                                              stage == ST_OUTDATED ? ": promote first" : "");
  int old = follower_version, old_pid = follower_pid;
  if (follower_state == P_RUNNING) end_follower();
  stage = ST_SINGLE;
  upd_retry_at = 0;
  char msg[256];
  if (old)
    snprintf(msg, sizeof msg, "version %d (pid %d) leads alone; version %d (pid %d) retired", leader_version, leader_pid, old, old_pid);
  else
    snprintf(msg, sizeof msg, "version %d (pid %d) leads alone", leader_version, leader_pid);
  tl_add("commit", "%s", msg);
  reply_ok(c, msg);
}

static void cmd_rollback(int c) {
  if (switch_op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage == ST_SINGLE) return reply_error(c, "nothing to roll back: the stage is single leader");
  if (stage == ST_OUTDATED) {
    int v = follower_version, p = follower_pid;
    end_follower();
    stage = ST_SINGLE;
    upd_retry_at = 0;
    char msg[256];
    snprintf(msg, sizeof msg, "on request: version %d (pid %d) retired; version %d (pid %d) leads alone with its state intact", v, p,
             leader_version, leader_pid);
    tl_add("rollback", "%s", msg);
    return reply_ok(c, msg);
  }
  if (follower_state != P_RUNNING)
    return reply_error(c, "the old version no longer follows (retired at or after promotion): rollback is not possible; commit instead");
  if (!single_threaded()) return reply_error(c, "rollback supports single-threaded programs only (this runtime version)");
  begin_switch(OP_ROLLBACK, 0, "", c);
}

static void serve_client(int lfd) {
  int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || (cred.uid != geteuid() && cred.uid != 0)) {
    reply(c, "{\"ok\":false,\"error\":\"permission denied\"}\n");
    return;
  }
  struct timeval tv = {0, 500000}; /* a client gets 500 ms to send its command */
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  enum { CMD_MAX = 65536 };
  char *cmd = malloc(CMD_MAX);
  if (!cmd) mvr_die("out of memory");
  ssize_t n = 0;
  while (n < CMD_MAX - 1) {
    ssize_t k = read(c, cmd + n, CMD_MAX - 1 - (size_t)n);
    if (k <= 0) break;
    n += k;
    if (memchr(cmd, '\n', (size_t)n)) break;
  }
  cmd[n > 0 ? n : 0] = 0;
  char *nl = strchr(cmd, '\n');
  if (nl) *nl = 0;
  char *tok[1024];
  int nt = 0;
  for (char *save = NULL, *t = strtok_r(cmd, " ", &save); t && nt < 1024; t = strtok_r(NULL, " ", &save)) {
    pct_decode(t);
    tok[nt++] = t;
  }
  if (nt == 0) reply_error(c, "empty command (expected status, update, promote, commit or rollback)");
  else if (!strcmp(tok[0], "status") && nt == 1) {
    char *out = status_json();
    reply(c, out);
    free(out);
  } else if (!strcmp(tok[0], "update")) cmd_update(c, tok, nt);
  else if (!strcmp(tok[0], "promote") && nt == 1) cmd_promote(c);
  else if (!strcmp(tok[0], "commit") && nt == 1) cmd_commit(c);
  else if (!strcmp(tok[0], "rollback") && nt == 1) cmd_rollback(c);
  else reply_error(c, "unknown command '%.60s' (expected status, update, promote, commit or rollback)", tok[0]);
  free(cmd);
}

/* ---- main loop --------------------------------------------------------------------------------- */

static int leader_exit_code(void) {
  if (WIFEXITED(leader_status)) return WEXITSTATUS(leader_status);
  if (WIFSIGNALED(leader_status)) return 128 + WTERMSIG(leader_status);
  return 2;
}

static void reap(void) {
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    if (p == leader_pid) {
      leader_state = P_EXITED;
      leader_status = st;
      if (lifecycle && WIFSIGNALED(st) && follower_state == P_RUNNING && shm->follower_attached && single_threaded() &&
          (stage == ST_OUTDATED || stage == ST_UPDATED)) {
        /* The leader crashed during MVE: its follower takes over once it consumed its events. */
        if (switch_op == OP_NONE)
          tl_add("crash", "the leader (version %d, pid %d) was killed by signal %d (%s): version %d takes over", leader_version, leader_pid,
                 WTERMSIG(st), strsignal(WTERMSIG(st)), follower_version);
        if (switch_op != OP_NONE && switch_client >= 0) {
          reply_error(switch_client, "the leader crashed during the switch: its follower takes over");
          switch_client = -1;
        }
        __atomic_store_n(&shm->leader_paused, 1, __ATOMIC_SEQ_CST);
        if (switch_op == OP_NONE || __atomic_load_n(&shm->promote_state, __ATOMIC_SEQ_CST) != MVR_PROMOTE_REQ)
          begin_switch(OP_FAILOVER, 0, "", -1);
        switch_op = OP_FAILOVER;
        shm->old_follows = 0;
        __atomic_add_fetch(&shm->ring[0].head_seq, 1, __ATOMIC_SEQ_CST);
        futex_wake(&shm->ring[0].head_seq);
        continue;
      }
      for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
        __atomic_store_n(&shm->ring[k].leader_eof, 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&shm->ring[k].head_seq, 1, __ATOMIC_SEQ_CST);
        futex_wake(&shm->ring[k].head_seq);
      }
    } else if (p == follower_pid && follower_state == P_RUNNING) {
      on_follower_exit(st);
    } else if (ho_state == HO_REQUESTED && n_ho_early < 8) {
      ho_early[n_ho_early].pid = p; /* a handoff child whose "forked" report is not read yet */
      ho_early[n_ho_early].st = st;
      n_ho_early++;
    }
  }
}

/* ---- recording (--record TRACE: `mvrc record`) ---------------------------------------------------
 * The leader runs under the agent exactly as beside a follower (follower_attached stays 1, so each
 * thread and followed child process records into its own ring, docs/runtime.md "What is
 * recorded"), and the monitor itself is the consumer: every few milliseconds it walks each ring
 * from tail to head, writes one JSON line per record (docs/traces.md) and releases the space,
 * waking a leader thread that waits for it. A leader thread with a full ring waits for that drain
 * (up to RECORD_WAIT_MS), so events are not lost to a slow disk; if they are anyway (the wait ran
 * out, a descriptor could not be passed), or the trace cannot be written, the run ends in an error
 * (status 2) and the trace has no end line, rather than looking complete. The descriptors the
 * leader sends for a follower are read and closed at once, so that its channel never fills. */

static FILE *rec_out;
static int rec_errno;                    /* the first write error: nothing is written after it */
static char *rec_problem;                /* events were lost or a record was unreadable */
static uint64_t rec_next[MVR_MAX_RINGS]; /* per ring: the index of the next event */
static char *rec_line;                   /* the line being built: one fwrite per record */
static size_t rec_len, rec_cap;

static int rec_ok(void) { return !rec_errno && !rec_problem; }

static void rl_reserve(size_t more) {
  if (rec_len + more <= rec_cap) return;
  size_t cap = rec_cap ? rec_cap : 4096;
  while (cap < rec_len + more) cap *= 2;
  rec_line = realloc(rec_line, cap);
  if (!rec_line) mvr_die("out of memory");
  rec_cap = cap;
}

static void rl_str(const char *s) {
  size_t n = strlen(s);
  rl_reserve(n);
  memcpy(rec_line + rec_len, s, n);
  rec_len += n;
}

static void rl_i64(int64_t v) {
  rl_reserve(24);
  rec_len += (size_t)snprintf(rec_line + rec_len, 24, "%lld", (long long)v);
}

/* A 64-bit value: a JSON number while a double holds it exactly (|v| < 2^53), else a decimal string. */
static void rl_val(int64_t v) {
  const int64_t lim = (int64_t)1 << 53;
  if (v > -lim && v < lim) {
    rl_i64(v);
    return;
  }
  rl_str("\"");
  rl_i64(v);
  rl_str("\"");
}

static void rl_hex(const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  rl_reserve(2 * n);
  char *o = rec_line + rec_len;
  for (size_t i = 0; i < n; i++) {
    o[2 * i] = digits[p[i] >> 4];
    o[2 * i + 1] = digits[p[i] & 15];
  }
  rec_len += 2 * n;
}

/* A command-line word as a JSON string: its bytes as they are (UTF-8), with quotes, backslashes
 * and control characters escaped. */
static void rl_json_str(const char *s) {
  rl_str("\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, esc[2] = 0;
      rl_str(esc);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      rl_str(esc);
    } else {
      rl_reserve(1);
      rec_line[rec_len++] = (char)c;
    }
  }
  rl_str("\"");
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
  size_t n = rec_len;
  rec_len = 0;
  if (rec_errno || !n) return;
  errno = 0;
  if (fwrite(rec_line, 1, n, rec_out) != n) rec_write_failed(errno);
}

/* Events can no longer be written in full: the trace stops here (it keeps what came before). */
static void rec_lost(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rec_lost(const char *fmt, ...) {
  if (rec_problem) return;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&rec_problem, fmt, ap) < 0) rec_problem = strdup("events were lost");
  va_end(ap);
  detach_follower();
}

static void rec_event(unsigned k, const mvr_rec *r) {
  uint64_t need = sizeof(mvr_rec);
  for (int i = 0; i < 6; i++) need += mvr_align8(r->len[i]);
  if (r->size < need) {
    rec_lost("an unreadable record in thread %u at event #%llu", k, (unsigned long long)r->index);
    return;
  }
  if (r->index != rec_next[k]) {
    rec_lost("thread %u: event #%llu follows #%llu", k, (unsigned long long)r->index, (unsigned long long)rec_next[k]);
    return;
  }
  rec_next[k] = r->index + 1;
  rl_str("{\"thread\":");
  rl_i64(k);
  rl_str(",\"i\":");
  rl_i64((int64_t)r->index);
  rl_str(",\"nr\":");
  rl_i64(r->nr);
  rl_str(",\"name\":\"");
  if (mvr_si_known(r->nr)) {
    rl_str(mvr_si_name(r->nr));
  } else { /* the reader's name for a number the table does not know */
    rl_str("syscall_");
    rl_i64(r->nr);
  }
  rl_str("\",\"args\":[");
  for (int i = 0; i < 6; i++) {
    if (i) rl_str(",");
    rl_val(r->args[i]);
  }
  rl_str("],\"ret\":");
  rl_val(r->ret); /* 0 when noret: the call had not returned when it was recorded */
  const uint8_t *p = (const uint8_t *)(r + 1);
  int any = 0;
  for (int i = 0; i < 6; i++) {
    if (r->len[i]) {
      rl_str(any ? ",\"" : ",\"bufs\":{\"");
      rl_i64(i);
      rl_str("\":\"");
      rl_hex(p, r->len[i]);
      rl_str("\"");
      any = 1;
    }
    p += mvr_align8(r->len[i]);
  }
  if (any) rl_str("}");
  if (r->flags & MVR_RECF_TRUNCATED) rl_str(",\"truncated\":true");
  if (r->flags & MVR_RECF_NORET) rl_str(",\"noret\":true");
  rl_str("}\n");
  rl_flush();
}

static void rec_signal(unsigned k, const mvr_rec *r) {
  if (r->nr < 1 || r->nr > 64 || r->index != rec_next[k]) {
    rec_lost("an unreadable signal record in thread %u at event #%llu", k, (unsigned long long)rec_next[k]);
    return;
  }
  rl_str("{\"thread\":");
  rl_i64(k);
  rl_str(",\"before\":");
  rl_i64((int64_t)r->index);
  rl_str(",\"signal\":");
  rl_i64(r->nr);
  rl_str("}\n");
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
    uint64_t off = pos % size;
    const mvr_rec *r = (const mvr_rec *)(data + off);
    if (r->size < 8 || r->size % 8 || r->size > size - off || r->size > head - pos ||
        (r->kind != MVR_REC_PAD && r->size < sizeof(mvr_rec))) {
      rec_lost("an unreadable record in thread %u after event #%llu", k, (unsigned long long)rec_next[k]);
      break;
    }
    if (r->kind == MVR_REC_EVENT) rec_event(k, r);
    else if (r->kind == MVR_REC_SIGNAL) rec_signal(k, r);
    /* MVR_REC_PAD fills the end of the data area; MVR_REC_AGENT is a note between agents. */
    pos += r->size;
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
  while (leader_chan >= 0) {
    mvr_fdmsg m;
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
    ssize_t r = recvmsg(leader_chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) { /* every process that held the channel is gone */
      close(leader_chan);
      leader_chan = -1;
      return;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int fds[2];
      if (n > 2) n = 2;
      memcpy(fds, CMSG_DATA(c), n * sizeof(int));
      for (size_t i = 0; i < n; i++) close(fds[i]);
    }
  }
}

/* Reaps every child (the monitor is a subreaper: the program's orphans too); returns 1 when none
 * is left. */
static int rec_reap(void) {
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    if (p == leader_pid) {
      leader_state = P_EXITED;
      leader_status = st;
    }
  }
  return p < 0 && errno == ECHILD;
}

/* Every ring handed out was ended by its thread or process (exit or exit_group through the agent):
 * nothing more can be recorded, even if a process the agent does not follow lives on. */
static int rec_all_ended(void) {
  uint32_t n = __atomic_load_n(&shm->leader_threads, __ATOMIC_SEQ_CST);
  for (uint32_t k = 0; k <= n && k < MVR_MAX_RINGS; k++)
    if (!__atomic_load_n(&shm->ring[k].leader_eof, __ATOMIC_SEQ_CST)) return 0;
  return 1;
}

/* Opened before anything else is set up, so that a trace that cannot be written costs nothing. */
static void record_open(void) {
  rec_out = fopen(opt.record, "we");
  if (!rec_out) mvr_die_errno("cannot write the trace %s", opt.record);
  setvbuf(rec_out, NULL, _IOFBF, 1u << 20);
}

static int record_run(int sfd, int shm_fd) {
  rl_str("{\"mvrcTrace\":1,\"command\":[");
  for (char **a = opt.leader_argv; *a; a++) {
    if (a != opt.leader_argv) rl_str(",");
    rl_json_str(*a);
  }
  rl_str("],\"arch\":\"x86_64\"}\n");
  rl_flush();
  int child;
  leader_chan = new_channel(&child);
  leader_chan_no = child;
  leader_pid = spawn(opt.leader_argv, 0, shm_fd, -1, child, -1, opt.leader_env, opt.n_leader_env, NULL);
  close(child);
  leader_state = P_RUNNING;
  int busy = 0, stop = 0;
  for (;;) {
    struct pollfd pf[2] = {{sfd, POLLIN, 0}, {leader_chan, POLLIN, 0}};
    /* Every millisecond while events come (a leader thread whose ring is full waits for this
     * drain), every 10 ms when idle. */
    int r = poll(pf, 2, busy ? 1 : 10);
    if (r < 0 && errno != EINTR) mvr_die_errno("poll");
    if (r > 0 && (pf[0].revents & POLLIN)) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) continue;
        if (leader_state == P_RUNNING) kill(leader_pid, (int)si.ssi_signo);
        else stop = 1; /* interrupted while waiting for the program's other processes */
      }
    }
    rec_drain_fds();
    /* Reaped first, drained after: the events of a process found gone are all in its ring. */
    int none_left = rec_reap();
    busy = 0;
    for (unsigned k = 0; k < MVR_MAX_RINGS; k++) busy |= rec_drain_ring(k);
    if (leader_state == P_EXITED && (none_left || stop || rec_all_ended())) break;
  }
  rec_drain_fds();
  if (rec_ok() && __atomic_load_n(&shm->overflow, __ATOMIC_SEQ_CST)) {
    if (shm->fd_error)
      rec_lost("the program could not pass a new descriptor to the recorder (%s)", strerror(shm->fd_error));
    else
      rec_lost("a ring (%llu bytes) stayed full for %u s while the trace was written", (unsigned long long)shm->data_size,
               RECORD_WAIT_MS / 1000);
  }
  if (rec_ok()) {
    rl_str("{\"end\":true,\"status\":");
    rl_i64(leader_exit_code());
    rl_str("}\n");
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
  if (__atomic_load_n(&shm->leader_threads, __ATOMIC_SEQ_CST) >= MVR_MAX_RINGS)
    fprintf(stderr, "mvrc record: warning: the program created more than %d threads and processes: those past them were not recorded\n",
            MVR_MAX_RINGS - 1);
  if (!shm->leader_started && !(WIFEXITED(leader_status) && WEXITSTATUS(leader_status) == 127))
    fprintf(stderr, "mvrc record: warning: %s never loaded the agent (a statically linked program?): no system call was recorded\n",
            opt.leader_argv[0]);
  return leader_exit_code();
}

int main(int argc, char **argv) {
  mvr_set_prog("mvr-monitor");
  parse_args(argc, argv);
  if (opt.record) {
    /* Its messages are `mvrc record`'s (mvr_die prints "PROG: ..."). */
    mvr_set_prog("mvrc record: error");
    record_open();
  }
  lifecycle = opt.agent && opt.control;
  /* The journal holds the descriptors of its events: allow as many as the hard limit. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* Orphaned follower (and leader) child processes are reparented to the monitor and reaped. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  int shm_fd = create_shm();
  shm_fd_g = shm_fd;
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul < 0) mvr_die_errno("open /dev/null");
  placeholder_fd = high_fd(nul);
  if (lifecycle) {
    shm->lifecycle = 1;
    if (!opt.follower_argv && opt.journal_size) {
      shm->journal_limit = opt.journal_size;
      shm->journal_valid = 1;
      jq_keep = 1;
    }
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGQUIT);
  sigprocmask(SIG_BLOCK, &mask, &orig_mask);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) mvr_die_errno("signalfd");
  if (opt.record) return record_run(sfd, shm_fd);
  int lfd = opt.control ? open_control(opt.control) : -1;

  char log_default[PATH_MAX];
  int log_fd = -1;
  if (opt.follower_argv) {
    if (!opt.follower_log) {
      const char *dir = opt.state_dir ? opt.state_dir : "/tmp";
      snprintf(log_default, sizeof log_default, "%s/mvr-follower-%d.log", dir, (int)getpid());
      opt.follower_log = log_default;
    }
    log_fd = open(opt.follower_log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) mvr_die_errno("cannot open the follower log %s", opt.follower_log);
  }

  int child = -1;
  if (opt.follower_argv || lifecycle) leader_chan = new_channel(&child);
  int dsu_child = -1;
  if (lifecycle) leader_dsu = new_dsu_channel(&dsu_child);
  leader_chan_no = child;
  leader_dsu_no = dsu_child;
  leader_pid = spawn(opt.leader_argv, 0, shm_fd, -1, child, dsu_child, opt.leader_env, opt.n_leader_env, NULL);
  if (child >= 0) close(child);
  if (dsu_child >= 0) close(dsu_child);
  leader_state = P_RUNNING;
  upd_back = opt.back ? strdup(opt.back) : NULL;
  if (opt.follower_argv) {
    follower_chan = new_channel(&child);
    follower_rules = opt.rules;
    follower_pid = spawn(opt.follower_argv, 1, shm_fd, log_fd, child, -1, opt.follower_env, opt.n_follower_env, opt.rules);
    close(child);
    follower_state = P_RUNNING;
    follower_version = 2;
    stage = ST_OUTDATED;
    close(log_fd);
    tl_add("start", "version 1 (pid %d) leads, version 2 (pid %d) follows from the start", leader_pid, follower_pid);
  } else {
    shm->follower_attached = 0;
    stage = ST_SINGLE;
    tl_add("start", "version 1 (pid %d) leads alone%s", leader_pid, shm->journal_valid ? ", keeping a journal for updates" : "");
  }
  uint64_t leader_exit_ms = 0;

  for (;;) {
    struct pollfd pf[4] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}, {leader_chan, POLLIN, 0}, {follower_chan, POLLOUT, 0}};
    if (lfd < 0) pf[1].fd = -1;
    if (jq_fwd >= jq_n) pf[3].fd = -1;
    int r = poll(pf, 4, 20);
    if (r < 0 && errno != EINTR) mvr_die_errno("poll");
    if (r > 0 && (pf[0].revents & POLLIN)) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD && leader_state == P_RUNNING) kill(leader_pid, (int)si.ssi_signo);
      }
    }
    relay_read();
    handoff_tick();
    journal_scan_closes();
    relay_forward();
    if (jq_keep && !shm->journal_valid) jq_drop_journal();
    reap();
    if (r > 0 && lfd >= 0 && (pf[1].revents & POLLIN)) serve_client(lfd);
    check_progress();
    switch_progress();
    if (catch_active && !catch_done_ms && stage == ST_OUTDATED && shm->catch_done_ns) {
      /* Timed by the follower's agent (from the new process's start to its last journal event). */
      uint64_t ns = shm->catch_done_ns > catch_start_ns ? shm->catch_done_ns - catch_start_ns : 1;
      catch_done_ms = catch_start_ms + ns / 1000000u;
      catch_events = catch_target;
      catch_rate = catch_target * 1000000000ull / ns;
      tl_add("caught-up", "version %d consumed the %llu journal events in %.1f ms (%llu events/s, start-up included); it follows live",
             follower_version, (unsigned long long)catch_target, (double)ns / 1e6, (unsigned long long)catch_rate);
    }
    if (shm->follower_catching_up && follower_state == P_RUNNING) {
      /* Loaded (handoff) or replayed the journal: the backlog of that time is the last to wait for. */
      if (!backlog_mark && (ho_state == HO_FOLLOWING || (catch_active && catch_done_ms))) backlog_mark = total_events();
      if (backlog_mark && total_consumed() >= backlog_mark) set_catching_up(0);
    }
    if (upd_retry_at && now_ms() >= upd_retry_at && stage == ST_SINGLE && leader_state == P_RUNNING && switch_op == OP_NONE) {
      upd_retry_at = 0;
      char err[300];
      if (upd_handoff) {
        if (start_handoff(err, sizeof err) < 0) tl_add("retry", "cancelled: %s", err);
      } else if (shm->journal_valid) {
        start_follower();
      } else {
        tl_add("retry", "cancelled: the journal bound was exceeded");
      }
    }
    if (leader_state == P_EXITED && switch_op == OP_FAILOVER) continue;
    if (leader_state == P_RUNNING) leader_exit_ms = 0;
    if (leader_state == P_EXITED) {
      if (!follower_active()) break;
      /* Give the follower time to reach the leader's end; then it is retired. */
      if (!leader_exit_ms) leader_exit_ms = now_ms();
      if (now_ms() - leader_exit_ms > (opt.deadline_ms > 2000 ? opt.deadline_ms : 2000)) {
        char *ctx = context_lines();
        retire("leader-exited", shm->ring[0].consumed, fmt_alloc("  the follower had not finished %u ms after the leader exited (%llu of %llu events consumed)\n%s",
                                          opt.deadline_ms > 2000 ? opt.deadline_ms : 2000,
                                          (unsigned long long)total_consumed(), (unsigned long long)total_events(), ctx));
        free(ctx);
        break;
      }
    }
  }
  if (opt.control) unlink(opt.control);
  return leader_exit_code();
}
