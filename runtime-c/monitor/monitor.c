/* mvr-monitor — starts the leader and the follower, owns the shared ring and the control socket,
 * and retires the follower on a crash, a hang, a divergence or a full ring. It never sits on the
 * syscall path: the agents in both processes talk through the ring.
 *
 *   mvr-monitor --agent SO [--rules SO] [--control SOCK] [--follower-log FILE] [--state-dir DIR]
 *               [--ring-size BYTES] [--deadline-ms N] [--leader-env K=V]... [--follower-env K=V]...
 *               -- LEADER_CMD... [::: FOLLOWER_CMD...]
 *
 * Exit status: the leader's (128+N when it was killed by signal N); 2 for a usage/environment error.
 *
 * Lifecycle: the monitor is the parent of both processes and learns of a crash or an exit from
 * SIGCHLD at once (signalfd + waitpid); the follower's own child processes (fork pairs) are
 * watched through pidfds, and the monitor is a child subreaper so orphans are reaped. It does not
 * ptrace them: under PTRACE_SEIZE every signal, including the SIGSYS that syscall user dispatch
 * raises for each syscall, stops the tracee for the tracer (a signal-delivery-stop: measured here,
 * 1000 of 1000 trapped syscalls, ~10 us each instead of ~1-2 us), which would put the monitor on
 * the syscall path. New threads and processes arm SUD themselves (agent/trampoline.S). */
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

