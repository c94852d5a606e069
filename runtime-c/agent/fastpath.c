/* fastpath.c — the fast path: libc's wrappers of the hot calls and the vDSO time functions,
 * exported by the agent, entering agent_call without the SIGSYS round trip. */
#include "agent.h"

/* ---- the fast path: the hot calls' libc symbols, exported by the agent -------------------------
 * Through syscall user dispatch every call costs a SIGSYS round trip (a signal frame with the FPU
 * state, rt_sigreturn): 1-2 us, most of the runtime's cost per request. The preloaded agent
 * therefore exports libc's wrappers for the calls servers make per request, which enter
 * agent_call directly, as Varan's programs call its monitor instead of trapping; the vDSO time
 * functions (which would not even trap) go the same way. Every other call, and libc's internal
 * calls that do not go through these symbols (fwrite's write, ...), still trap: the fallback
 * stays complete. The wrappers make the very syscall glibc's would (recv is recvfrom, ...), so the
 * two versions' events compare the same whichever way each call came. They are not cancellation
 * points (pthread_cancel needs glibc's internals). */

/* A user's LD_PRELOAD comes before the agent (the monitor puts it there): its definitions get
 * the program's calls first, and its calls of the next definition reach these wrappers. A library
 * found after the agent that defines one of these symbols (loaded by the program itself) gets the
 * call too, as without the agent: the wrapper yields to it, and its own call of libc's function
 * traps as usual. */
enum {
  FW_READ,
  FW_WRITE,
  FW_READV,
  FW_WRITEV,
  FW_RECV,
  FW_RECVFROM,
  FW_RECVMSG,
  FW_SEND,
  FW_SENDTO,
  FW_SENDMSG,
  FW_ACCEPT,
  FW_ACCEPT4,
  FW_SHUTDOWN,
  FW_SETSOCKOPT,
  FW_CLOSE,
  FW_EPOLL_WAIT,
  FW_EPOLL_PWAIT,
  FW_EPOLL_CTL,
  /* A static file served per request (nginx: open, fstat, pread, close): these trapped 3 times a
   * request in both versions. */
  FW_OPEN,
  FW_OPEN64,
  FW_OPENAT,
  FW_OPENAT64,
  FW_FSTAT,
  FW_FSTAT64,
  FW_FSTATAT,
  FW_FSTATAT64,
  FW_PREAD,
  FW_PREAD64,
  FW_N
};
static const char *const g_fast_names[FW_N] = {
    "read",     "write",      "readv",       "writev",    "recv",      "recvfrom", "recvmsg",
    "send",     "sendto",     "sendmsg",     "accept",    "accept4",   "shutdown", "setsockopt",
    "close",    "epoll_wait", "epoll_pwait", "epoll_ctl", "open",      "open64",   "openat",
    "openat64", "fstat",      "fstat64",     "fstatat",   "fstatat64", "pread",    "pread64"};
static void *g_fast_next[FW_N];

/* The real vDSO-backed functions, for threads the agent does not intercept. */
static int (*g_real_clock_gettime)(clockid_t, struct timespec *);
static int (*g_real_gettimeofday)(struct timeval *restrict, void *restrict);
static time_t (*g_real_time)(time_t *);

/* Called first by the constructor (init.c), in every process, under a monitor or not. */
void fast_init(void) {
  /* libc's own (vDSO) time functions, for the threads the agent does not intercept. */
  g_real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  g_real_gettimeofday = (int (*)(struct timeval *restrict, void *restrict))dlsym(RTLD_NEXT, "gettimeofday");
  g_real_time = (time_t(*)(time_t *))dlsym(RTLD_NEXT, "time");
  void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  for (int i = 0; i < FW_N; i++) {
    void *next = dlsym(RTLD_NEXT, g_fast_names[i]);
    /* Without libc's own address to compare with, yield always: slower, never wrong. */
    void *own = libc ? dlsym(libc, g_fast_names[i]) : NULL;
    g_fast_next[i] = next && next != own ? next : NULL;
  }
  clock_init(libc); /* the leader's clock reads (clock.c) */
  if (libc) dlclose(libc);
}

#define YIELD(i, type, ...)                                                                                            \
  do {                                                                                                                 \
    void *next_ = g_fast_next[i];                                                                                      \
    if (next_) return ((type)next_)(__VA_ARGS__);                                                                      \
  } while (0)

