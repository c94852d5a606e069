/* The two versions as processes: spawning them, reaping them, watching the follower's child
 * processes through pidfds, detecting crashes and hangs, and retiring or ending the follower. */
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

struct version leader = {.pid = -1, .state = P_NONE, .number = 1, .chan = -1, .chan_no = -1, .dsu = -1, .dsu_no = -1};
struct version follower = {.pid = -1, .state = P_NONE, .chan = -1, .chan_no = -1, .dsu = -1, .dsu_no = -1};

static void set_env_list(const char *const *list, int n) {
  for (int i = 0; i < n; i++) {
    char *kv = strdup(list[i]); /* in the child: _exit, never mvr_die (its exit would flush the parent's stdio) */
    if (!kv) _exit(127);
    char *eq = strchr(kv, '=');
    if (!eq) { /* not K=V: nothing to set */
      free(kv);
      continue;
    }
    *eq = 0;
    setenv(kv, eq + 1, 1);
    free(kv);
  }
}

/* Starts ARGV as version V (the leader, or the follower running V->rules) with its ends of the
 * descriptor channel and the handoff channel (-1: none) and, for the follower, LOG_FD as its
 * output. V gets the pid, the numbers of those ends in the process, and the running state. */
void spawn(struct version *v, char **argv, int log_fd, int chan, int dsu, const char *const *env, int n_env) {
  int as_follower = v == &follower;
  const char *rules = v->rules;
  pid_t pid = fork();
  if (pid < 0) mvr_die_errno("fork");
  if (pid) {
    v->pid = pid;
    v->state = P_RUNNING;
    v->chan_no = chan;
    v->dsu_no = dsu;
    return;
  }
  sigprocmask(SIG_SETMASK, &orig_mask, NULL);
  /* The user's settings first, so that a LD_PRELOAD among them is kept, before the agent's. */
  set_env_list(env, n_env);
  if (dsu >= 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", dsu);
    setenv(MVR_ENV_DSU_CTL_FD, buf, 1);
    fcntl(dsu, F_SETFD, 0);
  }
  if (chan >= 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", shm_fd);
    setenv(MVR_ENV_SHM_FD, buf, 1);
    setenv(MVR_ENV_ROLE, as_follower ? "follower" : "leader", 1);
    int mine = chan;
    snprintf(buf, sizeof buf, "%d", mine);
    setenv(MVR_ENV_FDSOCK, buf, 1);
    fcntl(shm_fd, F_SETFD, 0);
    fcntl(mine, F_SETFD, 0);
    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
      /* The user's preloads first: a library interposing read, write, clock_gettime... gets the
       * program's calls as it would without mvrc, and its own calls of the next definition reach
       * the agent (which records or matches what it passes on). The dynamic loader runs the
       * constructors in the reverse order, so the agent's arms syscall user dispatch before the
       * user's run: their calls are recorded and matched too. A sanitizer runtime (libasan),
       * which must come first, can be preloaded. */
      size_t n = strlen(opt.agent) + strlen(old) + 2;
      char *pre = malloc(n);
      if (!pre) _exit(127);
      snprintf(pre, n, "%s:%s", old, opt.agent);
      setenv("LD_PRELOAD", pre, 1);
    } else {
      setenv("LD_PRELOAD", opt.agent, 1);
    }
    if (as_follower) setenv(MVR_ENV_RULES, rules ? rules : "", 1);
    else unsetenv(MVR_ENV_RULES);
  }
  if (as_follower) {
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

static int child_pidfd[MVR_MAX_RINGS];

/* Ends the follower's whole process tree: its process group, and every child process the agents
 * named in the rings, since a child that left the group (setsid, setpgid: daemons' and vsftpd's
 * children do) is not reached through it. A child already seen is signalled through its pidfd (no
 * pid reuse); one not seen yet only if it has not matched its exit. Waits (bounded) until they
 * are gone, so that none outlives `mvrc run`. */
static void kill_follower_tree(void) {
  if (follower.pid > 0) kill(-follower.pid, SIGKILL);
  struct pollfd pf[MVR_MAX_RINGS];
  int n = 0;
  for (unsigned k = 1; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (child_pidfd[k] == 0 && rc->follower_pid > 0 && !rc->follower_exited) {
      int fd = (int)syscall(SYS_pidfd_open, rc->follower_pid, 0);
      child_pidfd[k] = fd < 0 ? -1 : fd;
    }
    if (child_pidfd[k] <= 0) continue;
    syscall(SYS_pidfd_send_signal, child_pidfd[k], SIGKILL, NULL, 0);
    pf[n++] = (struct pollfd){child_pidfd[k], POLLIN, 0};
  }
  uint64_t t0 = now_ms();
  for (int i = 0; i < n && now_ms() - t0 < 2000; i++)
    while (poll(&pf[i], 1, 100) == 0 && now_ms() - t0 < 2000) {}
}

void retire(const char *reason, uint64_t event, char *detail) {
  detach_follower();
  kill_follower_tree();
  if (follower.state == P_RUNNING) {
    kill(follower.pid, SIGKILL);
    int st;
    while (waitpid(follower.pid, &st, 0) < 0 && errno == EINTR) {}
  }
  follower.state = P_RETIRED;
  add_retirement(reason, event, detail);
}

/* The retirement reason for a report the follower's agent left in the shared header. */
static const char *report_reason(uint32_t kind) {
  static const char *const names[] = {"", "divergence", "expected-divergence", "unsupported", "runtime-error", "crash"};
  return kind > 0 && kind < 6 ? names[kind] : "divergence";
}

/* The follower's main process ended and is retired: the rest of its tree goes with it. */
static void follower_ended_retired(void) {
  detach_follower();
  kill_follower_tree();
  follower.state = P_RETIRED;
}

void on_follower_exit(int st) {
  follower.state = P_EXITED;
  uint32_t kind = __atomic_load_n(&shm->report_kind, __ATOMIC_SEQ_CST);
  if (WIFEXITED(st) && WEXITSTATUS(st) == MVR_FOLLOWER_REPORT_EXIT && kind != MVR_REPORT_NONE) {
    follower_ended_retired();
    add_retirement(report_reason(kind), shm->report_event, mvr_fmt("  %s", shm->report));
    return;
  }
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    follower_ended_retired();
    char *ctx = context_lines();
    add_retirement("crash", shm->ring[0].consumed,
                   mvr_fmt("  the follower was killed by signal %d (%s)%s\n%s", sig, strsignal(sig),
                           WCOREDUMP(st) ? ", core dumped" : "", ctx));
    free(ctx);
    return;
  }
  if (ho_state == HO_LOADING) {
    /* A handoff's new version that ended before it followed: it could not load the state. */
    follower_ended_retired();
    add_retirement("load-failed", 0,
                   mvr_fmt("  the new version exited with status %d before its first update point: %s\n",
                           WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                           ho_error[0] ? ho_error : "it sent no report (see its log)"));
    return;
  }
  if (!shm->ring[0].follower_exited) {
    /* It ended without matching the leader's exit: its agent could not start, or it was not
     * the program it should be. */
    follower_ended_retired();
    char *ctx = context_lines();
    add_retirement("runtime-error", shm->ring[0].consumed,
                   mvr_fmt("  the follower exited with status %d without reaching the leader's exit (see its log)\n%s",
                           WIFEXITED(st) ? WEXITSTATUS(st) : -1, ctx));
    free(ctx);
    return;
  }
  /* A normal exit: the agent matched the follower's exit against the leader's. Its child
   * processes (if any) may still be catching up with theirs: they are watched until they end. */
  follower.state = P_FINISHED;
}

