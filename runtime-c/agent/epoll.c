/* epoll.c — epoll user data per version (both roles). */
#include "agent.h"

/* ---- follower: epoll user data per version ----------------------------------------------------
 * epoll_event.data is the program's own (a pointer or an index) and differs between versions. The
 * follower keeps what it registered per fd; the leader's registrations (from its epoll_ctl events)
 * map leader data back to fds; replayed epoll_wait results are translated leader data -> fd ->
 * follower data. */

uint64_t g_fdata[FDMAX];      /* this version's own epoll data per fd (both roles) */
uint32_t g_fev[FDMAX];        /* ... its event mask */
int32_t g_fepfd[FDMAX];       /* ... the epoll instance it is registered with, +1 (0: none) */
static uint64_t g_lkey[LMAP]; /* leader data -> fd (open addressing; fd+1, 0 = empty) */
int32_t g_lfd[LMAP];

static uint32_t lmap_slot(uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> 40) & (LMAP - 1);
}
void lmap_put(uint64_t key, int fd) {
  uint32_t s = lmap_slot(key);
  for (uint32_t i = 0; i < LMAP; i++, s = (s + 1) & (LMAP - 1)) {
    if (g_lfd[s] == 0 || g_lkey[s] == key) {
      g_lkey[s] = key;
      g_lfd[s] = fd + 1;
      return;
    }
  }
}
static int lmap_get(uint64_t key) {
  uint32_t s = lmap_slot(key);
  for (uint32_t i = 0; i < LMAP; i++, s = (s + 1) & (LMAP - 1)) {
    if (g_lfd[s] == 0) return -1;
    if (g_lkey[s] == key) return g_lfd[s] - 1;
  }
  return -1;
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
  if (op == 1 /* ADD */ || op == 3 /* MOD */) {
    if (lev) lmap_put(lev->ep_data, fd);
  }
}

void epoll_translate(int64_t buf, int64_t count) {
  struct epoll_event_packed *e = (struct epoll_event_packed *)(uintptr_t)buf;
  for (int64_t i = 0; i < count; i++) {
    int fd = lmap_get(e[i].data);
    if (fd >= 0) e[i].data = g_fdata[fd];
  }
}
