/* exec.c — execve and execveat: the task keeps its agent and its pairing in the new image.
 *
 * A server that re-execs itself, or a wrapper (a script, a launcher) that execs the program, replaces
 * the process image but not the task: the new image is followed from where the old one left off.
 * The leader records the exec (MVR_RECF_NORET, before it runs), the follower's exec is matched
 * against it like any call (a different program or path is a divergence), and both then really
 * exec, with MVR_EXEC=RING,FD added to the environment they pass: the new image's agent (init.c)
 * takes the same ring, the leader recording after its last event, the follower consuming from the
 * ring's tail with the matcher state the old image had (FD: a memfd holding it, so that a `begin`
 * prefix or a rule under way goes on across the exec). The agent's own variables (MVR_ROLE, the
 * descriptors, LD_PRELOAD...) are put back when the program passes an environment without them.
 *
 * A follower's wrapper (MVR_WRAPPER_EXECS=N, `--follower-env`): its first N images are not the
 * program; they run on their own, untouched (init.c, wrapper_image), and the image after the Nth
 * exec is the follower proper, from the leader's event #0. A wrapper's start-up is not a version
 * of anything the leader does (it opens and reads its own files, starts helpers): no rule could
 * match it, it is simply not the program.
 *
 * Not covered: an exec by a thread of a multi-threaded process (the other threads' pairs are not
 * ended), and a program that drops the agent from LD_PRELOAD (its new image runs untrapped). */
#include "agent.h"
#include "mvr_syscalls.h"

/* The agent's own environment entries, as the process started ("KEY=value"), put back into an
 * exec's environment that lacks them. */
static const char *const KEYS[] = {MVR_ENV_ROLE,  MVR_ENV_SHM_FD, MVR_ENV_FDSOCK,
                                   MVR_ENV_RULES, MVR_ENV_MIRROR, "LD_PRELOAD"};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])
static char *g_saved[NKEYS];
static int g_dsu_fd = -1; /* the handoff library's channel, when the monitor gave one */

void exec_save_env(void) {
  const char *dsu = getenv(MVR_ENV_DSU_CTL_FD);
  if (dsu && *dsu) g_dsu_fd = atoi(dsu);
  for (unsigned k = 0; k < NKEYS; k++) {
    const char *v = getenv(KEYS[k]);
    if (!v) continue;
    size_t n = strlen(KEYS[k]) + strlen(v) + 2;
    char *e = malloc(n);
    if (!e) agent_fatal("cannot save the agent's environment");
    snprintf(e, n, "%s=%s", KEYS[k], v);
    g_saved[k] = e;
  }
}

static int has_key(const char *entry, const char *key) {
  size_t n = strlen(key);
  return !strncmp(entry, key, n) && entry[n] == '=';
}

/* A new environment for the exec (raw memory: the handler may not allocate from the program's
 * heap): the program's entries but ours, the agent's entries it lacks, and `extra` (may be NULL).
 * *len: the mapping's size. NULL when out of memory. */
static char **exec_env(char *const *envp, const char *extra, size_t *len) {
  size_t n = 0;
  if (envp)
    while (envp[n]) n++;
  *len = (n + NKEYS + 2) * sizeof(char *);
  char **out = raw_alloc(*len);
  if (!out) return NULL;
  size_t m = 0;
  int present[NKEYS] = {0};
  for (size_t i = 0; i < n; i++) {
    if (has_key(envp[i], MVR_ENV_EXEC) || has_key(envp[i], MVR_ENV_WRAPPER_EXECS)) continue;
    for (unsigned k = 0; k < NKEYS; k++)
      if (has_key(envp[i], KEYS[k])) present[k] = 1;
    out[m++] = envp[i];
  }
  for (unsigned k = 0; k < NKEYS; k++)
    if (!present[k] && g_saved[k]) out[m++] = g_saved[k];
  if (extra) out[m++] = (char *)extra;
  out[m] = NULL;
  return out;
}