static uint64_t last_consumed_k[MVR_MAX_RINGS], last_progress_k[MVR_MAX_RINGS];
static uint32_t child_gen[MVR_MAX_RINGS]; /* the ring's pair (mvr_ringctl.gen) child_pidfd watches */

/* Follower processes other than the first (fork children) are not the monitor's children: their
 * end is seen through a pidfd, and their report through the shared header. */
static void check_follower_children(void) {
  uint32_t kind = __atomic_load_n(&shm->report_kind, __ATOMIC_SEQ_CST);
  if (kind != MVR_REPORT_NONE) {
    retire(report_reason(kind), shm->report_event, mvr_fmt("  %s", shm->report));
    return;
  }
  for (unsigned k = 1; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    uint32_t gen = __atomic_load_n(&rc->gen, __ATOMIC_SEQ_CST);
    if (child_pidfd[k] && child_gen[k] != gen) {
      /* The ring was taken by a new pair: the process watched matched its exit before that. */
      if (child_pidfd[k] > 0) close(child_pidfd[k]);
      child_pidfd[k] = 0;
    }
    if (rc->follower_pid <= 0) continue;
    if (child_pidfd[k] < 0) continue; /* already ended and judged */
    if (!child_pidfd[k]) {
      int fd = (int)syscall(SYS_pidfd_open, rc->follower_pid, 0);
      child_pidfd[k] = fd < 0 ? -1 : fd; /* gone already (reaped): judge it now */
      child_gen[k] = gen;
    }
    if (child_pidfd[k] > 0) {
      struct pollfd pf = {child_pidfd[k], POLLIN, 0};
      if (poll(&pf, 1, 0) != 1) continue;
      close(child_pidfd[k]);
      child_pidfd[k] = -1;
    }
    if (__atomic_load_n(&rc->gen, __ATOMIC_SEQ_CST) != gen) continue; /* reused meanwhile: it had ended well */
    if (rc->follower_exited || __atomic_load_n(&shm->report_kind, __ATOMIC_SEQ_CST) != MVR_REPORT_NONE) continue;
    char *ctx = context_lines();
    retire("crash", rc->consumed,
           mvr_fmt("  the follower's child process %d (task pair #%u) ended without reaching its leader's exit\n%s",
                   rc->follower_pid, k, ctx));
    free(ctx);
    return;
  }
}

