/* The built-in matcher used when `mvrc run` gets no rules: only the default rule of LANGUAGE.md §3
 * (a syscall matches itself). Same interface as a generated module (mvr_rules.h), other names. */
#ifndef MVR_DEFAULT_MATCHER_H
#define MVR_DEFAULT_MATCHER_H
#include "mvr_rules.h"

#ifndef MVR_DM
#define MVR_DM(name) mvr_dm_##name
#define MVR_DM_DECL __attribute__((visibility("hidden")))
#else
#define MVR_DM_DECL
#endif

MVR_DM_DECL size_t MVR_DM(state_size)(void);
MVR_DM_DECL void MVR_DM(reset)(void *state, uint64_t first_event);
MVR_DM_DECL int MVR_DM(step)(void *state, const mvr_leader_view *leader, const mvr_call *call, mvr_step *out);
MVR_DM_DECL uint64_t MVR_DM(low_water)(const void *state);
MVR_DM_DECL int MVR_DM(finish)(void *state, const mvr_leader_view *leader, mvr_step *out);
#endif
