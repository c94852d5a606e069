// Builds the C runtime (runtime-c/): the preloaded agent libmvr-agent.so and the monitor
// mvr-monitor, with the system C compiler. Builds are cached by a hash of every source file, the
// compiler's identity and the flags, under $XDG_CACHE_HOME/mvrc (or ~/.cache/mvrc), so `mvrc run`
// compiles once per runtime version. Concurrent builds are safe: each builds in a private
// directory and renames it into place.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RuntimeBuild {
  /** The directory holding both files. */
  dir: string;
  /** Absolute path of libmvr-agent.so. */
  agent: string;
  /** Absolute path of mvr-monitor. */
  monitor: string;
  /** True when this call compiled it (false: found in the cache). */
  built: boolean;
}

export interface RuntimeBuildOptions {
  /** C compiler (default: $CC or `cc`). */
  cc?: string;
  /** Cache root (default: $XDG_CACHE_HOME/mvrc or ~/.cache/mvrc). */
  cacheDir?: string;
  /** The runtime-c/ source directory (default: the one beside this module). */
  sourceDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** A failed compiler run or missing sources: the message holds the compiler's output. */
export class RuntimeBuildError extends Error {}

export const RUNTIME_CFLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O2', '-g'];
/** dlopen is in libc since glibc 2.34; older ones need libdl. */
const LINK_FLAGS = ['-ldl'];

/**
 * The folders are the source lists, as in runtime-c/Makefile: the agent is agent/*.c and agent/*.S,
 * the monitor monitor/*.c, and both link common/*.c. A new file in a folder needs no list edited.
 */
function programSources(files: string[]): { agent: string[]; monitor: string[] } {
  const common = files.filter((f) => /^common\/[^/]+\.c$/.test(f));
  return {
    agent: [...files.filter((f) => /^agent\/[^/]+\.(c|S)$/.test(f)), ...common],
    monitor: [...files.filter((f) => /^monitor\/[^/]+\.c$/.test(f)), ...common],
  };
}

/** runtime-c/ beside this module's directory (codegen-c/ in the sources, dist/ in the bundle). */
export function defaultRuntimeSourceDir(): string {
  const env = process.env['MVRC_RUNTIME_SRC'];
  if (env) return env;
  if (typeof __dirname === 'string') return path.resolve(__dirname, '..', 'runtime-c');
  try {
    return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'runtime-c');
  } catch {
    return path.resolve('runtime-c');
  }
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache'), 'mvrc');
}

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ['agent', 'common', 'monitor', 'include']) {
    const d = path.join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) if (/\.(c|h|S)$/.test(f)) out.push(`${sub}/${f}`);
  }
  // The interface the agent offers the handoff library (the library itself is the program's).
  if (existsSync(path.join(dir, 'dsu', 'mvr_agent_api.h'))) out.push('dsu/mvr_agent_api.h');
  return out;
}

function compilerId(cc: string, env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cc, ['--version'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? cc;
  } catch (e) {
    throw new RuntimeBuildError(`cannot run the C compiler '${cc}': ${(e as Error).message}`);
  }
}

function compile(cc: string, args: string[], env: NodeJS.ProcessEnv): void {
  try {
    execFileSync(cc, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new RuntimeBuildError(`building the mvr runtime failed (${cc} ${args.join(' ')}):\n${err.stderr || err.message}`);
  }
}

/** A build takes seconds; one whose directory is an hour old was killed before it could clean up. */
const STALE_BUILD_MS = 3600_000;

/**
 * Removes the temporary directories of builds that were killed mid-way (a stopped test run, ^C
 * during the first `mvrc run`): nothing else removes them, and each holds a half-built runtime.
 */
function removeStaleBuilds(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith('.build-')) continue;
    const p = path.join(root, name);
    try {
      if (now - statSync(p).mtimeMs > STALE_BUILD_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // Another process removed it first, or it is not ours to remove: leave it.
    }
  }
}

/**
 * Builds (or finds in the cache) the agent and the monitor. $MVRC_RUNTIME_DIR names a directory
 * with a prebuilt pair instead (e.g. the checking build of `make -C runtime-c sanitize`).
 */
export function buildRuntime(opts: RuntimeBuildOptions = {}): RuntimeBuild {
  const env = opts.env ?? process.env;
  const pre = env['MVRC_RUNTIME_DIR'];
  if (pre) {
    const dir = path.resolve(pre);
    const agent = path.join(dir, 'libmvr-agent.so');
    const monitor = path.join(dir, 'mvr-monitor');
    if (!existsSync(agent) || !existsSync(monitor)) throw new RuntimeBuildError(`MVRC_RUNTIME_DIR=${pre} lacks libmvr-agent.so or mvr-monitor`);
    return { dir, agent, monitor, built: false };
  }
  const cc = opts.cc ?? env['CC'] ?? 'cc';
  const src = opts.sourceDir ?? defaultRuntimeSourceDir();
  const files = listSources(src);
  const sources = programSources(files);
  for (const [what, list] of [['agent', sources.agent], ['monitor', sources.monitor]] as const) {
    if (!list.some((f) => f.endsWith('.c'))) throw new RuntimeBuildError(`the runtime sources are incomplete: ${path.join(src, what)} has no C file`);
  }
  const h = createHash('sha256');
  h.update(`${compilerId(cc, env)}\n${RUNTIME_CFLAGS.join(' ')}\n${LINK_FLAGS.join(' ')}\n`);
  for (const f of files) {
    h.update(`${f}\n`);
    h.update(readFileSync(path.join(src, f), 'latin1'), 'latin1');
  }
  const key = h.digest('hex').slice(0, 20);
  const root = opts.cacheDir ?? defaultCacheDir(env);
  const dir = path.join(root, `runtime-${key}`);
  const agent = path.join(dir, 'libmvr-agent.so');
  const monitor = path.join(dir, 'mvr-monitor');
  if (existsSync(agent) && existsSync(monitor)) return { dir, agent, monitor, built: false };

  mkdirSync(root, { recursive: true });
  removeStaleBuilds(root);
  const tmp = mkdtempSync(path.join(root, `.build-${key}-`));
  try {
    const inc = ['-I', path.join(src, 'include'), '-I', path.join(src, 'common'), '-I', path.join(src, 'dsu')];
    compile(cc, [...RUNTIME_CFLAGS, ...inc, '-fPIC', '-shared', '-fvisibility=hidden', '-o', path.join(tmp, 'libmvr-agent.so'),
      ...sources.agent.map((f) => path.join(src, f)), ...LINK_FLAGS], env);
    compile(cc, [...RUNTIME_CFLAGS, ...inc, '-o', path.join(tmp, 'mvr-monitor'), ...sources.monitor.map((f) => path.join(src, f)), ...LINK_FLAGS], env);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another build of the same sources won the race: use it.
      if (!(existsSync(agent) && existsSync(monitor))) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir, agent, monitor, built: true };
}