/* Follower child processes still running (their pidfd not yet signalled). */
static int children_alive(void) {
  int n = 0;
  for (unsigned k = 1; k < MVR_MAX_RINGS; k++)
    n += child_pidfd[k] > 0 || (child_pidfd[k] == 0 && shm->ring[k].follower_pid > 0);
  return n;
}

int follower_active(void) { return follower.state == P_RUNNING || (follower.state == P_FINISHED && children_alive()); }

/* A leader child process that ended without recording its end (killed by a signal: its parent's
 * kill, as servers end their workers) ends its follower counterpart too, once that one has
 * consumed all of its events: a follower task waiting in a call of its own (a sleep) would
 * otherwise never learn that its pair is over. It is not a fault of the follower. */
static void ring_eof_monitor(mvr_ringctl *rc) {
  __atomic_store_n(&rc->leader_eof, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&rc->head_seq, 1, __ATOMIC_SEQ_CST);
  futex_wake(&rc->head_seq);
}

static int lchild_pidfd[MVR_MAX_RINGS];
static uint32_t lchild_gen[MVR_MAX_RINGS];
static uint8_t eof_by_monitor[MVR_MAX_RINGS]; /* ended by reap() at the leader's exit, not recorded */

static void end_with_leader_children(void) {
  for (unsigned k = 1; k < shm->nrings && k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    uint32_t gen = __atomic_load_n(&rc->gen, __ATOMIC_SEQ_CST);
    if (lchild_pidfd[k] && lchild_gen[k] != gen) {
      if (lchild_pidfd[k] > 0) close(lchild_pidfd[k]);
      lchild_pidfd[k] = 0;
    }
    int tg = rc->leader_tgid;
    /* Its end recorded by the agent (not merely marked when the main leader process exited). */
    int recorded_end = rc->leader_eof && !eof_by_monitor[k];
    if (lchild_pidfd[k] == -1 || tg <= 0 || tg == leader.pid || recorded_end || rc->follower_exited) continue;
    if (!lchild_pidfd[k]) {
      int fd = (int)syscall(SYS_pidfd_open, tg, 0);
      if (fd < 0 && errno != ESRCH) continue; /* try again later */
      lchild_pidfd[k] = fd < 0 ? -2 : fd;     /* -2: gone already (its parent reaped it) */
      lchild_gen[k] = gen;
    }
    if (lchild_pidfd[k] > 0) {
      struct pollfd pf = {lchild_pidfd[k], POLLIN, 0};
      if (poll(&pf, 1, 0) != 1) continue; /* still running */
    }
    if (rc->consumed < rc->events || rc->follower_pid <= 0) continue;
    if (lchild_pidfd[k] > 0) close(lchild_pidfd[k]);
    lchild_pidfd[k] = -1; /* done with this pair */
    int fpid = rc->follower_pid;
    __atomic_store_n(&rc->follower_exited, 1, __ATOMIC_SEQ_CST); /* ended with its pair: no crash */
    ring_eof_monitor(rc);
    int fd = child_pidfd[k] > 0 ? child_pidfd[k] : (int)syscall(SYS_pidfd_open, fpid, 0);
    if (fd >= 0) syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
    if (fd >= 0 && fd != child_pidfd[k]) close(fd);
    tl_add(
        "task-end",
        "the leader's child process %d (task pair #%u) was ended by a signal; its follower counterpart %d was ended with it",
        tg, k, fpid);
  }
}

