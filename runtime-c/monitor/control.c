/* The control socket (`mvrc ctl`): listening, reading a command, dispatching it, the answers,
 * and the status JSON. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvr_json.h"
#include "monitor.h"
#include "mvr_pct.h"

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

void reply_error(int c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = mvr_vfmt(fmt, ap);
  va_end(ap);
  mvr_strbuf b = MVR_STRBUF_INIT;
  mvr_sb_add(&b, "{\"ok\":false,\"error\":");
  mvr_json_str(&b, m);
  mvr_sb_printf(&b, ",\"stage\":\"%s\"}\n", stage_names[stage]);
  reply(c, mvr_sb_str(&b));
  mvr_sb_free(&b);
  free(m);
}

void reply_ok(int c, const char *msg) {
  mvr_strbuf b = MVR_STRBUF_INIT;
  mvr_sb_add(&b, "{\"ok\":true,\"message\":");
  mvr_json_str(&b, msg);
  mvr_sb_printf(&b, ",\"stage\":\"%s\",\"leaderPid\":%d,\"leaderVersion\":%d}\n", stage_names[stage], leader.pid,
                leader.number);
  reply(c, mvr_sb_str(&b));
  mvr_sb_free(&b);
}

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
  mvr_strbuf b = MVR_STRBUF_INIT;
  uint64_t used = 0;
  unsigned pairs = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    used += shm->ring[k].head - shm->ring[k].tail;
    if (shm->ring[k].in_use) pairs++;
  }
  const char *leads = stage == ST_OUTDATED ? "old" : stage == ST_UPDATED ? "new" : "single";
  mvr_sb_printf(&b, "{\"stage\":\"%s\",\"leads\":\"%s\",\"leader\":{\"pid\":%d,\"state\":\"%s\",\"version\":%d},",
                stage_names[stage], leads, leader.pid, state_name(leader.state, 0), leader.number);
  if (follower.pid > 0)
    mvr_sb_printf(&b, "\"follower\":{\"pid\":%d,\"state\":\"%s\",\"version\":%d},", follower.pid,
                  state_name(follower.state, 1), follower.number);
  else mvr_sb_add(&b, "\"follower\":null,");
  uint64_t wait_ns = 0;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) wait_ns += shm->ring[k].leader_wait_ns;
  mvr_sb_printf(&b, "\"events\":{\"recorded\":%llu,\"consumed\":%llu},", (unsigned long long)total_events(),
                (unsigned long long)total_consumed());
  mvr_sb_printf(&b, "\"threads\":%u,", pairs);
  mvr_sb_printf(&b, "\"ring\":{\"size\":%llu,\"used\":%llu,\"leaderWaitMs\":%llu},", (unsigned long long)shm->data_size,
                (unsigned long long)used, (unsigned long long)(wait_ns / 1000000u));
  mvr_sb_printf(
      &b,
      "\"journal\":{\"enabled\":%s,\"valid\":%s,\"limit\":%llu,\"used\":%llu,\"descriptors\":%llu,\"exceededAtEvent\":%llu,"
      "\"endedByHandoff\":%s,\"endedBySpace\":%s,\"disk\":%llu,\"file\":",
      lifecycle && opt.journal_size ? "true" : "false", shm->journal_valid ? "true" : "false",
      (unsigned long long)shm->journal_limit, (unsigned long long)(shm->journal_valid ? shm->ring[0].head : 0),
      (unsigned long long)(jq_keep ? jq_n : 0), (unsigned long long)shm->journal_end,
      shm->handoff_point ? "true" : "false", shm->journal_ended_by_space ? "true" : "false",
      (unsigned long long)journal_disk());
  if (journal_path[0]) mvr_json_str(&b, journal_path);
  else mvr_sb_add(&b, "null");
  mvr_sb_add(&b, "},");
  if (catchup.target || catchup.done_ms) {
    uint64_t ms = (catchup.done_ms ? catchup.done_ms : now_ms()) - catchup.start_ms;
    uint64_t ev = catchup.done_ms ? catchup.events : (stage == ST_OUTDATED ? shm->ring[0].consumed : 0);
    uint64_t rate = catchup.done_ms ? catchup.rate : ms ? ev * 1000u / ms : ev;
    mvr_sb_printf(&b, "\"catchUp\":{\"target\":%llu,\"done\":%s,\"ms\":%llu,\"eventsPerSec\":%llu},",
                  (unsigned long long)catchup.target, catchup.done_ms ? "true" : "false", (unsigned long long)ms,
                  (unsigned long long)rate);
  } else {
    mvr_sb_add(&b, "\"catchUp\":null,");
  }
  mvr_sb_printf(&b, "\"update\":{\"attempt\":%d,\"retries\":%d,\"state\":\"%s\"},", upd.attempt, upd.retries,
                upd.handoff ? "handoff" : "replay");
  mvr_sb_add(&b, "\"timeline\":[");
  for (size_t i = 0; i < n_timeline; i++) {
    mvr_sb_printf(&b, "%s{\"timeMs\":%llu,\"event\":\"%s\",\"stage\":\"%s\",\"reason\":", i ? "," : "",
                  (unsigned long long)timeline[i].ms, timeline[i].event, stage_names[timeline[i].stage]);
    mvr_json_str(&b, timeline[i].reason);
    mvr_sb_add(&b, "}");
  }
  mvr_sb_add(&b, "],");
  mvr_sb_add(&b, "\"retirements\":[");
  for (int i = 0; i < n_retired; i++) {
    mvr_sb_printf(&b, "%s{\"pid\":%d,\"reason\":\"%s\",\"event\":%llu,\"report\":", i ? "," : "", retired[i].pid,
                  retired[i].reason, (unsigned long long)retired[i].event);
    mvr_json_str(&b, retired[i].detail);
    mvr_sb_add(&b, "}");
  }
  mvr_sb_add(&b, "]}\n");
  return mvr_sb_take(&b);
}

int open_control(const char *path) {
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
void free_argv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

void serve_client(int lfd) {
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
  char *cmd = mvr_xmalloc(CMD_MAX);
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
  int bad = 0;
  for (char *save = NULL, *t = strtok_r(cmd, " ", &save); t && nt < 1024; t = strtok_r(NULL, " ", &save)) {
    if (mvr_pct_decode(t) < 0) bad = 1;
    tok[nt++] = t;
  }
  if (bad) reply_error(c, "a word of the command has a bad percent escape (%%XX with two hex digits, not %%00)");
  else if (nt == 0) reply_error(c, "empty command (expected status, update, promote, commit or rollback)");
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
