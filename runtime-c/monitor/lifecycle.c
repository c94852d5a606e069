/* The update lifecycle (docs/lifecycle.md): stages, update by replay, catch-up, commit, rollback,
 * the automatic retry, and the role switches (promote, rollback, failover). */
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "mvr_sysinfo.h"
#include "monitor.h"

int lifecycle; /* the leader runs under the agent and may be updated (--agent and --control) */
enum stage stage;
const char *const stage_names[] = {"single leader", "outdated leader", "updated leader"};
int next_version = 2;
struct update upd;
struct catch_up catchup;
struct role_switch role_switch = {.op = OP_NONE, .client = -1};

void set_catching_up(int on) {
  catchup.backlog_mark = 0;
  __atomic_store_n(&shm->follower_catching_up, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

/* What the monitor holds for a follower that is gone: its channels, its queued descriptors, the
 * catch-up state. */
void release_follower_side(void) {
  if (follower.chan >= 0) {
    close(follower.chan);
    follower.chan = -1;
  }
  close_dsu(&follower);
  jq_trim();
  catchup.active = 0;
  set_catching_up(0);
}

void follower_gone(const char *why, int failure) {
  release_follower_side();
  if (role_switch.op == OP_PROMOTE || role_switch.op == OP_ROLLBACK) {
    uint32_t want = MVR_PROMOTE_REQ;
    __atomic_compare_exchange_n(&shm->promote_state, &want, MVR_PROMOTE_ABORT, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    futex_wake(&shm->promote_state);
    reply_error(role_switch.client, "the follower was retired during the switch (%s): nothing changed", why);
    role_switch.client = -1;
    role_switch.op = OP_NONE;
  }
  if (stage == ST_OUTDATED) {
    stage = ST_SINGLE;
    if (lifecycle && failure) {
      tl_add("rollback",
             "automatic: the new version (pid %d) was retired (%s); version %d leads alone with its state intact",
             follower.pid, why, leader.number);
      if ((!strcmp(why, "divergence") || !strcmp(why, "expected-divergence")) && upd.argv &&
          upd.attempt <= upd.retries && (upd.handoff || shm->journal_valid)) {
        upd.retry_at = now_ms() + 300;
        tl_add("retry", "attempt %d of %d in 300 ms", upd.attempt + 1, upd.retries + 1);
      }
    }
  } else if (stage == ST_UPDATED && failure) {
    tl_add("retire",
           "the old version (pid %d, following) was retired (%s): rollback is no longer possible; commit to finish",
           follower.pid, why);
  }
  handoff_ended(why); /* after the stage is settled: the waiting client is told it */
}

/* Opens the log of the current update's new version (its output): --follower-log, or one per
 * version in the state directory. *path gets its name; /dev/null if it cannot be opened. */
int open_update_log(char *path, size_t cap) {
  if (opt.follower_log) snprintf(path, cap, "%s", opt.follower_log);
  else
    snprintf(path, cap, "%s/mvr-follower-%d-v%d.log", opt.state_dir ? opt.state_dir : "/tmp", (int)getpid(),
             next_version);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  return fd >= 0 ? fd : open("/dev/null", O_WRONLY | O_CLOEXEC);
}

/* Starts (or restarts) the current update's new version as the follower, replaying the journal. */
static void start_follower(void) {
  upd.attempt++;
  reset_follower_side(1);
  char logp[PATH_MAX];
  int log_fd = open_update_log(logp, sizeof logp);
  int child;
  follower.chan = new_channel(&child);
  jq_fwd = 0; /* the journal's descriptors first */
  __atomic_store_n(&shm->follower_attached, 1, __ATOMIC_SEQ_CST);
  follower.rules = upd.rules;
  int dsu_child;
  follower.dsu = new_dsu_channel(&dsu_child);
  follower.number = next_version;
  /* The user's environment, then MVR_UPDATE_ATTEMPT=N (1 for the first try): the new version can
   * tell a retry from the first try without a system call (a fault injector that diverges on its
   * first try only, test/faults-redis.test.ts). */
  const char **env = mvr_xcalloc((size_t)upd.n_env + 2, sizeof *env);
  for (int k = 0; k < upd.n_env; k++) env[k] = upd.env[k];
  char attempt[40];
  snprintf(attempt, sizeof attempt, "MVR_UPDATE_ATTEMPT=%d", upd.attempt);
  env[upd.n_env] = attempt;
  spawn(&follower, upd.argv, log_fd, child, dsu_child, env, upd.n_env + 1);
  free(env);
  close(child);
  close(dsu_child);
  close(log_fd);
  stage = ST_OUTDATED;
  catchup.active = 1;
  set_catching_up(1);
  catchup.start_ms = now_ms();
  catchup.target = shm->ring[0].events;
  shm->catch_target = catchup.target ? catchup.target : 1;
  shm->catch_done_ns = 0;
  catchup.start_ns = mono_ns();
  catchup.done_ms = 0;
  catchup.events = 0;
  tl_add(
      "update",
      "attempt %d: version %d (pid %d, %s) follows version %d, replaying the journal from event #0 (%llu events so far); log: %s",
      upd.attempt, next_version, follower.pid, upd.argv[0], leader.number, (unsigned long long)catchup.target, logp);
  relay_forward();
}

int single_threaded(void) { return shm->leader_threads == 0 && shm->follower_threads == 0; }

/* The ring of a live child process of the leader, or -1. A role switch covers the program's
 * threads (one process); its child processes have their own agents, which it does not switch. */
int leader_child_process(void) {
  for (unsigned k = 1; k < MVR_MAX_RINGS; k++)
    if (shm->ring[k].in_use && shm->ring[k].process && !shm->ring[k].leader_eof) return (int)k;
  return -1;
}

/* Events recorded and not yet consumed, over every ring. */
static uint64_t switch_lag(void) {
  uint64_t ev = total_events(), done = total_consumed();
  return ev > done ? ev - done : 0;
}

/* Kicks every leader thread that is inside a recorded call (a blocking one returns EINTR and the
 * agent pauses it at the call's entry); threads elsewhere are at the cut already. */
static void kick_leader_threads(void) {
  if (leader.pid <= 0) return;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (rc->in_use && !rc->leader_eof && rc->in_call && rc->leader_tid > 0)
      syscall(SYS_tgkill, leader.pid, rc->leader_tid, SIGSYS);
  }
}

/* What still holds the cut, for a switch that did not complete: the leader threads still inside a
 * recorded call, else the rings the follower has not consumed. */
static void switch_blockers(char *out, size_t cap) {
  size_t n = 0;
  out[0] = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS && n < cap; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    uint32_t c = rc->in_call;
    if (!rc->in_use || rc->leader_eof || !c) continue;
    const char *what = c == MVR_IN_CALL_SIGNAL ? "a signal record" : mvr_si_name(c - 1);
    n += (size_t)snprintf(out + n, cap - n, "%sthe leader's thread of ring %u (tid %d) stayed inside %s%s",
                          n ? "; " : "", k, (int)rc->leader_tid, what, c == MVR_IN_CALL_SIGNAL ? "" : "()");
  }
  if (n) return;
  for (unsigned k = 0; k < MVR_MAX_RINGS && n < cap; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (!rc->in_use || (rc->consumed == rc->events && rc->tail == rc->head)) continue;
    n += (size_t)snprintf(out + n, cap - n, "%sthe follower's thread %u consumed %llu of its %llu events",
                          n ? "; " : "", k, (unsigned long long)rc->consumed, (unsigned long long)rc->events);
  }
  if (!n) snprintf(out, cap, "no thread of the follower was waiting for the leader's events to take over");
}

/* The leader is paused only once the follower is this close (in events), so that the pause lasts
 * about as long as the follower takes to consume a few events. */
#define SWITCH_LAG 64

static void request_switch(void) {
  role_switch.requested = 1;
  role_switch.t0 = now_ms();
  __atomic_store_n(&shm->promote_state, MVR_PROMOTE_REQ, __ATOMIC_SEQ_CST);
  futex_wake(&shm->promote_state);
  if (role_switch.op != OP_FAILOVER) kick_leader_threads(); /* out of a blocking call */
}

void begin_switch(enum op op, int old_follows, const char *back, int client) {
  /* DONE may be left from an earlier switch: it must not pass for this one's. */
  __atomic_store_n(&shm->promote_state, MVR_PROMOTE_NONE, __ATOMIC_SEQ_CST);
  snprintf(shm->back_rules, sizeof shm->back_rules, "%s", back ? back : "");
  shm->old_follows = (uint32_t)old_follows;
  if (op != OP_FAILOVER) {
    shm->leader_paused = 0;
    shm->leader_dead = 0;
  }
  shm->pause_start_ns = 0;
  shm->pause_ns = 0;
  role_switch.op = op;
  role_switch.asked = now_ms();
  role_switch.client = client;
  role_switch.requested = 0;
  if (op == OP_FAILOVER || switch_lag() <= SWITCH_LAG) request_switch();
}

/* The switch finished: the follower leads. */
static void finish_switch(void) {
  enum op op = role_switch.op;
  struct version old = leader;
  uint64_t pause = shm->pause_ns / 1000000u; /* measured by the agents */
  set_catching_up(0);                        /* the follower consumed every event before it took over */
  leader = follower;                         /* its pid, number and both channels */
  leader.state = P_RUNNING;
  leader.rules = NULL;
  jq_clear(); /* the old stream's descriptors */
  /* Both versions made the same threads up to the cut: the pairing counters stay as they are
   * (the new follower's threads count on from where the old leader's did, and the other way). */
  reset_follower_side(0);
  int old_alive = old.state == P_RUNNING;
  if (shm->old_follows && old_alive) {
    follower = old; /* its pid, number and both channels */
    follower.rules = upd.back;
    __atomic_store_n(&shm->follower_attached, 1, __ATOMIC_SEQ_CST);
  } else {
    if (old_alive) {
      kill(old.pid, SIGKILL);
      int st;
      while (waitpid(old.pid, &st, 0) < 0 && errno == EINTR) {}
    }
    if (old.chan >= 0) close(old.chan);
    if (old.dsu >= 0) close(old.dsu);
    follower = VERSION_NONE;
    __atomic_store_n(&shm->follower_attached, 0, __ATOMIC_SEQ_CST);
  }
  role_switch.op = OP_NONE;
  ho_state = HO_NONE; /* a handoff's new version that leads is an ordinary leader */
  char msg[512];
  if (op == OP_PROMOTE) {
    stage = ST_UPDATED;
    if (shm->old_follows)
      snprintf(
          msg, sizeof msg,
          "version %d (pid %d) leads; version %d (pid %d) follows with the backward rules (switched at event #%llu, leader paused %llu ms)",
          leader.number, leader.pid, old.number, old.pid, (unsigned long long)shm->switch_event,
          (unsigned long long)pause);
    else
      snprintf(
          msg, sizeof msg,
          "version %d (pid %d) leads; version %d was retired (no backward rules; switched at event #%llu, leader paused %llu ms)",
          leader.number, leader.pid, old.number, (unsigned long long)shm->switch_event, (unsigned long long)pause);
    tl_add("promote", "%s", msg);
  } else if (op == OP_ROLLBACK) {
    stage = ST_SINGLE;
    snprintf(msg, sizeof msg,
             "version %d (pid %d) leads alone again with its state; version %d retired (leader paused %llu ms)",
             leader.number, leader.pid, old.number, (unsigned long long)pause);
    tl_add("rollback", "%s", msg);
  } else {
    stage = ST_SINGLE;
    snprintf(msg, sizeof msg, "version %d (pid %d) took over after consuming all %llu events of the dead leader",
             leader.number, leader.pid, (unsigned long long)shm->switch_event);
    tl_add("failover", "%s", msg);
  }
  reply_ok(role_switch.client, msg);
  role_switch.client = -1;
}

/* Called every loop turn while a switch is in progress. */
void switch_progress(void) {
  if (role_switch.op == OP_NONE) return;
  uint32_t st = __atomic_load_n(&shm->promote_state, __ATOMIC_SEQ_CST);
  if (st == MVR_PROMOTE_DONE && role_switch.requested) {
    finish_switch();
    return;
  }
  if (!role_switch.requested) {
    uint64_t lag = switch_lag();
    if (lag <= SWITCH_LAG) {
      request_switch();
    } else if (now_ms() - role_switch.asked > opt.deadline_ms) {
      enum op op = role_switch.op;
      role_switch.op = OP_NONE;
      tl_add(op == OP_PROMOTE ? "promote" : "rollback",
             "not started: the follower stayed %llu events behind for %u ms; nothing changed", (unsigned long long)lag,
             opt.deadline_ms);
      reply_error(
          role_switch.client,
          "%s not started: the follower is %llu events behind the leader (more than %d for %u ms); nothing changed",
          op == OP_PROMOTE ? "promote" : "rollback", (unsigned long long)lag, SWITCH_LAG, opt.deadline_ms);
      role_switch.client = -1;
    }
    return;
  }
  uint64_t waited = now_ms() - role_switch.t0;
  if (st == MVR_PROMOTE_REQ && role_switch.op != OP_FAILOVER) kick_leader_threads();
  if (st == MVR_PROMOTE_REQ && waited > opt.deadline_ms) {
    uint32_t want = MVR_PROMOTE_REQ;
    if (!__atomic_compare_exchange_n(&shm->promote_state, &want, MVR_PROMOTE_ABORT, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST))
      return;
    futex_wake(&shm->promote_state);
    enum op op = role_switch.op;
    role_switch.op = OP_NONE;
    if (op == OP_FAILOVER) {
      tl_add("failover", "failed: the follower did not consume the dead leader's events within %u ms", opt.deadline_ms);
      char *ctx = context_lines();
      retire("leader-exited", shm->ring[0].consumed,
             mvr_fmt("  the leader crashed and the follower could not take over\n%s", ctx));
      free(ctx);
      return;
    }
    char why[600];
    switch_blockers(why, sizeof why);
    tl_add(op == OP_PROMOTE ? "promote" : "rollback", "aborted after %llu ms: %s; nothing changed",
           (unsigned long long)waited, why);
    reply_error(role_switch.client,
                "%s aborted: the versions did not reach a consistent point within %u ms (--deadline-ms): %s; nothing "
                "changed, version %d keeps serving",
                op == OP_PROMOTE ? "promote" : "rollback", opt.deadline_ms, why, leader.number);
    role_switch.client = -1;
  }
}

void cmd_update(int c, char **tok, int n) {
  if (!lifecycle) return reply_error(c, "this monitor cannot update: it was started without the agent in the leader");
  if (role_switch.op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage != ST_SINGLE)
    return reply_error(c, "update needs the single leader stage (now: %s): commit or roll back first",
                       stage_names[stage]);
  if (leader.state != P_RUNNING) return reply_error(c, "the leader is not running");
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
    return reply_error(
        c, "--state start cannot update a running leader: the new version's start-up calls (socket, bind, listen...) "
           "have no counterpart in the leader's live events; use --state replay (the default) or start both "
           "versions together with `mvrc run -- OLD ::: NEW`");
  int handoff = !strcmp(state, "handoff");
  if (strcmp(state, "replay") && !handoff)
    return reply_error(c, "unknown --state '%.40s' (expected replay or handoff)", state);
  if (handoff && leader.dsu < 0)
    return reply_error(
        c, "--state handoff: version %d has no handoff channel (it did not answer an earlier request); nothing changed",
        leader.number);
  if (handoff && !single_threaded())
    return reply_error(
        c, "--state handoff supports single-threaded programs only (this runtime version); nothing changed");
  if (!handoff && !shm->journal_valid && leader.number != 1)
    return reply_error(c,
                       "cannot replay: version %d became the leader by promotion, so its journal does not start at its "
                       "first event and a new version cannot rebuild its state from it; restart it under `mvrc run "
                       "--control` to update it again, or use --state handoff; nothing changed, it keeps serving",
                       leader.number);
  if (!handoff && !shm->journal_valid && shm->handoff_point)
    return reply_error(
        c, "cannot replay: the journal ended at an earlier handoff (its fork point started a fresh event stream); "
           "use --state handoff; nothing changed, the old version keeps serving");
  if (!handoff && !shm->journal_valid && shm->journal_ended_by_tasks)
    return reply_error(c,
                       "cannot replay: the journal ended at leader event #%llu, when a thread or process started "
                       "after more than --max-tasks (%u) had run (the journal cannot reuse a ring); use --state "
                       "handoff, or a larger --max-tasks; nothing changed, the old version keeps serving",
                       (unsigned long long)shm->journal_end, shm->nrings);
  if (!handoff && !shm->journal_valid && shm->journal_ended_by_space)
    return reply_error(c,
                       "cannot replay: the journal ended at leader event #%llu, when its file in the state directory "
                       "(--state-dir) could not grow without leaving less than %llu bytes free on its filesystem "
                       "(--journal-min-free), so the new version cannot rebuild the leader's state from its history; "
                       "free space there, or start with a --state-dir on a larger disk; nothing changed, the old "
                       "version keeps serving",
                       (unsigned long long)shm->journal_end, (unsigned long long)shm->journal_min_free);
  if (!handoff && !shm->journal_valid && jq_ended_by_fds)
    return reply_error(c,
                       "cannot replay: the journal ended at leader event #%llu, when the monitor could not take a "
                       "descriptor the leader created (%s; the journal holds those a replay needs), so the new "
                       "version cannot rebuild the leader's state from its history; raise the descriptor limit "
                       "(ulimit -n) of `mvrc run`, or use --state handoff; nothing changed, the old version keeps "
                       "serving",
                       (unsigned long long)shm->journal_end, strerror(shm->fd_error ? shm->fd_error : EMFILE));
  if (!handoff && !shm->journal_valid)
    return reply_error(
        c,
        opt.journal_size
            ? "cannot replay: the journal bound (%llu bytes, --journal-size) was exceeded at leader event #%llu, so the "
              "new version cannot rebuild the leader's state from its history; nothing changed, the old version keeps serving"
            : "cannot replay: the journal is off (--journal-size 0)%.0llu; nothing changed, the old version keeps serving",
        (unsigned long long)shm->journal_limit, (unsigned long long)shm->journal_end);
  if (rules && *rules && access(rules, R_OK)) return reply_error(c, "rules module not readable: %s", rules);
  if (back && *back && access(back, R_OK)) return reply_error(c, "backward rules module not readable: %s", back);
  free_argv(upd.argv);
  free_argv(upd.env);
  free(upd.rules);
  free(upd.back);
  upd.rules = rules && *rules ? mvr_xstrdup(rules) : NULL;
  upd.back = back && *back ? mvr_xstrdup(back) : NULL;
  int argc = n - i - 1;
  upd.argv = mvr_xcalloc((size_t)argc + 1, sizeof *upd.argv);
  for (int k = 0; k < argc; k++) upd.argv[k] = mvr_xstrdup(tok[i + 1 + k]);
  upd.env = mvr_xcalloc((size_t)n_env + 1, sizeof *upd.env);
  for (int k = 0; k < n_env; k++) upd.env[k] = mvr_xstrdup(envs[k]);
  upd.n_env = n_env;
  upd.retries = retries < 0 ? 0 : retries;
  upd.attempt = 0;
  upd.retry_at = 0;
  next_version = (leader.number > follower.number ? leader.number : follower.number) + 1;
  if (next_version <= leader.number) next_version = leader.number + 1;
  upd.handoff = handoff;
  if (handoff) {
    char err[300];
    if (start_handoff(err, sizeof err) < 0) return reply_error(c, "%s; nothing changed", err);
    ho_client = c; /* answered when the new version has loaded the state, or failed */
    return;
  }
  start_follower();
  char msg[256];
  snprintf(
      msg, sizeof msg,
      "version %d (pid %d) started as the follower of version %d (pid %d); it replays the journal, then follows live",
      follower.number, follower.pid, leader.number, leader.pid);
  reply_ok(c, msg);
}

void cmd_promote(int c) {
  if (role_switch.op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage != ST_OUTDATED)
    return reply_error(c, "promote needs the outdated leader stage (now: %s)", stage_names[stage]);
  if (follower.state != P_RUNNING) return reply_error(c, "the follower is not running");
  if (leader.state != P_RUNNING) return reply_error(c, "the leader is not running");
  int child = leader_child_process();
  if (child >= 0)
    return reply_error(c,
                       "promotion covers a program's threads, not its child processes (ring %d is a live child process "
                       "of version %d); nothing changed",
                       child, leader.number);
  begin_switch(OP_PROMOTE, upd.back != NULL, upd.back, c);
}

void cmd_commit(int c) {
  if (role_switch.op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage != ST_UPDATED)
    return reply_error(c, "commit needs the updated leader stage (now: %s)%s", stage_names[stage],
                       stage == ST_OUTDATED ? ": promote first" : "");
  int old = follower.number, old_pid = follower.pid;
  if (follower.state == P_RUNNING) end_follower();
  stage = ST_SINGLE;
  upd.retry_at = 0;
  char msg[256];
  if (old)
    snprintf(msg, sizeof msg, "version %d (pid %d) leads alone; version %d (pid %d) retired", leader.number, leader.pid,
             old, old_pid);
  else snprintf(msg, sizeof msg, "version %d (pid %d) leads alone", leader.number, leader.pid);
  tl_add("commit", "%s", msg);
  reply_ok(c, msg);
}

void cmd_rollback(int c) {
  if (role_switch.op != OP_NONE) return reply_error(c, "a role switch is in progress");
  if (stage == ST_SINGLE) return reply_error(c, "nothing to roll back: the stage is single leader");
  if (stage == ST_OUTDATED) {
    int v = follower.number, p = follower.pid;
    end_follower();
    stage = ST_SINGLE;
    upd.retry_at = 0;
    char msg[256];
    snprintf(msg, sizeof msg,
             "on request: version %d (pid %d) retired; version %d (pid %d) leads alone with its state intact", v, p,
             leader.number, leader.pid);
    tl_add("rollback", "%s", msg);
    return reply_ok(c, msg);
  }
  if (follower.state != P_RUNNING)
    return reply_error(
        c,
        "the old version no longer follows (retired at or after promotion): rollback is not possible; commit instead");
  int child = leader_child_process();
  if (child >= 0)
    return reply_error(c,
                       "rollback covers a program's threads, not its child processes (ring %d is a live child process "
                       "of version %d); nothing changed",
                       child, leader.number);
  begin_switch(OP_ROLLBACK, 0, "", c);
}

/* Every loop turn: the catch-up's end (measured by the follower's agent), the end of the
 * backlog a loading or replaying version built up, and the next attempt of a failed update. */
void lifecycle_tick(void) {
  if (catchup.active && !catchup.done_ms && stage == ST_OUTDATED && shm->catch_done_ns) {
    /* Timed by the follower's agent (from the new process's start to its last journal event). */
    uint64_t ns = shm->catch_done_ns > catchup.start_ns ? shm->catch_done_ns - catchup.start_ns : 1;
    catchup.done_ms = catchup.start_ms + ns / 1000000u;
    catchup.events = catchup.target;
    catchup.rate = catchup.target * 1000000000ull / ns;
    tl_add("caught-up",
           "version %d consumed the %llu journal events in %.1f ms (%llu events/s, start-up included); it follows live",
           follower.number, (unsigned long long)catchup.target, (double)ns / 1e6, (unsigned long long)catchup.rate);
  }
  if (shm->follower_catching_up && follower.state == P_RUNNING) {
    /* Loaded (handoff) or replayed the journal: the backlog of that time is the last to wait for. */
    if (!catchup.backlog_mark && (ho_state == HO_FOLLOWING || (catchup.active && catchup.done_ms)))
      catchup.backlog_mark = total_events();
    if (catchup.backlog_mark && total_consumed() >= catchup.backlog_mark) set_catching_up(0);
  }
  if (upd.retry_at && now_ms() >= upd.retry_at && stage == ST_SINGLE && leader.state == P_RUNNING &&
      role_switch.op == OP_NONE) {
    upd.retry_at = 0;
    char err[300];
    if (upd.handoff) {
      if (start_handoff(err, sizeof err) < 0) tl_add("retry", "cancelled: %s", err);
    } else if (shm->journal_valid) {
      start_follower();
    } else {
      tl_add("retry", "cancelled: the journal bound was exceeded");
    }
  }
}