static int64_t fast_call(uint32_t nr, int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4, int64_t a5) {
  /* Not intercepted (no monitor, a thread or process run unfollowed, a leader thread that stopped
   * recording): the call is native, as its trap-free syscall would be. */
  if (!t_armed || g_agent.role == ROLE_NONE) return mvr_raw_syscall(nr, a0, a1, a2, a3, a4, a5);
  int64_t a[6] = {a0, a1, a2, a3, a4, a5};
  if (t_passthrough) return exec_call(nr, a);
  if (g_agent.prelude) {
    /* A handoff's new version before its first update point: the same policy as for its
     * trapped calls (it runs the call, or retires the process). */
    gregset_t g;
    memset(g, 0, sizeof g);
    if (prelude_call(nr, a, g)) return g[REG_RAX];
  }
  for (;;) {
    if (g_agent.role == ROLE_LEADER && !recording()) {
      disarm_sud(); /* as the SIGSYS handler does: nothing can follow any more */
      return exec_call(nr, a);
    }
    /* No program handler may run while the follower decides a call (its own calls would be
     * matched inside this one's): as around a leader's record, a handler that arrives meanwhile
     * is deferred (mvr_sig_wrapper) and its signal raised again at record_end. Blocking every
     * signal instead cost two rt_sigprocmask calls per call, a quarter of a Redis follower's
     * time. The leader needs nothing here: leader_record brackets its own record. */
    tstate *fts = g_agent.role == ROLE_FOLLOWER ? t_ts : NULL;
    if (fts) record_begin(fts);
    int64_t ret;
    int done = agent_call(nr, a, &ret);
    if (fts) record_end(fts);
    if (!done) take_restart(nr, a, NULL); /* the leader's signal: its handler runs now, then the call again */
    if (done) return ret;
    /* Re-issued: after the signal's handler, or as the new role after a role switch. */
  }
}

/* glibc's convention: -1 and errno for a kernel error. */
static inline long fast_ret(int64_t r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return (long)r;
}

#define I(x) ((int64_t)(x))            /* int arguments: sign-extended, as glibc passes them */
#define P(x) ((int64_t)(uintptr_t)(x)) /* pointers */
#define U(x) ((int64_t)(uint64_t)(x))  /* size_t, socklen_t: zero-extended */

