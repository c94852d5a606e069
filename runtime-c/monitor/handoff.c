/* Updates by state handoff (docs/handoff.md, "Under multi-version execution").
 * The monitor asks the leader's handoff library (on its DSU channel) to fork at its next update
 * point; the leader's agent starts a fresh event stream there, and the forked child (a child of
 * the monitor: CLONE_PARENT) serialises the state and execs the new version with the follower's
 * environment and descriptors named in the request. The new version loads the state and follows
 * from its first update point. Reports come back on the same channel. */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvr_fdpass.h"
#include "monitor.h"
#include "mvr_pct.h"

int ho_state;       /* the handoff's progress (see start_handoff) */
char ho_error[512]; /* what the new version reported before it ended */

static uint64_t ho_t0, ho_kick; /* when it was requested; when the leader was last interrupted */
int ho_client = -1;             /* the control client waiting for the outcome */
static int ho_chan = -1;        /* the new version's descriptor channel (monitor's end) until it forks */
static char ho_buf[8192];
static size_t ho_len;
static struct {
  pid_t pid;
  int st;
} ho_early[8]; /* children that ended before their "forked" report was read */
static int n_ho_early;

/* One field of a request: a space, then the value percent-encoded (%XX) so that it never holds a
 * raw space or newline. */
static void sb_field(mvr_strbuf *b, const char *s) {
  mvr_sb_addc(b, ' ');
  size_t room;
  char *at = mvr_sb_tail(b, 3 * strlen(s), &room);
  mvr_sb_advance(b, mvr_pct_encode(at, room, s));
}

