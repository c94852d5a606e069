/* mvr_dsu.h: the handoff library for DSU-enabled programs (DESIGN.md "Update lifecycle", way 3).
 *
 * README
 * ------
 * A program links mvr_dsu.c and calls two functions:
 *   mvr_dsu_init(...)         once at start-up, after its state is initialised and before it
 *                             serves. If the process was started by a handoff, this loads the
 *                             old version's state image (through load_fn) before returning.
 *   mvr_dsu_update_point()    at a safe point (kv: the top of its event loop). Without a control
 *                             channel it does nothing at all (no system call); with one it makes
 *                             one non-blocking check. When an update was requested, it forks:
 *                             the parent returns at once and keeps serving, the child serialises
 *                             the state (save_fn) into a memfd and execs the new version, whose
 *                             mvr_dsu_init loads and transforms it. The old version never waits
 *                             for the transformation; if the new version fails, it is unaffected.
 * A program that blocks in poll/epoll also adds mvr_dsu_fd() to its set (readable = call
 * mvr_dsu_update_point() soon), and marks with mvr_dsu_keep_fd() the descriptors the new version
 * must inherit (e.g. its listening socket); all others should be close-on-exec.
 *
 * Environment (set by whoever starts the process, or by the library for the new version):
 *   MVR_DSU_CTL_FD=N     control channel: a connected unix stream socket. Requests are read from
 *                        it and reports written to it. Unset: the library is inert.
 *   MVR_DSU_STATE_FD=N   (handoff only) the state image: a memfd or regular file, read from 0.
 *   MVR_DSU_REPORT_FD=N  (handoff only) where the new version writes its "loaded"/"failed"
 *                        report: the control channel of the process that requested the update.
 * The library removes these variables from its environment once read.
 *
 * Control protocol: text lines, fields separated by one space, values percent-encoded (%XX for
 * '%', bytes <= 0x20 and >= 0x7f), so a line never holds a raw space or newline inside a value.
 *   request  update ARG0 ARG1 ...        start the new version with this argv (execvp). A file
 *                                        descriptor sent with the line (SCM_RIGHTS) becomes the
 *                                        new version's own control channel (MVR_DSU_CTL_FD), so
 *                                        that it can be updated in turn; without one the new
 *                                        version has no control channel after its report.
 *   request  update [env=K=V]... [fd=N]... -- ARG0 ...   (first field `--`, env= or fd=) the same,
 *                                        with K=V set in the new version's environment and the
 *                                        descriptors sent along (up to 4) placed, in order, at the
 *                                        numbers N (none of them is then the control channel).
 *   report   forked pid=P point=N version=V     (old version) the fork point: P is the child,
 *                                        N counts the update points passed, this one included
 *   report   loaded pid=P version=V from=W bytes=B entries=E   (new version) state loaded
 *   report   failed pid=P stage=S error=MSG     S: request, fork, save, exec (from the child),
 *                                        load (from the new version)
 *   report   exited pid=P status=C  |  killed pid=P signal=G   (old version) its handoff child
 *                                        (which is the new version after exec) ended
 * "forked" is always written before any report of the child (the child waits for it).
 * Reports are written without blocking: a controller that never reads loses reports, never
 * stalls the server.
 *
 * State image (all integers little-endian):
 *   magic "MVRDSU\r\n" (8 bytes) | u32 format (1) | u32 writer version | u32 name length (1..255)
 *   | program name | u64 payload length | u64 entries | u64 FNV-1a-64 of the payload | payload
 * The payload is what save_fn wrote with the put functions: u32/u64 as 4/8 bytes, bytes as a u64
 * length then the bytes. The loader checks magic, format, program name, that the file length is
 * exactly header + payload length, the checksum, and that load_fn consumed the whole payload.
 *
 * Failure modes (docs/handoff.md has the long version). The old version is never affected:
 * - the child crashes or fails while serialising: "failed stage=save" or "killed pid=P";
 * - exec fails: "failed stage=exec";
 * - the image is corrupt or the new version's load_fn rejects it: the new version prints
 *   "PROGRAM: dsu: error: ..." on stderr, reports "failed stage=load", and exits with status
 *   MVR_DSU_EXIT_LOAD; it never serves with a half-loaded state;
 * - the new version crashes during the transformation: "killed pid=P signal=G".
 *
 * Errors: every function returning int returns 0 (or a count) on success and -1 on failure,
 * with a message in mvr_dsu_error(). Reader/writer errors are sticky: after the first one, every
 * get returns 0/NULL and every put does nothing, and the library checks once at the end.
 * Under mvrc (the agent of `mvrc run` is preloaded; mvr_agent_api.h): the library's own calls are
 * never recorded or compared, mvr_dsu_fd() returns -1 (the monitor interrupts a blocking call
 * instead), an update point makes no system call unless the monitor flagged a request, and the
 * fork is the agent's: the new version follows the old one from the fork point (docs/handoff.md,
 * "Under multi-version execution"; mvr_dsu_following() below).
 * Limits: a single-threaded program (save_fn runs in a forked child, where only the calling
 * thread exists); one handoff at a time.
 */