EXPORT ssize_t read(int fd, void *buf, size_t n) {
  YIELD(FW_READ, ssize_t(*)(int, void *, size_t), fd, buf, n);
  return fast_ret(fast_call(SYS_read, I(fd), P(buf), U(n), 0, 0, 0));
}
EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  YIELD(FW_WRITE, ssize_t(*)(int, const void *, size_t), fd, buf, n);
  return fast_ret(fast_call(SYS_write, I(fd), P(buf), U(n), 0, 0, 0));
}
EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  YIELD(FW_READV, ssize_t(*)(int, const struct iovec *, int), fd, iov, cnt);
  return fast_ret(fast_call(SYS_readv, I(fd), P(iov), I(cnt), 0, 0, 0));
}
EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  YIELD(FW_WRITEV, ssize_t(*)(int, const struct iovec *, int), fd, iov, cnt);
  return fast_ret(fast_call(SYS_writev, I(fd), P(iov), I(cnt), 0, 0, 0));
}
EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
  YIELD(FW_RECV, ssize_t(*)(int, void *, size_t, int), fd, buf, n, flags);
  return fast_ret(fast_call(SYS_recvfrom, I(fd), P(buf), U(n), I(flags), 0, 0));
}
EXPORT ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, __SOCKADDR_ARG addr, socklen_t *restrict len) {
  YIELD(FW_RECVFROM, ssize_t(*)(int, void *, size_t, int, __SOCKADDR_ARG, socklen_t *), fd, buf, n, flags, addr, len);
  return fast_ret(fast_call(SYS_recvfrom, I(fd), P(buf), U(n), I(flags), P(addr.__sockaddr__), P(len)));
}
EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  YIELD(FW_RECVMSG, ssize_t(*)(int, struct msghdr *, int), fd, msg, flags);
  return fast_ret(fast_call(SYS_recvmsg, I(fd), P(msg), I(flags), 0, 0, 0));
}
EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
  YIELD(FW_SEND, ssize_t(*)(int, const void *, size_t, int), fd, buf, n, flags);
  return fast_ret(fast_call(SYS_sendto, I(fd), P(buf), U(n), I(flags), 0, 0));
}
EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  YIELD(FW_SENDTO, ssize_t(*)(int, const void *, size_t, int, __CONST_SOCKADDR_ARG, socklen_t), fd, buf, n, flags, addr,
        len);
  return fast_ret(fast_call(SYS_sendto, I(fd), P(buf), U(n), I(flags), P(addr.__sockaddr__), U(len)));
}
EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  YIELD(FW_SENDMSG, ssize_t(*)(int, const struct msghdr *, int), fd, msg, flags);
  return fast_ret(fast_call(SYS_sendmsg, I(fd), P(msg), I(flags), 0, 0, 0));
}
EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len) {
  YIELD(FW_ACCEPT, int (*)(int, __SOCKADDR_ARG, socklen_t *), fd, addr, len);
  return (int)fast_ret(fast_call(SYS_accept, I(fd), P(addr.__sockaddr__), P(len), 0, 0, 0));
}
EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags) {
  YIELD(FW_ACCEPT4, int (*)(int, __SOCKADDR_ARG, socklen_t *, int), fd, addr, len, flags);
  return (int)fast_ret(fast_call(SYS_accept4, I(fd), P(addr.__sockaddr__), P(len), I(flags), 0, 0));
}
EXPORT int shutdown(int fd, int how) {
  YIELD(FW_SHUTDOWN, int (*)(int, int), fd, how);
  return (int)fast_ret(fast_call(SYS_shutdown, I(fd), I(how), 0, 0, 0, 0));
}
EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  YIELD(FW_SETSOCKOPT, int (*)(int, int, int, const void *, socklen_t), fd, level, name, val, len);
  return (int)fast_ret(fast_call(SYS_setsockopt, I(fd), I(level), I(name), P(val), U(len), 0));
}
EXPORT int close(int fd) {
  YIELD(FW_CLOSE, int (*)(int), fd);
  return (int)fast_ret(fast_call(SYS_close, I(fd), 0, 0, 0, 0, 0));
}
EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout) {
  YIELD(FW_EPOLL_WAIT, int (*)(int, struct epoll_event *, int, int), epfd, ev, max, timeout);
  return (int)fast_ret(fast_call(SYS_epoll_wait, I(epfd), P(ev), I(max), I(timeout), 0, 0));
}
EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
  YIELD(FW_EPOLL_PWAIT, int (*)(int, struct epoll_event *, int, int, const sigset_t *), epfd, ev, max, timeout, mask);
  return (int)fast_ret(
      fast_call(SYS_epoll_pwait, I(epfd), P(ev), I(max), I(timeout), P(mask), 8 /* the kernel's sigset */));
}
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
  YIELD(FW_EPOLL_CTL, int (*)(int, int, int, struct epoll_event *), epfd, op, fd, ev);
  return (int)fast_ret(fast_call(SYS_epoll_ctl, I(epfd), I(op), I(fd), P(ev), 0, 0));
}

/* open and openat take a mode only with O_CREAT or O_TMPFILE; glibc passes 0 otherwise, and makes
 * openat(AT_FDCWD, ...) of an open: the same syscall here. */
static inline int64_t open_mode(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (int64_t)va_arg(ap, int) : 0;
}
#define OPEN_AT(i, dirfd, path, flags)                                                                                 \
  do {                                                                                                                 \
    va_list ap;                                                                                                        \
    va_start(ap, flags);                                                                                               \
    int64_t mode = open_mode(flags, ap);                                                                               \
    va_end(ap);                                                                                                        \
    YIELD(i, int (*)(int, const char *, int, ...), dirfd, path, flags, (int)mode);                                     \
    return (int)fast_ret(fast_call(SYS_openat, I(dirfd), P(path), I(flags), mode, 0, 0));                              \
  } while (0)
#define OPEN(i, path, flags)                                                                                           \
  do {                                                                                                                 \
    va_list ap;                                                                                                        \
    va_start(ap, flags);                                                                                               \
    int64_t mode = open_mode(flags, ap);                                                                               \
    va_end(ap);                                                                                                        \
    YIELD(i, int (*)(const char *, int, ...), path, flags, (int)mode);                                                 \
    return (int)fast_ret(fast_call(SYS_openat, I(AT_FDCWD), P(path), I(flags), mode, 0, 0));                           \
  } while (0)
