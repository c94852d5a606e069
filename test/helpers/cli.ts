// Runs the bundled CLI (dist/mvrc.cjs, built by `npm test` before mocha) as a user would.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO, 'dist', 'mvrc.cjs');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  signal: NodeJS.Signals | null;
}

export function mvrc(args: string[], opts: { cwd?: string; input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliResult {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', signal: r.signal };
}

export function tempDir(prefix = 'mvrc-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Polls `check` (a file appearing, a line in a log, a status field) until it holds. The limit is
 * not a speed requirement, only a way to fail saying what never happened rather than at mocha's
 * timeout: keep it well above what the slowest machine needs. Nothing may depend on the interval.
 */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
