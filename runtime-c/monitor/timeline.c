/* The clocks, and the timeline of the lifecycle (what `mvrc ctl status` lists). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor.h"

uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

tl_entry *timeline;
size_t n_timeline;
static size_t cap_timeline;

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tl_add(const char *event, const char *fmt, ...) {
  if (n_timeline == cap_timeline) {
    cap_timeline = cap_timeline ? cap_timeline * 2 : 32;
    timeline = mvr_xrealloc(timeline, cap_timeline * sizeof *timeline);
  }
  va_list ap;
  va_start(ap, fmt);
  char *r = mvr_vfmt(fmt, ap);
  va_end(ap);
  timeline[n_timeline].ms = wall_ms();
  timeline[n_timeline].event = event;
  timeline[n_timeline].reason = r;
  timeline[n_timeline].stage = stage;
  n_timeline++;
  if (lifecycle) {
    fprintf(stderr, "mvr-monitor: %s: %s (stage: %s)\n", event, r, stage_names[stage]);
    fflush(stderr);
  }
}
