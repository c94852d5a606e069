/* Descriptor passing (SCM_RIGHTS) on a Unix socket: one message with a small payload and up to
 * MVR_FDPASS_MAX descriptors. The one implementation for the monitor, the agent (also on its trap
 * path: the system calls go through mvr_sys.h, raw in the agent) and the handoff library.
 * Results follow the kernel's convention: -errno on failure, errno untouched. */
#ifndef MVR_FDPASS_H
#define MVR_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define MVR_FDPASS_MAX 8

/* Sends len bytes of buf and n descriptors (n <= MVR_FDPASS_MAX) in one message; flags as for
 * sendmsg (MSG_DONTWAIT, MSG_NOSIGNAL...). Returns the bytes sent, or -errno (-EINVAL for n too
 * large). */
ssize_t mvr_fd_send(int sock, const void *buf, size_t len, const int *fds, unsigned n, int flags);

/* Receives one message: up to len bytes into buf, and up to max descriptors (max <= MVR_FDPASS_MAX)
 * into fds, their count in *nfds. Room is made for max descriptors only: a message with more is
 * cut by the kernel, and MSG_CTRUNC is set in *msg_flags (NULL: not wanted). The lengths of the
 * control messages are checked against the buffer, never trusted; a descriptor that arrives past
 * max is closed. flags as for recvmsg (MSG_DONTWAIT, MSG_CMSG_CLOEXEC, MSG_PEEK with max 0...).
 * Returns the bytes received, 0 when the peer is gone, or -errno (on 0 or -errno, *nfds is 0). */
ssize_t mvr_fd_recv(int sock, void *buf, size_t len, int *fds, unsigned max, unsigned *nfds, int *msg_flags, int flags);

#endif
