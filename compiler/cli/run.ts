// `mvrc run`: runs a program as the leader, optionally with a follower version beside it under
// the mvr runtime (runtime-c/). Builds the rules (via `mvrc build`) and the runtime (cached), then
// runs the monitor, which starts both versions. Exit status: the leader's.
//
//   mvrc run [--rules F] [--back B] [--control SOCK] [--state replay|handoff] [--journal-size BYTES]
//            [--journal-min-free BYTES] [--follower-log F] [--state-dir D] [--ring-size BYTES] [--deadline-ms N] [--max-tasks N]
//            [--leader-env K=V]... [--follower-env K=V]... -- LEADER_CMD... [::: FOLLOWER_CMD...]
//
// --rules/--back take a .mvr file (compiled with `mvrc build`) or an already built rules .so;
// without --rules the follower runs the module of an empty rule file (empty-rules.ts).
// With --control the leader runs under the agent even alone, so that `mvrc ctl SOCK update`
// can start a new version later (docs/lifecycle.md). --state says how a later update brings the
// new version's state up to date (the default of `ctl update`): replay (the default) keeps a
// journal of the leader's events in a file of the state directory, bounded by --journal-size (4 GiB
// for each thread's part, the most; 0: off) and by --journal-min-free (free space it leaves); handoff (programs
// using runtime-c/dsu/mvr_dsu.h) keeps none unless --journal-size is given, so the leader runs
// untrapped until the update. --max-tasks bounds the threads and processes alive at once (the main
// thread included; default 16): each pair of tasks has a ring while it lives, reused once it ends.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildRuntime, RuntimeBuildError } from '../../codegen-c/runtime-build.ts';
import { optionsBeforeCommand } from './options.ts';
import { EXIT_USAGE, UsageError, type CliIO } from './types.ts';

export interface RunOptions {
  rules?: string;
  state?: 'replay' | 'handoff';
  back?: string;
  control?: string;
  journalSize?: number;
  journalMinFree?: number;
  followerLog?: string;
  stateDir?: string;
  ringSize?: number;
  deadlineMs?: number;
  maxTasks?: number;
  leaderEnv: string[];
  followerEnv: string[];
  leader: string[];
  follower?: string[];
}

const VALUE_OPTIONS = new Set(['--rules', '--back', '--state', '--journal-size', '--journal-min-free', '--control', '--follower-log', '--state-dir', '--ring-size', '--deadline-ms', '--max-tasks', '--leader-env', '--follower-env']);

/** The largest ring, and so journal bound (MVR_RING_MAX in runtime-c/common/mvr_ring.h). */
const RING_MAX = 0xfffff000;

/** The runtime's limit of task pairs alive at once (MVR_MAX_RINGS in runtime-c/common/mvr_ring.h). */
const MAX_TASKS = 1024;

function positiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0 || !Number.isSafeInteger(Number(v))) throw new UsageError(`${flag} expects a positive integer, got '${v}'`);
  return Number(v);
}

