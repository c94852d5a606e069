/* mvr_sys.h — the few system calls common code makes, behind one seam chosen at link time.
 *
 * The agent cannot call libc on its trap path (inside the SIGSYS handler a libc wrapper would trap
 * again, and it would write the program's errno): it implements these with its raw syscalls
 * (agent/util.c). The monitor and the handoff library implement them with libc. No function
 * pointers: each program links exactly one definition.
 *
 * Kernel convention: the result, or -errno on failure; errno is never written by the agent's. */
#ifndef MVR_SYS_H
#define MVR_SYS_H

#include <sys/socket.h>

long mvr_sys_sendmsg(int fd, const struct msghdr *msg, int flags);
long mvr_sys_recvmsg(int fd, struct msghdr *msg, int flags);
void mvr_sys_close(int fd);

#endif
