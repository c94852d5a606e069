/* mvr_agent_api.h: what the mvrc agent (runtime-c/agent, preloaded into the versions that
 * `mvrc run` starts) offers the handoff library, so that a handoff works under multi-version
 * execution (docs/handoff.md, "Under multi-version execution").
 *
 * The agent exports one data symbol, `mvr_agent` (of this type); the library finds it with
 * dlsym(RTLD_DEFAULT, ...), so a program runs unchanged without the agent. Everything here is the
 * runtime's business, never the program's: the library's own system calls (its control channel,
 * the state image, the fork) must not appear among the program's recorded or compared events. */
#ifndef MVR_AGENT_API_H
#define MVR_AGENT_API_H

#include <stddef.h>

#define MVR_AGENT_API_VERSION 1u

typedef struct mvr_agent_api {
	unsigned version; /* MVR_AGENT_API_VERSION */
	/* 1 while this process runs under the monitor (as leader or follower), 0 otherwise: then
	 * nothing below may be called. */
	int (*active)(void);
	/* While on, this thread's system calls run as they are: not recorded (leader), not matched
	 * (follower). Nests. */
	void (*passthrough)(int on);
	/* Leader: 1 when the monitor has written a request on the DSU channel (read from shared
	 * memory: an update point costs no system call otherwise). */
	int (*update_pending)(void);
	/* Leader, at an update point, before it forks for a handoff: starts a fresh event stream for
	 * the new version (noting the leader's epoll registrations at its head) and makes the next
	 * fork of this thread the handoff fork: a child of the monitor, not recorded, not under the
	 * agent, holding every descriptor the leader has (close-on-exec cleared below the runtime's
	 * own), with epoll instances replaced by empty ones. 0, or -1 with a message in err. */
	int (*handoff_prepare)(char *err, size_t cap);
	/* 1 in a process started by a handoff to follow the old version (until it ends). */
	int (*following)(void);
	/* Such a process: starts following now (called at its first update point). Until then it
	 * may only make calls with a local effect. */
	void (*follow)(void);
} mvr_agent_api;

#endif
