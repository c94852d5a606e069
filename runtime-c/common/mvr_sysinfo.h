/* mvr_sysinfo.h — the runtime's view of the syscall table (runtime-c/include/mvr_syscalls.h,
 * generated from compiler/syscalls/x86_64.tsv; included only by mvr_sysinfo.c, as it holds the table). Everything in the runtime that needs to know what
 * a parameter holds goes through these few functions, so the table's layout is named once. */
#ifndef MVR_SYSINFO_H
#define MVR_SYSINFO_H

#include <stdint.h>

/* Parameter kinds and effect classes, in the runtime's own small enums. */
enum mvr_kind {
  MVR_K_SCALAR = 0, /* fd, int, size, flags: compared by value */
  MVR_K_PTR,        /* an address: never compared, never copied */
  MVR_K_IN_BYTES,
  MVR_K_OUT_BYTES,
  MVR_K_PATH,
  MVR_K_IN_STRUCT,
  MVR_K_OUT_STRUCT,
};
/* Effect classes: the values of enum mvr_effect in mvr_syscalls.h. */
enum { MVR_EFFECT_LOCAL = 0, MVR_EFFECT_READONLY = 1, MVR_EFFECT_EXTERNAL = 2 };

const char *mvr_si_name(uint32_t nr); /* "syscall_NNN" for unknown numbers (static buffer-free) */
int mvr_si_known(uint32_t nr);
unsigned mvr_si_arity(uint32_t nr); /* 6 for unknown numbers */
int mvr_si_effect(uint32_t nr);     /* unknown numbers: external */
int mvr_si_kind(uint32_t nr, unsigned i);
int mvr_si_len_param(uint32_t nr, unsigned i); /* -1: none */
int mvr_si_len_from_ret(uint32_t nr, unsigned i);
uint32_t mvr_si_fixed_size(uint32_t nr, unsigned i); /* 0: none */
int mvr_si_returns_fd(uint32_t nr);

/* The model the agent will follow (docs/runtime.md, "Phase 2"): values of mvr_syscalls.h's enums. */
int mvr_si_recorded(uint32_t nr);                          /* recorded by the leader, matched by the follower */
int mvr_si_new_fds(uint32_t nr);                           /* MVR_FDS_NONE, a parameter (int array), or MVR_FDS_SCM */
int mvr_si_task(uint32_t nr, unsigned *param);             /* MVR_TASK_*; *param: where the clone flags are */
int mvr_si_noreturn(uint32_t nr);                          /* MVR_NORET_* */
int mvr_si_blocks(uint32_t nr);                            /* may wait indefinitely (unknown numbers: yes) */
unsigned mvr_si_nextra(uint32_t nr);                       /* derived parameters after the arity (msghdr parts) */
int mvr_si_type(uint32_t nr, unsigned i, unsigned *strct); /* enum mvr_type; *strct: MVR_T_STRUCT's index */
/* The positions the agent records by the model rather than as plain bytes (bit i: position i): an
 * iovec array, msghdr or mmsghdr vector parameter (MVR_T_IOVEC / MVR_T_MSGHDR / MVR_T_MMSGHDR, shown as
 * a pointer by mvr_si_kind) and the parts derived from it after the arity (a msghdr's name,
 * control data, flags; a vector's layout). 0 for every other call, so the hot path
 * pays one table look-up. */
unsigned mvr_si_model_slots(uint32_t nr);
/* The agent's policy for a number, from the model (cached like mvr_si_model_slots): MVR_POL_*. */
enum {
  MVR_POL_RECORDED = 1, /* the leader records it, the follower matches it (else: each executes it) */
  MVR_POL_FDS = 2,      /* it creates descriptors (returned, in an int array, or SCM_RIGHTS received) */
  MVR_POL_CMD_FDS = 4,  /* some of its commands return a new descriptor (fcntl F_DUPFD): mvr_si_cmd_flags */
  MVR_POL_TASK = 8,     /* it creates a thread or a process (mvr_si_task) */
};
unsigned mvr_si_policy(uint32_t nr);
/* The command-table entries (x86_64.tsv, @commands) that apply to a call with these arguments:
 * their indices in mvr_cmd_entries, in order, at most max; returns how many. */
unsigned mvr_si_cmd_entries(uint32_t nr, const int64_t *args, uint16_t *out, unsigned max);
/* The MVR_CF_* flags of those entries (MVR_CF_RETFD: the call returns a new descriptor). */
unsigned mvr_si_cmd_flags(uint32_t nr, const int64_t *args);
/* Derived position j (>= arity): the parameter it is a part of (-1: none) and the part (MVR_PART_*). */
int mvr_si_derived(uint32_t nr, unsigned j, unsigned *part);

#endif
