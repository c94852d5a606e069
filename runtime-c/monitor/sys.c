/* sys.c — the monitor's side of common/mvr_sys.h: plain libc, errno turned into -errno. */
#include <errno.h>
#include <unistd.h>

#include "mvr_sys.h"

long mvr_sys_sendmsg(int fd, const struct msghdr *msg, int flags) {
  ssize_t r = sendmsg(fd, msg, flags);
  return r < 0 ? -errno : r;
}

long mvr_sys_recvmsg(int fd, struct msghdr *msg, int flags) {
  ssize_t r = recvmsg(fd, msg, flags);
  return r < 0 ? -errno : r;
}

void mvr_sys_close(int fd) { close(fd); }