static void handoff_cancel(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void handoff_cancel(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = mvr_vfmt(fmt, ap);
  va_end(ap);
  detach_follower();
  __atomic_store_n(&shm->dsu_pending, 0, __ATOMIC_SEQ_CST);
  if (ho_chan >= 0) close(ho_chan);
  ho_chan = -1;
  close_dsu(&follower);
  ho_state = HO_NONE;
  tl_add("update", "handoff failed: %s; version %d leads alone with its state intact", m, leader.number);
  reply_error(ho_client, "handoff failed: %s; nothing changed, version %d keeps serving", m, leader.number);
  ho_client = -1;
  free(m);
}

/* Asks the leader for a handoff to the current update's new version. 0, or -1 with err. */
int start_handoff(char *err, size_t cap) {
  if (leader.dsu < 0) {
    snprintf(err, cap, "the leader has no handoff channel any more (it did not answer an earlier request)");
    return -1;
  }
  upd.attempt++;
  reset_follower_side(1);
  ho_error[0] = 0;
  char logp[PATH_MAX];
  int log_fd = open_update_log(logp, sizeof logp);
  int chan_child, dsu_child;
  int chan = new_channel(&chan_child);
  int dsu = new_dsu_channel(&dsu_child);
  /* In the new version: its descriptor channel where the leader's was (the agent closes the
   * leader's in the child), its own handoff channel above every runtime descriptor it inherits. */
  int chan_no = leader.chan_no;
  int dsu_no = shm_fd;
  if (leader.chan_no > dsu_no) dsu_no = leader.chan_no;
  if (leader.dsu_no > dsu_no) dsu_no = leader.dsu_no;
  dsu_no++;
  mvr_strbuf b = MVR_STRBUF_INIT;
  mvr_sb_add(&b, "update");
  char tmp[PATH_MAX + 64];
  sb_field(&b, "env=" MVR_ENV_ROLE "=follower");
  sb_field(&b, "env=" MVR_ENV_HANDOFF "=1");
  snprintf(tmp, sizeof tmp, "env=%s=%s", MVR_ENV_RULES, upd.rules ? upd.rules : "");
  sb_field(&b, tmp);
  snprintf(tmp, sizeof tmp, "env=%s=%d", MVR_ENV_FDSOCK, chan_no);
  sb_field(&b, tmp);
  snprintf(tmp, sizeof tmp, "env=" MVR_ENV_DSU_CTL_FD "=%d", dsu_no);
  sb_field(&b, tmp);
  for (int i = 0; i < upd.n_env; i++) {
    /* The user's preloads first, as spawn() does: they interpose as without mvrc. */
    char *e = !strncmp(upd.env[i], "LD_PRELOAD=", 11) ? mvr_fmt("env=LD_PRELOAD=%s:%s", upd.env[i] + 11, opt.agent)
                                                      : mvr_fmt("env=%s", upd.env[i]);
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
  for (char **a = upd.argv; *a; a++) sb_field(&b, *a);
  mvr_sb_addc(&b, '\n');
  int fds[4] = {chan_child, log_fd, log_fd, dsu_child};
  size_t len = b.len;
  ssize_t w = mvr_fd_send(leader.dsu, b.p, len, fds, 4, MSG_DONTWAIT | MSG_NOSIGNAL);
  int send_errno = w < 0 ? (int)-w : 0;
  mvr_sb_free(&b);
  close(chan_child);
  close(dsu_child);
  close(log_fd);
  if (w != (ssize_t)len) {
    close(chan);
    close(dsu);
    snprintf(err, cap, "cannot send the request to the leader's handoff channel: %s",
             w < 0 ? strerror(send_errno) : "short write");
    return -1;
  }
  ho_chan = chan;
  follower.dsu = dsu;
  follower.dsu_no = dsu_no;
  follower.chan_no = chan_no;
  follower.rules = upd.rules;
  ho_len = 0;
  n_ho_early = 0;
  catchup.target = 0;
  catchup.done_ms = 0;
  catchup.active = 0;
  shm->catch_target = 0;
  __atomic_store_n(&shm->handoff_point, 0, __ATOMIC_SEQ_CST);
  set_catching_up(1);
  __atomic_store_n(&shm->follower_attached, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&shm->dsu_pending, 1, __ATOMIC_SEQ_CST);
  kill(leader.pid, SIGSYS); /* out of a blocking call, to its update point */
  ho_state = HO_REQUESTED;
  ho_t0 = ho_kick = now_ms();
  tl_add(
      "update",
      "attempt %d: handoff requested: version %d (%s) starts from version %d's state at its next update point; log: %s",
      upd.attempt, next_version, upd.argv[0], leader.number, logp);
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
  if (mvr_pct_decode(out) < 0) { /* a bad (or cut) escape: the value as it came */
    memcpy(out, v, n);
    out[n] = 0;
  }
}

static void handoff_report(char *line) {
  char pid_s[24], a[32], b2[32], c2[400];
  field_value(line, "pid", pid_s, sizeof pid_s);
  int pid = atoi(pid_s);
  if (!strncmp(line, "forked ", 7) && ho_state == HO_REQUESTED) {
    if (pid <= 0 || pid == leader.pid)
      return handoff_cancel("the leader's report named no child process: '%.80s'", line);
    relay_read(); /* the leader's stream-reset marker was sent before the fork */
    __atomic_store_n(&shm->dsu_pending, 0, __ATOMIC_SEQ_CST);
    field_value(line, "point", a, sizeof a);
    follower.pid = pid;
    follower.state = P_RUNNING;
    follower.number = next_version;
    follower.chan = ho_chan;
    ho_chan = -1;
    jq_fwd = 0;
    stage = ST_OUTDATED;
    ho_state = HO_LOADING;
    tl_add(
        "handoff",
        "version %d forked at update point #%s (%llu ms after the request): the new version (pid %d) loads its state, "
        "then follows from there",
        leader.number, a, (unsigned long long)(now_ms() - ho_t0), pid);
    for (int i = 0; i < n_ho_early; i++)
      if (ho_early[i].pid == pid) on_follower_exit(ho_early[i].st);
    n_ho_early = 0;
  } else if (!strncmp(line, "loaded ", 7) && ho_state == HO_LOADING && pid == follower.pid) {
    ho_state = HO_FOLLOWING;
    field_value(line, "entries", a, sizeof a);
    field_value(line, "bytes", b2, sizeof b2);
    char msg[600];
    snprintf(msg, sizeof msg,
             "version %d (pid %d) loaded %s entries (%s bytes) from version %d's state in %llu ms; it follows "
             "version %d from the fork point",
             follower.number, pid, a, b2, leader.number, (unsigned long long)(now_ms() - ho_t0), leader.number);
    tl_add("loaded", "%s", msg);
    reply_ok(ho_client, msg);
    ho_client = -1;
  } else if (!strncmp(line, "failed ", 7)) {
    field_value(line, "stage", a, sizeof a);
    field_value(line, "error", c2, sizeof c2);
    if (ho_state == HO_REQUESTED && (!strcmp(a, "request") || !strcmp(a, "fork"))) {
      handoff_cancel("the leader refused the request (%s): %s", a, c2);
    } else {
      snprintf(ho_error, sizeof ho_error, "%s: %s",
               !strcmp(a, "load")   ? "it could not load the state"
               : !strcmp(a, "exec") ? "it could not be started"
                                    : "the state could not be saved",
               c2);
    }
  }
}

/* Reads the leader's reports (non-blocking). */
static void handoff_read(void) {
  while (leader.dsu >= 0) {
    if (ho_len == sizeof ho_buf - 1) ho_len = 0; /* a line this long is no report */
    ssize_t r = read(leader.dsu, ho_buf + ho_len, sizeof ho_buf - 1 - ho_len);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
      close(leader.dsu);
      leader.dsu = -1;
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
void handoff_tick(void) {
  handoff_read();
  if (ho_state != HO_REQUESTED) return;
  uint64_t t = now_ms();
  if (leader.state != P_RUNNING) return handoff_cancel("the leader ended");
  if (t - ho_t0 > opt.deadline_ms) {
    /* A request it may still read later must never start a version nobody expects: its channel
     * is closed, and it is never asked to poll it again. */
    if (leader.dsu >= 0) close(leader.dsu);
    leader.dsu = -1;
    return handoff_cancel(
        "version %d did not reach an update point within %u ms (a handoff needs a program that uses the "
        "handoff library, runtime-c/dsu/mvr_dsu.h, and calls mvr_dsu_update_point() in its loop)",
        leader.number, opt.deadline_ms);
  }
  if (t - ho_kick >= 100) {
    ho_kick = t;
    kill(leader.pid, SIGSYS);
  }
}

/* A child of the monitor that is neither version ended: while a handoff is requested, it may be
 * the new version, whose "forked" report is not read yet; it is judged when the report is. */
void handoff_child_exited(int pid, int st) {
  if (ho_state != HO_REQUESTED || n_ho_early >= 8) return;
  ho_early[n_ho_early].pid = pid;
  ho_early[n_ho_early].st = st;
  n_ho_early++;
}

/* The follower is gone: the client waiting for the handoff's outcome gets it. */
void handoff_ended(const char *why) {
  if (ho_state == HO_NONE) return;
  if (ho_client >= 0)
    reply_error(
        ho_client,
        "the new version was retired before it finished loading (%s)%s%s; nothing changed, version %d keeps serving",
        why, ho_error[0] ? ": " : "", ho_error, leader.number);
  ho_client = -1;
  ho_state = HO_NONE;
  if (ho_chan >= 0) close(ho_chan);
  ho_chan = -1;
}
