/* epoll.c — epoll user data per version (both roles). */
#include "agent.h"

/* ---- follower: epoll user data per version ----------------------------------------------------
 * epoll_event.data is the program's own (a pointer or an index) and differs between versions. Each
 * matched registration (epoll_ctl ADD/MOD) maps the leader's data to the follower's; replayed
 * epoll_wait results are translated leader data -> follower data, the follower's data *as it was
 * registered with that leader data*. (It was leader data -> fd -> the follower's data registered
 * for that fd now: a stale event, for a connection closed and its fd and structure reused within
 * the same epoll_wait batch, then reached the follower with the new connection's current data;
 * nginx's leader skipped it by the instance bit in its data, its follower served it, and diverged
 * under load.) */

uint64_t g_fdata[FDMAX];      /* this version's own epoll data per fd (both roles) */
uint32_t g_fev[FDMAX];        /* ... its event mask */
int32_t g_fepfd[FDMAX];       /* ... the epoll instance it is registered with, +1 (0: none) */
static uint64_t g_lkey[LMAP]; /* leader data -> follower data (open addressing; g_lfd[s] != 0: used) */
static uint64_t g_lval[LMAP];
int32_t g_lfd[LMAP];

static uint32_t lmap_slot(uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> 40) & (LMAP - 1);
}
void lmap_put(uint64_t key, uint64_t val) {
  uint32_t s = lmap_slot(key);
  for (uint32_t i = 0; i < LMAP; i++, s = (s + 1) & (LMAP - 1)) {
    if (g_lfd[s] == 0 || g_lkey[s] == key) {
      g_lkey[s] = key;
      g_lval[s] = val;
      g_lfd[s] = 1;
      return;
    }
  }
}
static int lmap_get(uint64_t key, uint64_t *val) {
  uint32_t s = lmap_slot(key);
  for (uint32_t i = 0; i < LMAP; i++, s = (s + 1) & (LMAP - 1)) {
    if (g_lfd[s] == 0) return 0;
    if (g_lkey[s] == key) {
      *val = g_lval[s];
      return 1;
    }
  }
  return 0;
}

/* Notes this version's own registration (both roles): a promoted follower re-registers its data. */
void epoll_note_own(const int64_t *fargs) {
  int op = (int)fargs[1], fd = (int)fargs[2];
  if (fd < 0 || fd >= FDMAX) return;
  if ((op == 1 /* ADD */ || op == 3 /* MOD */) && fargs[3]) {
    const struct epoll_event_packed *e = (const struct epoll_event_packed *)(uintptr_t)fargs[3];
    g_fdata[fd] = e->data;
    g_fev[fd] = e->events;
    g_fepfd[fd] = (int32_t)fargs[0] + 1;
  } else if (op == 2 /* DEL */) {
    g_fepfd[fd] = 0;
  }
}

void epoll_note_ctl(const int64_t *fargs, const parsed *lev) {
  int op = (int)fargs[1], fd = (int)fargs[2];
  if (fd < 0 || fd >= FDMAX) return;
  epoll_note_own(fargs);
  if ((op == 1 /* ADD */ || op == 3 /* MOD */) && fargs[3] && lev) lmap_put(lev->ep_data, g_fdata[fd]);
}

void epoll_translate(int64_t buf, int64_t count) {
  struct epoll_event_packed *e = (struct epoll_event_packed *)(uintptr_t)buf;
  for (int64_t i = 0; i < count; i++) {
    uint64_t own;
    if (lmap_get(e[i].data, &own)) e[i].data = own;
  }
}
