// `mvrc record -o TRACE [--ring-size BYTES] -- CMD...`: runs CMD under the mvr agent as a leader
// with no follower and writes every event it records to TRACE in mvrc's JSON-lines trace format
// (docs/traces.md), for `mvrc verify` and `mvrc infer`. The runtime is built like `mvrc run`'s
// (cached); the monitor (`--record`) consumes the rings itself and writes the trace.
// Exit status: CMD's (128+N when killed by signal N); 2 for a usage or environment error, and when
// the trace could not be written in full (the monitor says why).
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { buildRuntime, RuntimeBuildError } from '../../codegen-c/runtime-build.ts';
import { describeError } from '../core/source-io.ts';
import { optionsBeforeCommand } from './options.ts';
import { runMonitor } from './run.ts';
import { EXIT_USAGE, UsageError, type CliIO } from './types.ts';

export interface RecordOptions {
  output: string;
  ringSize?: number;
  command: string[];
}

const RECORD_OPTIONS = new Set(['-o', '--output', '--ring-size']);

/** Parses the command line of `mvrc record` (exported for tests). */
export function parseRecordArgs(args: string[]): RecordOptions {
  let output: string | undefined;
  let ringSize: number | undefined;
  const { options, command } = optionsBeforeCommand(args, RECORD_OPTIONS, 'command to record');
  for (const [name, v] of options) {
    if (name === '--ring-size') {
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--ring-size expects a number of bytes, got '${v}'`);
      ringSize = Number(v);
      if (ringSize < 65536) throw new UsageError('--ring-size must be at least 65536');
    } else {
      if (v === '') throw new UsageError(`${name} needs a file name`);
      output = v;
    }
  }
  if (output === undefined) throw new UsageError('no trace file: give it with -o TRACE');
  if (command.length === 0) throw new UsageError("no command to record (give it after '--')");
  return { output, ringSize, command };
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the monitor's execvp will find the program, or null: checked first so that a typo is a
 * clear error (status 2) rather than a trace of a program that never ran. */
export function findCommand(cmd: string, cwd: string, env: NodeJS.ProcessEnv): string | null {
  if (cmd.includes('/')) {
    const p = path.resolve(cwd, cmd);
    return isExecutableFile(p) ? p : null;
  }
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = path.resolve(cwd, dir || '.', cmd);
    if (isExecutableFile(p)) return p;
  }
  return null;
}

/** Why TRACE cannot be written, or null. */
function traceUnwritable(trace: string): string | null {
  try {
    const st = statSync(trace, { throwIfNoEntry: false });
    if (st?.isDirectory()) return 'it is a directory';
    if (st) {
      accessSync(trace, constants.W_OK);
      return null;
    }
    const dir = path.dirname(trace);
    const dst = statSync(dir, { throwIfNoEntry: false });
    if (!dst) return `its directory ${dir} does not exist`;
    if (!dst.isDirectory()) return `${dir} is not a directory`;
    accessSync(dir, constants.W_OK);
    return null;
  } catch (e) {
    return describeError(e as NodeJS.ErrnoException);
  }
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const o = parseRecordArgs(args);
  const fail = (msg: string): number => {
    io.stderr(`mvrc record: error: ${msg}\n`);
    return EXIT_USAGE;
  };
  const cmd = o.command[0]!;
  if (!findCommand(cmd, io.cwd, io.env))
    return fail(cmd.includes('/') ? `cannot run '${cmd}': no such executable file` : `command not found: '${cmd}' (not in PATH)`);
  const trace = path.resolve(io.cwd, o.output);
  // The monitor opens it (and says why if it cannot); checked here first, without creating it, so
  // that the error comes before the runtime is built and before anything of the program runs.
  const why = traceUnwritable(trace);
  if (why) return fail(`cannot write the trace ${o.output}: ${why}`);

  let rt;
  try {
    rt = buildRuntime({ env: io.env });
  } catch (e) {
    if (e instanceof RuntimeBuildError) return fail(e.message);
    throw e;
  }
  const margs = ['--agent', rt.agent, '--record', trace];
  if (o.ringSize) margs.push('--ring-size', String(o.ringSize));
  margs.push('--', ...o.command);

  return runMonitor(rt.monitor, margs, io);
}

