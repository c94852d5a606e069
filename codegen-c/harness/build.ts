// Builds codegen-c/harness/harness.c together with a generated rule module into one executable
// (for tests and benchmarks), optionally with AddressSanitizer and UndefinedBehaviorSanitizer.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CFLAGS, runtimeIncludeDir } from '../cc.ts';

export const HARNESS_C = path.join(path.dirname(fileURLToPath(import.meta.url)), 'harness.c');

export interface HarnessBuild {
  /** Sanitizers on (ASan + UBSan, no recovery). */
  sanitize?: boolean;
  /** Optimisation level flag (default -O2; -O1 with sanitizers). */
  opt?: string;
  /** Extra sources compiled and linked in (benchmarks). */
  extraSources?: string[];
  /** Replaces harness.c as the main program. */
  main?: string;
}

/** Writes the module's files into `dir` and builds `dir/harness`; throws with the compiler's output on failure. */
export function buildHarness(dir: string, files: ReadonlyMap<string, string>, opts: HarnessBuild = {}): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) writeFileSync(path.join(dir, name), text);
  const inc = runtimeIncludeDir();
  for (const h of ['mvr_rules.h', 'mvr_typed.h', 'mvr_module.h', 'mvr_tables.h', 'mvr_matcher.h', 'mvr_default_match.h']) copyFileSync(path.join(inc, h), path.join(dir, h));
  const exe = path.join(dir, 'harness');
  const san = opts.sanitize ? ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-g'] : [];
  const cc = (process.env['CC'] || 'cc').trim().split(/\s+/);
  const args = [
    ...cc.slice(1),
    ...CFLAGS.filter((f) => f !== '-O2' && f !== '-fPIC'),
    opts.opt ?? (opts.sanitize ? '-O1' : '-O2'),
    ...san,
    '-I',
    dir,
    path.join(dir, 'rules.c'),
    opts.main ?? HARNESS_C,
    ...(opts.extraSources ?? []),
    '-o',
    exe,
  ];
  const r = spawnSync(cc[0]!, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`harness build failed:\n${r.stderr}`);
  return exe;
}

/** Runs a harness executable on the given input text; returns its stdout (throws on a non-zero exit). */
export function runHarness(exe: string, input: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(exe, [], { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`harness exited with ${r.status ?? r.signal}:\n${r.stderr}`);
  return r.stdout;
}
