/* Descriptor passing (mvr_fdpass.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "mvr_fdpass.h"
#include "mvr_sys.h"

typedef union {
  struct cmsghdr h; /* for the alignment */
  char buf[CMSG_SPACE(MVR_FDPASS_MAX * sizeof(int))];
} fd_control;

ssize_t mvr_fd_send(int sock, const void *buf, size_t len, const int *fds, unsigned n, int flags) {
  if (n > MVR_FDPASS_MAX) return -EINVAL;
  fd_control cm;
  memset(&cm, 0, sizeof cm);
  struct iovec iov = {(void *)buf, len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (n) {
    mh.msg_control = cm.buf;
    mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  }
  return mvr_sys_sendmsg(sock, &mh, flags);
}

ssize_t mvr_fd_recv(int sock, void *buf, size_t len, int *fds, unsigned max, unsigned *nfds, int *msg_flags,
                    int flags) {
  *nfds = 0;
  if (msg_flags) *msg_flags = 0;
  if (max > MVR_FDPASS_MAX) max = MVR_FDPASS_MAX;
  fd_control cm;
  struct iovec iov = {buf, len};
  struct msghdr mh = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = CMSG_SPACE(max * sizeof(int))};
  if (!max) mh.msg_control = NULL, mh.msg_controllen = 0;
  ssize_t r = mvr_sys_recvmsg(sock, &mh, flags);
  if (r < 0) return r;
  if (msg_flags) *msg_flags = mh.msg_flags;
  const char *end = cm.buf + (mh.msg_controllen < sizeof cm.buf ? mh.msg_controllen : sizeof cm.buf);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    /* The header and the data it claims must lie inside what the kernel filled in. */
    if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_len > (size_t)(end - (const char *)c)) break;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char *data = CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, data + i * sizeof(int), sizeof fd);
      if (*nfds < max) fds[(*nfds)++] = fd;
      else mvr_sys_close(fd);
    }
  }
  if (r == 0) { /* the peer is gone (what came with an empty message is not wanted) */
    for (unsigned i = 0; i < *nfds; i++) mvr_sys_close(fds[i]);
    *nfds = 0;
  }
  return r;
}