/** Parses the command line of `mvrc run` (exported for tests). */
export function parseRunArgs(args: string[]): RunOptions {
  const o: RunOptions = { leaderEnv: [], followerEnv: [], leader: [] };
  const { options, command: rest } = optionsBeforeCommand(args, VALUE_OPTIONS, 'leader command');
  for (const [name, v] of options) {
    switch (name) {
      case '--rules': o.rules = v; break;
      case '--back': o.back = v; break;
      case '--state':
        if (v !== 'replay' && v !== 'handoff') throw new UsageError(`--state expects replay or handoff, got '${v}'`);
        o.state = v;
        break;
      case '--journal-size':
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--journal-size expects a number of bytes, got '${v}'`);
        o.journalSize = Number(v);
        if (o.journalSize > RING_MAX) throw new UsageError(`--journal-size is at most ${RING_MAX} bytes (4 GiB - 4 KiB: each ring's part), got ${v}`);
        break;
      case '--journal-min-free':
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--journal-min-free expects a number of bytes, got '${v}'`);
        o.journalMinFree = Number(v);
        break;
      case '--control': o.control = v; break;
      case '--follower-log': o.followerLog = v; break;
      case '--state-dir': o.stateDir = v; break;
      case '--ring-size': o.ringSize = positiveInt(name, v); break;
      case '--deadline-ms': o.deadlineMs = positiveInt(name, v); break;
      case '--max-tasks':
        o.maxTasks = positiveInt(name, v);
        if (o.maxTasks > MAX_TASKS) throw new UsageError(`--max-tasks is at most ${MAX_TASKS}, got ${v}`);
        break;
      case '--leader-env':
      case '--follower-env':
        if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) throw new UsageError(`${name} expects NAME=VALUE, got '${v}'`);
        (name === '--leader-env' ? o.leaderEnv : o.followerEnv).push(v);
        break;
    }
  }
  const sep = rest.indexOf(':::');
  o.leader = sep < 0 ? rest : rest.slice(0, sep);
  if (sep >= 0) o.follower = rest.slice(sep + 1);
  if (o.leader.length === 0) throw new UsageError("no leader command (give it after '--')");
  if (o.follower && o.follower.length === 0) throw new UsageError("no follower command after ':::'");
  if (o.rules && !o.follower) throw new UsageError('--rules needs a follower command (after :::); to update a running leader use `mvrc ctl SOCK update --rules F`');
  if (o.back && !o.follower) throw new UsageError('--back needs a follower command (after :::)');
  if (o.ringSize !== undefined && o.ringSize < 65536) throw new UsageError('--ring-size must be at least 65536');
  if (o.state && (!o.control || o.follower))
    throw new UsageError('--state applies to a single leader started for later updates (--control, and no follower after :::)');
  if (o.state === 'replay' && o.journalSize === 0) throw new UsageError('--state replay needs the journal: --journal-size 0 turns it off');
  return o;
}

/** Builds the rules module for --rules FILE.mvr with `mvrc build` into stateDir/sub; returns the .so path or null (reported). */
export async function buildRules(file: string, stateDir: string, io: CliIO, sub = 'rules'): Promise<string | null> {
  if (file.endsWith('.so')) {
    if (!existsSync(file)) throw new UsageError(`rules module not found: ${file}`);
    return file;
  }
  const out = path.join(stateDir, sub);
  mkdirSync(out, { recursive: true });
  const build = (await import('./build.ts')).run;
  // Its diagnostics (stderr) are the user's; its success line would mix into the leader's stdout.
  const status = await build([file, '-o', out], { ...io, stdout: () => {} });
  if (status !== 0) return null;
  const so = path.join(out, 'rules.so');
  if (!existsSync(so)) {
    io.stderr(`mvrc run: error: 'mvrc build' did not produce ${so}\n`);
    return null;
  }
  return so;
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const o = parseRunArgs(args);
  const abs = (p: string): string => path.resolve(io.cwd, p);
  const stateDir = o.stateDir ? abs(o.stateDir) : mkdtempSync(path.join(tmpdir(), 'mvrc-run-'));
  // Private: the journal there holds every byte the program read and wrote.
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });

  let rulesSo: string | undefined;
  if (o.rules) {
    const so = await buildRules(abs(o.rules), stateDir, io);
    if (so === null) return 1;
    rulesSo = so;
  } else if (o.follower) {
    // No rules: the follower runs the empty rule file's module (the default rule alone), the
    // same generated C as any other module (empty-rules.ts).
    const so = (await import('./empty-rules.ts')).buildEmptyRules(io);
    if (so === null) return 1;
    rulesSo = so;
  }
  let backSo: string | undefined;
  if (o.back) {
    const so = await buildRules(abs(o.back), stateDir, io, 'back');
    if (so === null) return 1;
    backSo = so;
  }
  let rt;
  try {
    // With a control socket the leader runs under the agent even alone: it may be updated.
    rt = o.follower || o.control ? buildRuntime({ env: io.env }) : null;
  } catch (e) {
    if (e instanceof RuntimeBuildError) {
      io.stderr(`mvrc run: error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  // Without a follower or a control socket the leader runs alone, without the agent; the monitor
  // reports its exit.
  const monitor = rt ? rt.monitor : buildRuntime({ env: io.env }).monitor;
  const margs: string[] = [];
  if (rt) margs.push('--agent', rt.agent);
  if (rulesSo) margs.push('--rules', rulesSo);
  if (backSo) margs.push('--back', backSo);
  if (o.control) margs.push('--control', abs(o.control));
  if (o.state) margs.push('--state', o.state);
  // A handoff needs no journal: the leader runs untrapped until the update (unless one is asked for).
  const journal = o.journalSize ?? (o.state === 'handoff' ? 0 : undefined);
  if (journal !== undefined) margs.push('--journal-size', String(journal));
  if (o.journalMinFree !== undefined) margs.push('--journal-min-free', String(o.journalMinFree));
  if (o.follower) margs.push('--follower-log', o.followerLog ? abs(o.followerLog) : path.join(stateDir, 'follower.log'));
  margs.push('--state-dir', stateDir);
  if (o.ringSize) margs.push('--ring-size', String(o.ringSize));
  if (o.deadlineMs) margs.push('--deadline-ms', String(o.deadlineMs));
  if (o.maxTasks) margs.push('--max-tasks', String(o.maxTasks));
  for (const e of o.leaderEnv) margs.push('--leader-env', e);
  for (const e of o.followerEnv) margs.push('--follower-env', e);
  margs.push('--', ...o.leader);
  if (o.follower) margs.push(':::', ...o.follower);

  return runMonitor(monitor, margs, io);
}

/** Runs the monitor with the terminal's stdio, passing on the signals that would end mvrc; resolves
 * to its exit status (128+N when a signal N ended it). Shared by `mvrc run` and `mvrc record`. */
export async function runMonitor(monitor: string, margs: string[], io: CliIO): Promise<number> {
  const child = spawn(monitor, margs, { cwd: io.cwd, env: io.env, stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => () => void child.kill(sig);
  // The operator's signals reach the program (the monitor passes them to the leader): a stop
  // (SIGTERM, ^C, SIGQUIT), a reload (SIGHUP), the user signals servers give meanings to.
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (osSignal(signal) ?? 1) : EXIT_USAGE)));
    });
  } finally {
    for (const [s, h] of handlers) process.removeListener(s, h);
  }
}

function osSignal(name: NodeJS.Signals): number | undefined {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGTERM: 15 };
  return table[name];
}