/* Makes the exec with the new environment; returns only when it failed (the program's result). */
static int64_t exec_with(uint32_t nr, const int64_t *a, const char *extra) {
  unsigned at = nr == SYS_execveat ? 3 : 2;
  size_t len;
  char **env = exec_env((char *const *)(uintptr_t)a[at], extra, &len);
  if (!env) return -ENOMEM;
  int64_t b[6];
  for (int i = 0; i < 6; i++) b[i] = a[i];
  b[at] = (int64_t)(uintptr_t)env;
  /* The handoff library's channel (init.c makes it close-on-exec, so that the program's children
   * do not get it) belongs to the task's next image: it is the same program going on. */
  int dfd = g_dsu_fd;
  if (dfd >= 0) RAW3(SYS_fcntl, dfd, F_SETFD, 0);
  int64_t r = exec_call(nr, b);
  if (dfd >= 0) RAW3(SYS_fcntl, dfd, F_SETFD, FD_CLOEXEC);
  RAW2(SYS_munmap, env, len);
  return r;
}

/* The leader's exec (its event is recorded): the new image records on the same ring. */
int64_t exec_leader(uint32_t nr, const int64_t *a) {
  char extra[64];
  snprintf(extra, sizeof extra, "%s=%u,-1", MVR_ENV_EXEC, t_ts ? t_ts->ring : 0);
  return exec_with(nr, a, extra);
}

/* The follower's exec, once matched (follower_call decided it and released what it consumed):
 * the matcher state goes to the new image in a memfd. */
int64_t exec_follower(uint32_t nr, const int64_t *a) {
  tstate *ts = t_ts;
  size_t n = g_rules.state_size();
  int fd = (int)RAW2(SYS_memfd_create, "mvr-exec-state", 0);
  if (fd < 0) return fd;
  /* Out of the program's way, as the runtime's other descriptors (MVR_FD_BASE). */
  int hi = (int)RAW3(SYS_fcntl, fd, F_DUPFD, MVR_FD_BASE + 32);
  RAW1(SYS_close, fd);
  if (hi < 0) return hi;
  if (RAW4(SYS_pwrite64, hi, ts->rstate, n, 0) != (long)n) {
    RAW1(SYS_close, hi);
    return -EIO;
  }
  char extra[64];
  snprintf(extra, sizeof extra, "%s=%u,%d", MVR_ENV_EXEC, ts->ring, hi);
  int64_t r = exec_with(nr, a, extra);
  RAW1(SYS_close, hi);
  return r;
}

/* The new image of a task that exec'd (MVR_EXEC=RING,FD, init.c): its ring, and for the follower
 * where it stands in it. Returns the thread state. */
tstate *exec_resume(const char *spec) {
  char *end;
  unsigned long ring = strtoul(spec, &end, 10);
  long fd = *end == ',' ? strtol(end + 1, NULL, 10) : -1;
  if (ring >= g_agent.shm->nrings) agent_fatal("MVR_EXEC names no ring");
  tstate *ts = tstate_new((uint32_t)ring);
  mvr_ringctl *rc = ts->rc;
  if (g_agent.role == ROLE_LEADER) {
    rc->leader_tid = (int32_t)RAW0(SYS_gettid);
    return ts;
  }
  follower_thread_init(ts);
  if (fd >= 0) {
    size_t n = g_rules.state_size();
    if (RAW4(SYS_pread64, fd, ts->rstate, n, 0) != (long)n)
      agent_fatal("cannot read the matcher state of the image before exec");
    RAW1(SYS_close, fd);
  }
  /* Everything before the tail was consumed by the image before (the exec's event included). */
  ts->scan_pos = rc->tail;
  ts->scan_index = ts->low = rc->consumed;
  if (ring < MVR_MAX_RINGS) g_fd_installed[ring] = rc->consumed;
  return ts;
}
