/* handoff.c — handoff under MVE: the agent's side of mvr_agent_api.h (the exported mvr_agent), the
 * handoff fork, and the new version's prelude before its first update point. */
#include "agent.h"

/* ---- handoff under MVE (mvr_agent_api.h) -------------------------------------------------------
 * The leader's handoff library forks at an update point; the child serialises the state and execs
 * the new version, which loads it and then follows the leader from the fork point. The agent makes
 * the fork point the start of a fresh event stream (the new version has no history to replay),
 * makes the child a child of the monitor (which watches it like any follower), and hands it
 * every descriptor the leader has, so that the new version's descriptor table matches the
 * leader's; epoll instances are replaced by empty ones, since a shared one would let the follower
 * change what the leader waits for. */

static int fd_is_epoll(int fd) {
  char path[40], link[32];
  if (RAW2(SYS_fcntl, fd, F_GETFD) < 0) return 0; /* not open: a cheap answer before procfs */
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  long n = RAW4(SYS_readlinkat, AT_FDCWD, path, link, sizeof link - 1);
  if (n <= 0) return 0;
  link[n] = 0;
  return !strcmp(link, "anon_inode:[eventpoll]");
}

/* Calls fn(epfd, fd, events, data) for each registration of epoll instance epfd, from
 * /proc/self/fdinfo (lines "tfd: FD events: HEX data: HEX ..."). */
static void epoll_registrations(int epfd, void (*fn)(int, int, uint32_t, uint64_t)) {
  char path[40];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
  int fd = (int)RAW4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return;
  char buf[8192];
  size_t have = 0;
  for (;;) {
    long n = RAW3(SYS_read, fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0 && have == 0) break;
    if (n > 0) have += (size_t)n;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) || (n <= 0 && *line)) {
      if (nl) *nl = 0;
      if (!strncmp(line, "tfd:", 4)) {
        char *p = line + 4, *e;
        long tfd = strtol(p, &e, 10);
        char *ev = strstr(e, "events:"), *da = strstr(e, "data:");
        if (ev && da && tfd >= 0 && tfd < FDMAX)
          fn(epfd, (int)tfd, (uint32_t)strtoul(ev + 7, NULL, 16), (uint64_t)strtoull(da + 5, NULL, 16));
      }
      if (!nl) {
        line += strlen(line);
        break;
      }
      line = nl + 1;
    }
    size_t used = (size_t)(line - buf);
    memmove(buf, line, have - used);
    have -= used;
    if (n <= 0) break;
    if (have == sizeof buf - 1) have = 0; /* a line longer than the buffer: not a registration */
  }
  RAW1(SYS_close, fd);
}

static void note_leader_registration(int epfd, int fd, uint32_t events, uint64_t data) {
  g_fdata[fd] = data;
  g_fev[fd] = events;
  g_fepfd[fd] = epfd + 1;
  leader_note(fd, (int64_t)data); /* the follower's view maps this data back to fd */
}

static int api_handoff_prepare(char *err, size_t cap) {
  tstate *ts = t_ts;
  if (g_agent.role != ROLE_LEADER || !ts || ts->ring != 0) {
    snprintf(err, cap, "a handoff under mvrc starts from the leader's main thread");
    return -1;
  }
  if (g_agent.shm->leader_threads) {
    snprintf(err, cap,
             "a handoff under mvrc supports single-threaded programs only (this one started threads or processes)");
    return -1;
  }
  if (!__atomic_load_n(&g_agent.shm->follower_attached, __ATOMIC_SEQ_CST)) {
    snprintf(err, cap, "the monitor did not ask for a handoff (no follower is expected)");
    return -1;
  }
  uint64_t old;
  block_signals(&old);
  /* Descriptors queued at the monitor for the old stream are dropped at this marker. */
  mvr_fdmsg m = {.event = 0, .ring = MVR_FDMSG_RESET, .n = 0};
  mvr_fd_send(g_agent.fdsock, &m, sizeof m, NULL, 0, MSG_NOSIGNAL);
  ring_restart(ts->rc);
  ts->leader_stopped = 0;
  /* The registrations, read back from the kernel: a leader that ran without recording (no
   * journal) did not see its epoll_ctl calls. */
  memset(g_fepfd, 0, sizeof g_fepfd);
  for (int fd = 0; fd < MVR_FD_BASE; fd++)
    if (fd_is_epoll(fd)) epoll_registrations(fd, note_leader_registration);
  __atomic_store_n(&g_agent.shm->handoff_point, 1, __ATOMIC_SEQ_CST);
  restore_signals(&old);
  arm_sud(); /* a leader that stopped recording had disarmed it */
  t_handoff_fork = 1;
  return 0;
}

/* In the handoff child, right after the fork: not under the agent (SUD is not inherited), and
 * holding the leader's descriptors as the new version will need them. */
