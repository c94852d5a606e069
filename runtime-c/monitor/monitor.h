/* mvr-monitor's internal header: the state the monitor's files share, and the functions they call
 * across files. State private to one file stays `static` there. main.c says what the monitor is
 * for; each file's first comment says what it owns. */
#ifndef MVR_MONITOR_H
#define MVR_MONITOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "mvr_ring.h"
#include "mvr_ringread.h"
#include "mvr_decode.h"
#include "mvr_params.h"
#include "mvr_util.h"
#include "mvr_strbuf.h"

#define MAX_ENV 64
#define MAX_RETIRE 16
#define UPDATABLE_RING_SIZE (64ull << 20)
#define RECORD_WAIT_MS 60000u

/* ---- options (main.c) ---------------------------------------------------------------------------- */
typedef struct options {
  const char *agent, *rules, *back, *control, *follower_log, *state_dir;
  const char *record; /* --record TRACE: write the leader's events there, no follower */
  uint64_t ring_size, journal_size;
  uint32_t max_tasks; /* --max-tasks: task pairs alive at once (threads and processes, the main thread included) */
  int ring_size_given;
  uint32_t deadline_ms;
  const char *state; /* how `update` brings the new version's state up to date by default */
  const char *leader_env[MAX_ENV], *follower_env[MAX_ENV];
  int n_leader_env, n_follower_env;
  char **leader_argv, **follower_argv;
  uint64_t journal_min_free; /* --journal-min-free: free space the journal leaves on its filesystem */
  int journal_min_free_given;
} options;
extern options opt;
extern sigset_t orig_mask; /* the signal mask before the monitor blocked its signals (for children) */

/* ---- shared memory (shm.c) ----------------------------------------------------------------------- */
extern mvr_shared *shm;
extern uint8_t *ring_data;
extern int shm_fd; /* the shared memory's descriptor, at the same number in both versions */
void create_shm(void);
extern char journal_path[];  /* the journal's file in the state directory ("" when the rings are memory) */
uint64_t journal_disk(void); /* bytes its file takes on disk */
void futex_wake(volatile uint32_t *w);
uint64_t total_events(void);
uint64_t total_consumed(void);
void detach_follower(void);

/* ---- processes (processes.c) --------------------------------------------------------------------- */
enum proc_state { P_NONE, P_RUNNING, P_EXITED, P_RETIRED, P_FINISHED };
/* A version of the program as the monitor sees it. The same struct serves the leader and the
 * follower: a role switch (lifecycle.c) moves a follower's struct into the leader's place. */
struct version {
  int pid; /* -1: none */
  enum proc_state state;
  int status;        /* its wait status once it exited (the leader's gives the monitor's exit status) */
  int number;        /* the version number: 1 for the first leader, each update's new version the next; 0: none */
  int chan, chan_no; /* its descriptor channel (relay.c): the monitor's end, and the number of its end in the process */
  int dsu, dsu_no;   /* its handoff control channel (runtime-c/dsu, MVR_DSU_CTL_FD): the same two */
  const char *rules; /* the rules it runs as the follower (for reports); NULL as the leader */
};
#define VERSION_NONE ((struct version){.pid = -1, .state = P_NONE, .chan = -1, .chan_no = -1, .dsu = -1, .dsu_no = -1})
extern struct version leader, follower;
void spawn(struct version *v, char **argv, int log_fd, int chan, int dsu, const char *const *env, int n_env);
void retire(const char *reason, uint64_t event, char *detail);
void on_follower_exit(int st);
int follower_active(void);
void check_progress(void);
void end_follower(void);
void reset_follower_side(int new_follower);
int leader_exit_code(void);
void reap(void);
void operator_signal(int sig);
int stop_follower_at_end(void);

/* ---- reports (reports.c) ------------------------------------------------------------------------- */
typedef struct retirement {
  int pid;
  const char
      *reason; /* crash, hang, divergence, expected-divergence, unsupported, ring-full, runtime-error, leader-exited */
  uint64_t event;
  char *detail;
} retirement;
extern retirement retired[MAX_RETIRE];
extern int n_retired;
char *context_lines(void);
void add_retirement(const char *reason, uint64_t event, char *detail);

/* ---- descriptor channels and relay (relay.c) ----------------------------------------------------- */
int high_fd(int fd);
int new_channel(int *child);
int new_dsu_channel(int *child);
void close_dsu(struct version *v);
void relay_read(void);
size_t relay_read_some(size_t max);
void relay_forward(void);