#ifndef MVR_DSU_H
#define MVR_DSU_H

#include <stddef.h>
#include <stdint.h>

#define MVR_DSU_EXIT_LOAD 3 /* exit status of a new version that cannot load its state */

typedef struct mvr_dsu_writer mvr_dsu_writer;
typedef struct mvr_dsu_reader mvr_dsu_reader;

/* Writes the whole state with the put functions; returns the number of entries written (for the
 * report), or -1 after mvr_dsu_writer_fail(). Runs in the forked child. */
typedef int64_t (*mvr_dsu_save_fn)(mvr_dsu_writer *w, void *app);
/* Reads the image written by version `from_version` of the same program and transforms it into
 * this version's state; returns the number of entries loaded, or -1 after mvr_dsu_reader_fail()
 * (or a failed get). */
typedef int64_t (*mvr_dsu_load_fn)(mvr_dsu_reader *r, void *app, uint32_t from_version);

/* Returns 0 for a fresh start, 1 when the state was loaded from a handoff, -1 when the control
 * channel in the environment is unusable (message in mvr_dsu_error()). A handoff whose image
 * cannot be loaded does not return: it exits with MVR_DSU_EXIT_LOAD after a message. */
int mvr_dsu_init(const char *program, uint32_t version, mvr_dsu_save_fn save, mvr_dsu_load_fn load, void *app);
/* Returns 1 when an update was started here (this process is the old version and goes on), 0
 * when nothing was pending, -1 when a request failed (reported on the control channel too). */
int mvr_dsu_update_point(void);
/* A descriptor to poll for readability (requests, a handoff child ending), or -1 if inert. */
int mvr_dsu_fd(void);
/* `fd` is inherited by the new version (FD_CLOEXEC is cleared in the child only). */
int mvr_dsu_keep_fd(int fd);
/* 1 when this process was started by a handoff under multi-version execution (`mvrc ctl update
 * --state handoff`): it is the follower of the old version from the fork point on, so its state
 * must mirror the old version's exactly, connections included. Such a process inherits every
 * descriptor the old version had open at the fork point, under the same numbers (epoll
 * instances are replaced by empty ones of its own, never shared). load_fn restores what a
 * plain handoff leaves with the old version: the open connections and their buffers, and the
 * descriptor numbers of its epoll instance and other event sources. It starts following at its
 * first mvr_dsu_update_point(): from load until then, it may make only calls with a local
 * effect (memory, its own epoll instance, dup/close, writes to its stdout/stderr). 0 otherwise. */
int mvr_dsu_following(void);
/* The message of the last failure. */
const char *mvr_dsu_error(void);

void mvr_dsu_put_u32(mvr_dsu_writer *w, uint32_t v);
void mvr_dsu_put_u64(mvr_dsu_writer *w, uint64_t v);
void mvr_dsu_put_bytes(mvr_dsu_writer *w, const void *p, size_t n);
void mvr_dsu_writer_fail(mvr_dsu_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

uint32_t mvr_dsu_get_u32(mvr_dsu_reader *r);
uint64_t mvr_dsu_get_u64(mvr_dsu_reader *r);
/* A pointer into the image (valid until load_fn returns) and its length in *n; NULL on error. */
const void *mvr_dsu_get_bytes(mvr_dsu_reader *r, size_t *n);
/* A u64 count of items that take at least `min_each` bytes each: fails (returns 0) when the
 * rest of the image cannot hold that many, so a corrupt count never drives a long loop. */
uint64_t mvr_dsu_get_count(mvr_dsu_reader *r, size_t min_each);
int mvr_dsu_reader_ok(const mvr_dsu_reader *r);
/* Bytes of the payload not read yet (0 after a failure): lets load_fn read an optional trailing
 * section that older writers did not produce. */
size_t mvr_dsu_reader_left(const mvr_dsu_reader *r);
void mvr_dsu_reader_fail(mvr_dsu_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
