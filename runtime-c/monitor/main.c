/* mvr-monitor — starts the leader and the follower, owns the shared ring and the control socket,
 * and retires the follower on a crash, a hang, a divergence or a full ring. It never sits on the
 * syscall path: the agents in both processes talk through the ring.
 *
 *   mvr-monitor --agent SO [--rules SO] [--back SO] [--control SOCK] [--follower-log FILE] [--state-dir DIR]
 *               [--state replay|handoff] [--ring-size BYTES] [--journal-size BYTES] [--journal-min-free BYTES]
 *               [--deadline-ms N] [--leader-env K=V]...
 *               [--follower-env K=V]... -- LEADER_CMD... [::: FOLLOWER_CMD...]
 *   mvr-monitor --agent SO --record TRACE [--ring-size BYTES] [--leader-env K=V]... -- CMD...
 *
 * Exit status: the leader's (128+N when it was killed by signal N); 2 for a usage/environment error.
 *
 * --record (`mvrc record`): the leader runs alone under the agent and records as if a follower
 * were attached; the monitor itself consumes every ring and writes the events to TRACE in the
 * JSON-lines trace format (docs/traces.md). See record.c.
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
 * follower), which keeps those of the journal so that a replaying follower gets them again.
 *
 * The files: main.c (options, signals, the main loop), shm.c (the shared header and rings),
 * processes.c (spawning, reaping, retiring, crash and hang detection), reports.c (retirement
 * reports), relay.c (descriptor channels and relay), journal.c (the journal's descriptor queue),
 * lifecycle.c (stages, update, promote, commit, rollback, role switches), handoff.c (updates by
 * state handoff), control.c (the control socket), timeline.c (the timeline and clocks), record.c
 * (--record). Their shared state is in monitor.h. Text is built with common/mvr_strbuf.h and
 * common/mvr_json.h, descriptors are passed with common/mvr_fdpass.h. */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

options opt;
sigset_t orig_mask;