static void handoff_child_setup(void) {
  g_agent.role = ROLE_NONE;
  t_ts = NULL;
  RAW1(SYS_close, g_agent.fdsock); /* the leader's channel; the new version gets its own */
  RAW2(SYS_setpgid, 0, 0);         /* a terminal's ^C reaches the leader, which records it */
  for (int fd = 0; fd < MVR_FD_BASE; fd++) {
    long fl = RAW2(SYS_fcntl, fd, F_GETFD);
    if (fl < 0) continue;
    if (fd_is_epoll(fd)) {
      long e = RAW1(SYS_epoll_create1, 0);
      if (e >= 0) {
        RAW3(SYS_dup3, e, fd, 0);
        RAW1(SYS_close, e);
      }
    } else if (fl & FD_CLOEXEC) {
      RAW3(SYS_fcntl, fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
  }
}

void handoff_fork(uint32_t nr, int64_t *a, greg_t *g) {
  t_handoff_fork = 0;
  if (nr == SYS_fork) {
    nr = SYS_clone;
    a[0] = SIGCHLD;
    a[1] = a[2] = a[3] = a[4] = 0;
  }
  if (nr == SYS_clone) {
    a[0] |= CLONE_PARENT;
  } else if (nr == SYS_clone3 && a[0] && (uint64_t)a[1] >= 64) {
    ((struct clone_args *)(uintptr_t)a[0])->flags |= CLONE_PARENT;
  } else {
    g[REG_RAX] = -EINVAL; /* vfork or a thread: not a handoff */
    return;
  }
  long ret = mvr_raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]); /* fork-like: no new stack */
  if (ret == 0) handoff_child_setup();
  g[REG_RAX] = ret;
}

/* The new version's calls before its first update point: its own start-up and the loading of the
 * old version's state. Nothing is compared yet, but nothing may reach the outside either: only
 * calls with a local effect run. Returns 0 for the calls the handler treats as usual. */
static int prelude_allowed(uint32_t nr, const int64_t *a) {
  int effect = mvr_si_effect(nr);
  if (effect == MVR_EFFECT_LOCAL || effect == MVR_EFFECT_READONLY) return 1;
  switch (nr) {
    case SYS_write:
    case SYS_writev:
    case SYS_pwrite64: return (int)a[0] == 1 || (int)a[0] == 2; /* its log */
    case SYS_close:
    case SYS_dup:
    case SYS_dup2:
    case SYS_dup3:
    case SYS_epoll_ctl: /* every epoll instance it has is its own (handoff_child_setup) */ return 1;
    case SYS_fcntl:
      return (int)a[1] == F_GETFD || (int)a[1] == F_SETFD || (int)a[1] == F_GETFL || (int)a[1] == F_DUPFD ||
             (int)a[1] == F_DUPFD_CLOEXEC;
    case SYS_signalfd:
    case SYS_signalfd4: return (int)a[0] == -1; /* a new one (changing an inherited one would change the leader's) */
    case SYS_open:
    case SYS_openat: {
      int64_t fl = nr == SYS_open ? a[1] : a[2];
      return (fl & O_ACCMODE) == O_RDONLY && !(fl & (O_CREAT | O_TRUNC));
    }
    default: return 0;
  }
}

int prelude_call(uint32_t nr, const int64_t *a, greg_t *g) {
  switch (nr) {
    case SYS_rt_sigreturn:
    case SYS_rt_sigaction:
    case SYS_rt_sigprocmask: return 0;
    case SYS_exit_group:
    case SYS_exit:
      mvr_raw_syscall(nr, a[0], 0, 0, 0, 0, 0); /* e.g. a state it could not load: the monitor sees the status */
      __builtin_unreachable();
    default: break;
  }
  if (prelude_allowed(nr, a)) {
    int64_t ret = exec_call(nr, a);
    if (nr == SYS_epoll_ctl && ret == 0) epoll_note_own(a);
    g[REG_RAX] = ret;
    return 1;
  }
  mvr_call c;
  memset(&c, 0, sizeof c);
  c.nr = nr;
  for (int i = 0; i < 6; i++) c.args[i] = a[i];
  follower_retire(MVR_REPORT_DIVERGE,
                  "before its first update point (while it loads the old version's state) the new version made a call "
                  "with an effect outside itself; only local calls are allowed until it follows",
                  &c, 0, MVR_RULE_DEFAULT);
}

static int api_active(void) { return g_agent.role != ROLE_NONE; }
static void api_passthrough(int on) { t_passthrough += on ? 1 : -1; }
static int api_update_pending(void) {
  return g_agent.role == ROLE_LEADER && __atomic_load_n(&g_agent.shm->dsu_pending, __ATOMIC_SEQ_CST);
}
static int api_following(void) { return g_agent.handoff_follower && g_agent.role == ROLE_FOLLOWER; }
void api_follow(void) { g_agent.prelude = 0; }

EXPORT const mvr_agent_api mvr_agent = {
    .version = MVR_AGENT_API_VERSION,
    .active = api_active,
    .passthrough = api_passthrough,
    .update_pending = api_update_pending,
    .handoff_prepare = api_handoff_prepare,
    .following = api_following,
    .follow = api_follow,
};
