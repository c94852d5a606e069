// What a process image does before the mvr agent starts recording, in strace output: the calls
// the runtime never sees, so that mvrc verify and mvrc infer compare strace traces from where the
// runtime's comparison starts (docs/traces.md, "Where the comparison starts").
//
// The agent is a preloaded library (LD_PRELOAD): by the time its constructor runs, the dynamic
// loader has opened, read and mapped every shared object, a sanitizer run-time has run its
// initialisation (from .preinit_array, before every constructor), and the constructor itself
// mallocs once before it arms syscall user dispatch (runtime-c/agent/init.c). strace sees all of
// it from the execve on; `mvrc record`'s traces start after it. So, for each process image after
// its execve, in order, among the calls the runtime would record (the model's `rec` calls):
//   1. the loader: the longest run of calls that are the loader's — access("/etc/ld.so.preload"),
//      opens of /etc/ld.so.cache, /etc/ld.so.preload and of shared objects (a file name ending in
//      `.so` or `.so.N...`, or a path under a `glibc-hwcaps` directory: the search probes, failed or
//      not), and read, pread64, fstat/newfstatat and close on a descriptor such an open returned;
//   2. when the loader opened a sanitizer run-time (libasan, libtsan, liblsan, libubsan, libhwasan,
//      libmsan), its initialisation: the run of calls after the loader's that only look at the
//      process itself — readlink("/proc/self/exe"), opens of /proc/self/... with the reads,
//      fstats and closes on their descriptors, getpid/gettid/getppid, clocks, getrlimit,
//      sched_getaffinity, uname, sysinfo;
//   3. glibc's malloc initialisation: the first getrandom(_, 8, GRND_NONBLOCK) of the image (the
//      tcache key, drawn at the first malloc — the agent's, before it records).
// The first call that fits none ends the start-up (a dlopen later in the program is seen, as the
// runtime sees it). A program's own getrandom(_, 8, GRND_NONBLOCK) made before any malloc would be
// taken for glibc's: the counts still agree, since glibc's then comes later.
import { syscallByNr } from '../syscalls/lookup.ts';
import type { TraceEvent } from './trace.ts';

const SHARED_OBJECT = /(?:^|\/)[^/]*\.so(?:\.\d+)*$/;
const SANITIZER = /(?:^|\/)lib(?:asan|tsan|lsan|ubsan|hwasan|msan)\.so(?:\.\d+)*$/;
const LOADER_FILES = new Set(['/etc/ld.so.cache', '/etc/ld.so.preload']);
const SELF_QUERIES = new Set(['getpid', 'gettid', 'getppid', 'clock_gettime', 'clock_getres', 'gettimeofday', 'time', 'getrlimit', 'sched_getaffinity', 'uname', 'sysinfo']);
const GRND_NONBLOCK = 1n;

function text(b: Uint8Array | null | undefined): string {
  return b ? Buffer.from(b).toString('latin1') : '';
}

function isLoaderPath(p: string): boolean {
  return LOADER_FILES.has(p) || SHARED_OBJECT.test(p) || p.includes('/glibc-hwcaps/');
}

/**
 * The start-up of one process image, fed the image's calls in order (only those the runtime would
 * record): `skip(e)` is true for a call of the start-up above. Works a call at a time, so a trace
 * read as a stream (compiler/traces/stream.ts) and one read whole (verify.ts, matchedEvents)
 * leave out the same calls.
 */
export class ImageStart {
  private phase: 'loader' | 'sanitizer' | 'main' = 'loader';
  private readonly fds = new Set<bigint>();
  private sanitizer = false;
  private seeded = false;

  skip(e: TraceEvent): boolean {
    const name = syscallByNr(e.nr)?.name ?? '';
    if (this.phase === 'loader') {
      if (this.loaderCall(name, e)) return true;
      this.fds.clear();
      this.phase = this.sanitizer ? 'sanitizer' : 'main';
    }
    if (this.phase === 'sanitizer') {
      if (this.selfQuery(name, e)) return true;
      this.phase = 'main';
    }
    if (!this.seeded && name === 'getrandom' && e.args[1] === 8n && (e.args[2]! & GRND_NONBLOCK) !== 0n) {
      this.seeded = true;
      return true;
    }
    return false;
  }

  /** A call on a descriptor one of the start-up's opens returned (read, pread64, fstat, close). */
  private onOwnFd(name: string, e: TraceEvent): boolean {
    const fd = e.args[0]!;
    if (!this.fds.has(fd)) return false;
    if (name === 'close') {
      this.fds.delete(fd);
      return true;
    }
    return name === 'read' || name === 'pread64' || name === 'fstat' || (name === 'newfstatat' && text(e.bufs[1]) === '');
  }

  private opened(name: string, e: TraceEvent, ok: (path: string) => boolean): boolean {
    const path = name === 'openat' ? text(e.bufs[1]) : name === 'open' ? text(e.bufs[0]) : undefined;
    if (path === undefined || !ok(path)) return false;
    if (!e.noRet && e.ret >= 0n) this.fds.add(e.ret);
    return true;
  }

  private loaderCall(name: string, e: TraceEvent): boolean {
    if (name === 'access') return text(e.bufs[0]) === '/etc/ld.so.preload';
    if (name === 'open' || name === 'openat') {
      return this.opened(name, e, (p) => {
        if (!isLoaderPath(p)) return false;
        if (SANITIZER.test(p)) this.sanitizer = true;
        return true;
      });
    }
    if ((name === 'newfstatat' || name === 'stat') && isLoaderPath(text(e.bufs[name === 'stat' ? 0 : 1]))) return true;
    return this.onOwnFd(name, e);
  }

  private selfQuery(name: string, e: TraceEvent): boolean {
    if (SELF_QUERIES.has(name)) return true;
    if (name === 'readlink') return text(e.bufs[0]) === '/proc/self/exe';
    if (name === 'open' || name === 'openat') return this.opened(name, e, (p) => p.startsWith('/proc/self/'));
    return this.onOwnFd(name, e);
  }
}