EXPORT int open(const char *path, int flags, ...) { OPEN(FW_OPEN, path, flags); }
EXPORT int open64(const char *path, int flags, ...) { OPEN(FW_OPEN64, path, flags); }
EXPORT int openat(int dirfd, const char *path, int flags, ...) { OPEN_AT(FW_OPENAT, dirfd, path, flags); }
EXPORT int openat64(int dirfd, const char *path, int flags, ...) { OPEN_AT(FW_OPENAT64, dirfd, path, flags); }
#undef OPEN
#undef OPEN_AT
/* glibc (2.33 on) makes fstat a newfstatat(fd, "", st, AT_EMPTY_PATH): the same syscall here, so a
 * version whose call traps and one whose call came this way record the same event. */
EXPORT int fstat(int fd, struct stat *st) {
  YIELD(FW_FSTAT, int (*)(int, struct stat *), fd, st);
  return (int)fast_ret(fast_call(SYS_newfstatat, I(fd), P(""), P(st), AT_EMPTY_PATH, 0, 0));
}
EXPORT int fstat64(int fd, struct stat64 *st) {
  YIELD(FW_FSTAT64, int (*)(int, struct stat64 *), fd, st);
  return (int)fast_ret(fast_call(SYS_newfstatat, I(fd), P(""), P(st), AT_EMPTY_PATH, 0, 0));
}
EXPORT int fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags) {
  YIELD(FW_FSTATAT, int (*)(int, const char *, struct stat *, int), dirfd, path, st, flags);
  return (int)fast_ret(fast_call(SYS_newfstatat, I(dirfd), P(path), P(st), I(flags), 0, 0));
}
EXPORT int fstatat64(int dirfd, const char *restrict path, struct stat64 *restrict st, int flags) {
  YIELD(FW_FSTATAT64, int (*)(int, const char *, struct stat64 *, int), dirfd, path, st, flags);
  return (int)fast_ret(fast_call(SYS_newfstatat, I(dirfd), P(path), P(st), I(flags), 0, 0));
}
EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  YIELD(FW_PREAD, ssize_t(*)(int, void *, size_t, off_t), fd, buf, n, off);
  return fast_ret(fast_call(SYS_pread64, I(fd), P(buf), U(n), I(off), 0, 0));
}
EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
  YIELD(FW_PREAD64, ssize_t(*)(int, void *, size_t, off64_t), fd, buf, n, off);
  return fast_ret(fast_call(SYS_pread64, I(fd), P(buf), U(n), I(off), 0, 0));
}

/* vDSO time functions: a recording leader reads the vDSO and records the value (clock.c,
 * leader_clock); otherwise, while intercepted, they are made into real syscalls, so that they are
 * recorded (an error, an odd shape) or replayed (the follower). */
EXPORT int clock_gettime(clockid_t clk, struct timespec *ts) {
  if (!t_armed && g_real_clock_gettime) return g_real_clock_gettime(clk, ts);
  int64_t a[6] = {I(clk), P(ts)}, r;
  if (leader_clock(SYS_clock_gettime, a, &r)) return (int)fast_ret(r);
  return (int)fast_ret(fast_call(SYS_clock_gettime, I(clk), P(ts), 0, 0, 0, 0));
}
EXPORT int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  if (!t_armed && g_real_gettimeofday) return g_real_gettimeofday(tv, tz);
  int64_t a[6] = {P(tv), P(tz)}, r;
  if (leader_clock(SYS_gettimeofday, a, &r)) return (int)fast_ret(r);
  return (int)fast_ret(fast_call(SYS_gettimeofday, P(tv), P(tz), 0, 0, 0, 0));
}
EXPORT time_t time(time_t *t) {
  if (!t_armed && g_real_time) return g_real_time(t);
  int64_t a[6] = {P(t)}, r;
  if (leader_clock(SYS_time, a, &r)) return (time_t)r;
  return (time_t)fast_call(SYS_time, P(t), 0, 0, 0, 0, 0);
}

#undef I
#undef P
#undef U
#undef YIELD