void check_progress(void) {
  if (!follower_active()) return;
  end_with_leader_children();
  check_follower_children();
  if (!follower_active()) {
    if (follower.state == P_FINISHED) detach_follower();
    return;
  }
  uint64_t t = now_ms();
  if (__atomic_load_n(&shm->overflow, __ATOMIC_SEQ_CST)) {
    char *ctx = context_lines();
    if (shm->fd_error)
      retire("ring-full", shm->ring[0].consumed,
             mvr_fmt("  the leader could not pass a descriptor to the follower (%s): it fell behind by %llu events\n%s",
                     strerror(shm->fd_error), (unsigned long long)(total_events() - total_consumed()), ctx));
    else if (__atomic_load_n(&shm->follower_catching_up, __ATOMIC_SEQ_CST))
      retire(
          "ring-full", shm->ring[0].consumed,
          mvr_fmt(
              "  the ring (%llu bytes) filled while the new version was still %s (%llu events behind); the leader does not "
              "wait for a version that is not consuming yet. Start `mvrc run` with a larger --ring-size, or update when the load "
              "is lighter\n%s",
              (unsigned long long)shm->data_size,
              upd.handoff ? "loading the handed-off state" : "replaying the journal",
              (unsigned long long)(total_events() - total_consumed()), ctx));
    else
      retire("ring-full", shm->ring[0].consumed,
             mvr_fmt("  a ring (%llu bytes) stayed full for %u ms: the follower fell behind by %llu events\n%s",
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
        retire("hang", consumed,
               mvr_fmt("  the new version did not finish loading the handed-off state within %u ms while the leader "
                       "moved on (%llu events): a larger state needs a larger --deadline-ms\n",
                       opt.deadline_ms, (unsigned long long)rc->events));
        return;
      }
      char *ctx = context_lines();
      retire(
          "hang", consumed,
          mvr_fmt(
              "  no progress for %llu ms while the leader moved on (task pair #%u: leader at event #%llu, follower at #%llu)\n%s",
              (unsigned long long)(t - last_progress_k[k]), k, (unsigned long long)rc->events,
              (unsigned long long)consumed, ctx));
      free(ctx);
      return;
    }
  }
}

/* Ends the follower on request (rollback, commit): not a fault, so no retirement report. */
void end_follower(void) {
  detach_follower();
  kill_follower_tree();
  if (follower.pid > 0 && (follower.state == P_RUNNING || follower.state == P_FINISHED)) {
    kill(follower.pid, SIGKILL);
    int st;
    if (follower.state == P_RUNNING)
      while (waitpid(follower.pid, &st, 0) < 0 && errno == EINTR) {}
  }
  follower.state = P_RETIRED;
  release_follower_side();
}

/* new_follower: a new version starts following (its thread count and the follower's words of
 * every ring start afresh); else a role switch, where the agents restarted the rings themselves
 * and the new follower may be consuming already: only the monitor's own bookkeeping is reset. */
void reset_follower_side(int new_follower) {
  shm->report_kind = MVR_REPORT_NONE;
  shm->report[0] = 0;
  if (new_follower) {
    shm->follower_threads = 0;
    shm->order_done = 0; /* the new follower takes the producers from event #0 */
  }
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (new_follower) {
      mvr_ringctl_restart_follower(rc); /* the journal: nothing was released */
      rc->follower_pid = 0;
      rc->follower_waiting = 0;
      rc->in_local = 0;
      rc->order_wait = 0;
      rc->last_rule = MVR_RULE_DEFAULT;
    }
    last_consumed_k[k] = 0;
    last_progress_k[k] = 0;
    if (child_pidfd[k] > 0) close(child_pidfd[k]);
    child_pidfd[k] = 0;
  }
}

/* Operator signals: those sent to `mvrc run` (SIGTERM from systemctl stop, a terminal's ^C...)
 * are forwarded to the leader, which handles them as it would alone (a handler's run is recorded
 * and replayed in the follower at the same event). One that ends the leader is a stop, not a
 * crash: no failover; the follower is ended once it has consumed every event of the leader. */
static uint64_t operator_sigs; /* the signals forwarded so far (bit N: signal N) */
static int stopped_by;         /* the operator's signal that ended the leader, 0: none */