static void usage(const char *msg) {
  mvr_die(
      "%s\nusage: mvr-monitor --agent SO [--rules SO] [--back SO] [--control SOCK] [--follower-log FILE] "
      "[--state-dir DIR] [--ring-size BYTES] [--journal-size BYTES] [--journal-min-free BYTES] [--deadline-ms N] [--max-tasks N] "
      "[--leader-env K=V]... [--follower-env K=V]... -- LEADER_CMD... [::: FOLLOWER_CMD...]\n"
      "       mvr-monitor --agent SO --record TRACE [--ring-size BYTES] [--max-tasks N] [--leader-env K=V]... -- CMD...",
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
  /* On disk and sparse (shm.c): as large as a ring can be, free space bounding it as well
   * (--journal-min-free). */
  opt.journal_size = MVR_RING_MAX;
  opt.deadline_ms = 3000;
  opt.max_tasks = MVR_DEFAULT_RINGS;
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
    else if (!strcmp(a, "--journal-min-free")) opt.journal_min_free = parse_num(a, v), opt.journal_min_free_given = 1;
    else if (!strcmp(a, "--state")) {
      if (strcmp(v, "replay") && strcmp(v, "handoff")) usage("--state expects replay or handoff");
      opt.state = v;
    } else if (!strcmp(a, "--control")) opt.control = v;
    else if (!strcmp(a, "--record")) opt.record = v;
    else if (!strcmp(a, "--follower-log")) opt.follower_log = v;
    else if (!strcmp(a, "--state-dir")) opt.state_dir = v;
    else if (!strcmp(a, "--ring-size")) opt.ring_size = parse_num(a, v), opt.ring_size_given = 1;
    else if (!strcmp(a, "--deadline-ms")) opt.deadline_ms = (uint32_t)parse_num(a, v);
    else if (!strcmp(a, "--max-tasks")) {
      uint64_t n = parse_num(a, v);
      if (n < 1 || n > MVR_MAX_RINGS) {
        char msg[128];
        snprintf(msg, sizeof msg, "--max-tasks must be between 1 and %d", MVR_MAX_RINGS);
        usage(msg);
      }
      opt.max_tasks = (uint32_t)n;
    } else if (!strcmp(a, "--leader-env") || !strcmp(a, "--follower-env")) {
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
  if (opt.ring_size > MVR_RING_MAX || opt.journal_size > MVR_RING_MAX) {
    char msg[160];
    snprintf(msg, sizeof msg, "--ring-size and --journal-size are at most %llu bytes (4 GiB - 4 KiB) per ring",
             (unsigned long long)MVR_RING_MAX);
    usage(msg);
  }
  opt.ring_size = (opt.ring_size + 4095) & ~(uint64_t)4095;
  if (opt.deadline_ms == 0) usage("--deadline-ms must be positive");
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
  create_shm();
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul < 0) mvr_die_errno("open /dev/null");
  placeholder_fd = high_fd(nul);
  if (lifecycle) {
    shm->lifecycle = 1;
    if (!opt.follower_argv && opt.journal_size && !shm->journal_ended_by_space) {
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
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGUSR2);
  sigprocmask(SIG_BLOCK, &mask, &orig_mask);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) mvr_die_errno("signalfd");
  if (opt.record) return record_run(sfd);
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
  if (opt.follower_argv || lifecycle) leader.chan = new_channel(&child);
  int dsu_child = -1;
  if (lifecycle) leader.dsu = new_dsu_channel(&dsu_child);
  spawn(&leader, opt.leader_argv, -1, child, dsu_child, opt.leader_env, opt.n_leader_env);
  if (child >= 0) close(child);
  if (dsu_child >= 0) close(dsu_child);
  upd.back = opt.back ? mvr_xstrdup(opt.back) : NULL;
  if (opt.follower_argv) {
    follower.chan = new_channel(&child);
    follower.rules = opt.rules;
    follower.number = 2;
    spawn(&follower, opt.follower_argv, log_fd, child, -1, opt.follower_env, opt.n_follower_env);
    close(child);
    stage = ST_OUTDATED;
    close(log_fd);
    tl_add("start", "version 1 (pid %d) leads, version 2 (pid %d) follows from the start", leader.pid, follower.pid);
  } else {
    shm->follower_attached = 0;
    stage = ST_SINGLE;
    tl_add("start", "version 1 (pid %d) leads alone%s", leader.pid,
           shm->journal_valid ? ", keeping a journal for updates" : "");
  }
  uint64_t leader_exit_ms = 0;

  for (;;) {
    struct pollfd pf[4] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}, {leader.chan, POLLIN, 0}, {follower.chan, POLLOUT, 0}};
    if (lfd < 0) pf[1].fd = -1;
    if (jq_fwd >= jq_n) pf[3].fd = -1;
    int r = poll(pf, 4, 20);
    if (r < 0 && errno != EINTR) mvr_die_errno("poll");
    if (r > 0 && (pf[0].revents & POLLIN)) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si)
        if (si.ssi_signo != SIGCHLD) operator_signal((int)si.ssi_signo);
    }
    /* While the journal is kept, the channel is drained a batch at a time between scans of the
     * leader's closes, so the monitor never holds a burst of descriptors it could drop. */
    if (jq_keep && shm->journal_valid) journal_scan_closes();
    else relay_read();
    handoff_tick();
    journal_scan_closes();
    relay_forward();
    if (jq_keep && !shm->journal_valid) jq_drop_journal();
    reap();
    if (r > 0 && lfd >= 0 && (pf[1].revents & POLLIN)) serve_client(lfd);
    check_progress();
    switch_progress();
    lifecycle_tick();
    if (leader.state == P_EXITED && role_switch.op == OP_FAILOVER) continue;
    if (leader.state == P_RUNNING) leader_exit_ms = 0;
    if (leader.state == P_EXITED) {
      if (!follower_active()) break;
      if (stop_follower_at_end()) break;
      /* Give the follower time to reach the leader's end; then it is retired. */
      if (!leader_exit_ms) leader_exit_ms = now_ms();
      if (now_ms() - leader_exit_ms > (opt.deadline_ms > 2000 ? opt.deadline_ms : 2000)) {
        char *ctx = context_lines();
        retire(
            "leader-exited", shm->ring[0].consumed,
            mvr_fmt("  the follower had not finished %u ms after the leader exited (%llu of %llu events consumed)\n%s",
                    opt.deadline_ms > 2000 ? opt.deadline_ms : 2000, (unsigned long long)total_consumed(),
                    (unsigned long long)total_events(), ctx));
        free(ctx);
        break;
      }
    }
  }
  if (opt.control) unlink(opt.control);
  return leader_exit_code();
}