typedef struct options {
  const char *agent, *rules, *control, *follower_log, *state_dir;
  uint64_t ring_size;
  uint32_t deadline_ms;
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

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void usage(const char *msg) {
  mvr_die("%s\nusage: mvr-monitor --agent SO [--rules SO] [--control SOCK] [--follower-log FILE] "
          "[--state-dir DIR] [--ring-size BYTES] [--deadline-ms N] [--leader-env K=V]... "
          "[--follower-env K=V]... -- LEADER_CMD... [::: FOLLOWER_CMD...]",
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
    else if (!strcmp(a, "--control")) opt.control = v;
    else if (!strcmp(a, "--follower-log")) opt.follower_log = v;
    else if (!strcmp(a, "--state-dir")) opt.state_dir = v;
    else if (!strcmp(a, "--ring-size")) opt.ring_size = parse_num(a, v);
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

static int fdchan[2] = {-1, -1}; /* [0] leader's end, [1] follower's end */

static void create_fd_channel(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) mvr_die_errno("socketpair");
  fdchan[0] = high_fd(sv[0]);
  fdchan[1] = high_fd(sv[1]);
  /* Room for many descriptors in flight while the follower lags (root may exceed wmem_max). */
  int big = 8 << 20;
  if (setsockopt(fdchan[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fdchan[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (setsockopt(fdchan[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fdchan[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

static int create_shm(void) {
  int low = memfd_create("mvr-ring", MFD_CLOEXEC);
  if (low < 0) mvr_die_errno("memfd_create");
  int fd = high_fd(low);
  /* One data area per thread pair; pages are allocated only when a ring is used. */
  uint64_t total = MVR_HDR_SIZE + (uint64_t)MVR_MAX_RINGS * opt.ring_size;
  if (ftruncate(fd, (off_t)total) < 0) mvr_die_errno("ftruncate of the ring (%llu bytes)", (unsigned long long)total);
  void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) mvr_die_errno("mmap of the ring");
  shm = p;
  ring_data = (uint8_t *)p + MVR_HDR_SIZE;
  memset(shm, 0, sizeof *shm);
  shm->magic = MVR_SHM_MAGIC;
  shm->version = MVR_SHM_VERSION;
  shm->data_size = opt.ring_size;
  shm->max_buf = opt.ring_size / 16;
  shm->ring_wait_ms = opt.deadline_ms;
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

static int spawn(char **argv, int follower, int shm_fd, int log_fd) {
  pid_t pid = fork();
  if (pid < 0) mvr_die_errno("fork");
  if (pid) return pid;
  sigprocmask(SIG_SETMASK, &orig_mask, NULL);
  /* The user's settings first, so that a LD_PRELOAD among them is kept after the agent's. */
  if (follower) set_env_list(opt.follower_env, opt.n_follower_env);
  else set_env_list(opt.leader_env, opt.n_leader_env);
  if (opt.follower_argv) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", shm_fd);
    setenv(MVR_ENV_SHM_FD, buf, 1);
    setenv(MVR_ENV_ROLE, follower ? "follower" : "leader", 1);
    int mine = fdchan[follower ? 1 : 0];
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
    if (follower) setenv(MVR_ENV_RULES, opt.rules ? opt.rules : "", 1);
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
  static const mvr_rule_info *info;
  static const uint32_t *count;
  if (idx == MVR_RULE_DEFAULT) {
    snprintf(out, cap, "default rule (a syscall matches itself)");
    return;
  }
  if (!mod && opt.rules) {
    mod = dlopen(opt.rules, RTLD_LAZY | RTLD_LOCAL);
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
  const char *stage = follower_active() && shm->follower_attached ? "outdated leader" : "single leader";
  uint64_t used = 0;
  unsigned pairs = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    used += shm->ring[k].head - shm->ring[k].tail;
    if (shm->ring[k].in_use) pairs++;
  }
  sb_add(&b, "{\"stage\":\"%s\",\"leader\":{\"pid\":%d,\"state\":\"%s\"},", stage, leader_pid, state_name(leader_state, 0));
  if (opt.follower_argv)
    sb_add(&b, "\"follower\":{\"pid\":%d,\"state\":\"%s\"},", follower_pid, state_name(follower_state, 1));
  else
    sb_add(&b, "\"follower\":null,");
  uint64_t wait_ns = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) wait_ns += shm->ring[k].leader_wait_ns;
  sb_add(&b, "\"events\":{\"recorded\":%llu,\"consumed\":%llu},", (unsigned long long)total_events(), (unsigned long long)total_consumed());
  sb_add(&b, "\"threads\":%u,", pairs);
  sb_add(&b, "\"ring\":{\"size\":%llu,\"used\":%llu,\"leaderWaitMs\":%llu},", (unsigned long long)shm->data_size,
         (unsigned long long)used, (unsigned long long)(wait_ns / 1000000u));
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

static void serve_client(int lfd) {
  int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || (cred.uid != geteuid() && cred.uid != 0)) {
    const char *msg = "{\"error\":\"permission denied\"}\n";
    (void)!write(c, msg, strlen(msg));
    close(c);
    return;
  }
  struct timeval tv = {0, 200000}; /* a client gets 200 ms to send its command */
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char cmd[128];
  ssize_t n = 0;
  while (n < (ssize_t)sizeof cmd - 1) {
    ssize_t k = read(c, cmd + n, sizeof cmd - 1 - (size_t)n);
    if (k <= 0) break;
    n += k;
    if (memchr(cmd, '\n', (size_t)n)) break;
  }
  cmd[n > 0 ? n : 0] = 0;
  char *nl = strchr(cmd, '\n');
  if (nl) *nl = 0;
  char *out;
  if (!strcmp(cmd, "status")) out = status_json();
  else out = fmt_alloc("{\"error\":\"unknown command\",\"command\":\"%.60s\"}\n", cmd);
  size_t off = 0, total = strlen(out);
  while (off < total) {
    ssize_t k = write(c, out + off, total - off);
    if (k <= 0) break;
    off += (size_t)k;
  }
  free(out);
  close(c);
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
      for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
        __atomic_store_n(&shm->ring[k].leader_eof, 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&shm->ring[k].head_seq, 1, __ATOMIC_SEQ_CST);
        futex_wake(&shm->ring[k].head_seq);
      }
    } else if (p == follower_pid && follower_state == P_RUNNING) {
      on_follower_exit(st);
    }
  }
}

int main(int argc, char **argv) {
  mvr_set_prog("mvr-monitor");
  parse_args(argc, argv);
  /* Orphaned follower (and leader) child processes are reparented to the monitor and reaped. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  int shm_fd = create_shm();
  if (opt.follower_argv) create_fd_channel();

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

  leader_pid = spawn(opt.leader_argv, 0, shm_fd, -1);
  leader_state = P_RUNNING;
  if (opt.follower_argv) {
    follower_pid = spawn(opt.follower_argv, 1, shm_fd, log_fd);
    follower_state = P_RUNNING;
    close(log_fd);
    close(fdchan[0]);
    close(fdchan[1]);
  } else {
    shm->follower_attached = 0;
  }
  uint64_t leader_exit_ms = 0;

  for (;;) {
    struct pollfd pf[2] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
    int r = poll(pf, lfd >= 0 ? 2 : 1, 20);
    if (r < 0 && errno != EINTR) mvr_die_errno("poll");
    if (r > 0 && (pf[0].revents & POLLIN)) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD && leader_state == P_RUNNING) kill(leader_pid, (int)si.ssi_signo);
      }
    }
    reap();
    if (r > 0 && lfd >= 0 && (pf[1].revents & POLLIN)) serve_client(lfd);
    check_progress();
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