/* ---- the journal's descriptor queue (journal.c) -------------------------------------------------- */
typedef struct jfd {
  mvr_fdmsg m;
  int fds[MVR_FDMSG_FDS];
} jfd;
extern jfd *jq;
extern size_t jq_n, jq_cap, jq_fwd;
extern int jq_keep;                        /* the queue is the journal's */
extern int placeholder_fd;                 /* sent instead of a journal descriptor the leader already closed */
extern uint64_t jscan_pos[MVR_MAX_RINGS];  /* per ring, the position up to which close events were looked at */
extern uint64_t jrecv_next[MVR_MAX_RINGS]; /* per ring, 1 + the newest event whose descriptors were received */
extern int jq_ended_by_fds;                /* the journal ended: the monitor could not take a descriptor */
int jq_fd(int stored);                     /* the descriptor to send for a queued one */
void journal_scan_closes(void);
void jq_trim(void);
void jq_clear(void);
void jq_drop_journal(void);

/* ---- stages, updates, role switches (lifecycle.c) ------------------------------------------------ */
extern int lifecycle; /* the leader runs under the agent and may be updated (--agent and --control) */
enum stage { ST_SINGLE, ST_OUTDATED, ST_UPDATED };
extern enum stage stage;
extern const char *const stage_names[];
extern int next_version; /* the number the next update's new version gets */
/* The current update (the last `update` command) and its attempts. */
struct update {
  char *rules, *back; /* its forward and backward rules */
  char **argv;        /* the new version's command */
  char **env;
  int n_env;
  int retries, attempt;
  int handoff;       /* it brings the state by handoff, not replay */
  uint64_t retry_at; /* when to start the next attempt (ms), 0: none */
};
extern struct update upd;
/* A new version catching up (replaying the journal), as `status` reports it. */
struct catch_up {
  int active;
  uint64_t start_ms, start_ns; /* when the new version was started */
  uint64_t target;             /* the leader's events it has to replay */
  uint64_t done_ms, events, rate;
  /* shm->follower_catching_up is set while the new version loads or replays; once it has, the
   * leader's event count at that moment is the backlog it still has to consume before the flag
   * is cleared (0 while it is still loading or replaying). */
  uint64_t backlog_mark;
};
extern struct catch_up catchup;
enum op { OP_NONE, OP_PROMOTE, OP_ROLLBACK, OP_FAILOVER };
/* The role switch in progress. */
struct role_switch {
  enum op op;
  uint64_t t0;
  uint64_t asked; /* when the switch was asked for (ms) */
  int requested;  /* REQ was set (after the follower came close enough) */
  int client;     /* the control client waiting for the switch's answer */
};
extern struct role_switch role_switch;
void set_catching_up(int on);
void release_follower_side(void);
void follower_gone(const char *why, int failure);
int open_update_log(char *path, size_t cap);
int single_threaded(void);
int leader_child_process(void);
void begin_switch(enum op op, int old_follows, const char *back, int client);
void switch_progress(void);
void lifecycle_tick(void);
void cmd_update(int c, char **tok, int n);
void cmd_promote(int c);
void cmd_commit(int c);
void cmd_rollback(int c);

/* ---- handoff (handoff.c) ------------------------------------------------------------------------- */
enum { HO_NONE, HO_REQUESTED, HO_LOADING, HO_FOLLOWING };
extern int ho_state;       /* the handoff's progress (see start_handoff) */
extern char ho_error[512]; /* what the new version reported before it ended */
extern int ho_client;      /* the control client waiting for the outcome */
int start_handoff(char *err, size_t cap);
void handoff_tick(void);
void handoff_ended(const char *why);
void handoff_child_exited(int pid, int st);

/* ---- timeline and clocks (timeline.c) ------------------------------------------------------------ */
typedef struct tl_entry {
  uint64_t ms; /* wall clock */
  const char *event;
  char *reason;
  enum stage stage;
} tl_entry;
extern tl_entry *timeline;
extern size_t n_timeline;
uint64_t mono_ns(void);
uint64_t now_ms(void);
void tl_add(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- control socket (control.c) ------------------------------------------------------------------ */
int open_control(const char *path);
void serve_client(int lfd);
void reply_error(int c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_ok(int c, const char *msg);
void free_argv(char **v);

/* ---- recording (record.c) ------------------------------------------------------------------------ */
void record_open(void);
int record_run(int sfd);

#endif