void operator_signal(int sig) {
  if (leader.state != P_RUNNING || sig <= 0 || sig >= 64) return;
  operator_sigs |= 1ull << sig;
  tl_add("signal", "%s from the operator, passed to version %d (pid %d)", strsignal(sig), leader.number, leader.pid);
  kill(leader.pid, sig);
}

/* After a stop: once the follower has consumed all of the leader's events it is ended (its
 * state is the leader's at its end; it is not retired). Returns whether it was. */
int stop_follower_at_end(void) {
  if (!stopped_by || total_consumed() < total_events()) return 0;
  unsigned long long n = (unsigned long long)total_events();
  int pid = follower.pid, number = follower.number;
  end_follower();
  tl_add("stop", "%s ended version %d; version %d had consumed all %llu events and was ended with it",
         strsignal(stopped_by), leader.number, number, n);
  fprintf(stderr,
          "mvr-monitor: stopped: %s ended the leader (version %d); the follower (version %d, pid %d) had consumed all "
          "%llu of its events and was ended with it\n",
          strsignal(stopped_by), leader.number, number, pid, n);
  return 1;
}

int leader_exit_code(void) {
  if (WIFEXITED(leader.status)) return WEXITSTATUS(leader.status);
  if (WIFSIGNALED(leader.status)) return 128 + WTERMSIG(leader.status);
  return 2;
}

void reap(void) {
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    /* A follower that took over (its agent finished the switch) and already ended, before this
     * loop finished the switch: finish it first, so that its end is the leader's. */
    if (p == follower.pid && role_switch.op != OP_NONE &&
        __atomic_load_n(&shm->promote_state, __ATOMIC_SEQ_CST) == MVR_PROMOTE_DONE)
      switch_progress();
    if (p == leader.pid) {
      leader.state = P_EXITED;
      leader.status = st;
      int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
      if (sig > 0 && sig < 64 && (operator_sigs & (1ull << sig))) {
        /* A stop: the follower catches up and is ended (stop_follower_at_end). Its streams are
         * not ended, or its next call would find no leader event and diverge. */
        stopped_by = sig;
        if (role_switch.op != OP_NONE && role_switch.client >= 0) {
          reply_error(role_switch.client, "the leader was stopped by the operator (%s) during the switch",
                      strsignal(sig));
          role_switch.client = -1;
        }
        role_switch.op = OP_NONE;
        continue;
      }
      if (lifecycle && WIFSIGNALED(st) && follower.state == P_RUNNING && shm->follower_attached &&
          leader_child_process() < 0 && (stage == ST_OUTDATED || stage == ST_UPDATED)) {
        /* The leader crashed during MVE: its follower takes over once it consumed its events. */
        if (role_switch.op == OP_NONE)
          tl_add("crash", "the leader (version %d, pid %d) was killed by signal %d (%s): version %d takes over",
                 leader.number, leader.pid, WTERMSIG(st), strsignal(WTERMSIG(st)), follower.number);
        if (role_switch.op != OP_NONE && role_switch.client >= 0) {
          reply_error(role_switch.client, "the leader crashed during the switch: its follower takes over");
          role_switch.client = -1;
        }
        __atomic_store_n(&shm->leader_dead, 1, __ATOMIC_SEQ_CST); /* no thread of it is inside a call */
        __atomic_store_n(&shm->leader_paused, 1, __ATOMIC_SEQ_CST);
        uint32_t st = __atomic_load_n(&shm->promote_state, __ATOMIC_SEQ_CST);
        if (role_switch.op == OP_NONE || !role_switch.requested ||
            (st != MVR_PROMOTE_REQ && st != MVR_PROMOTE_SWITCHING))
          begin_switch(OP_FAILOVER, 0, "", -1);
        role_switch.op = OP_FAILOVER;
        shm->old_follows = 0;
        for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
          __atomic_add_fetch(&shm->ring[k].head_seq, 1, __ATOMIC_SEQ_CST);
          futex_wake(&shm->ring[k].head_seq);
        }
        continue;
      }
      for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
        if (!shm->ring[k].leader_eof) eof_by_monitor[k] = 1;
        __atomic_store_n(&shm->ring[k].leader_eof, 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&shm->ring[k].head_seq, 1, __ATOMIC_SEQ_CST);
        futex_wake(&shm->ring[k].head_seq);
      }
    } else if (p == follower.pid && follower.state == P_RUNNING) {
      follower.status = st;
      on_follower_exit(st);
    } else {
      handoff_child_exited(p, st); /* perhaps a handoff child whose "forked" report is not read yet */
    }
  }
}
