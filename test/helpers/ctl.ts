// Helpers for the tests that drive a running monitor through `mvrc ctl` (test/lifecycle*.test.ts):
// the example kv server's files, the control commands, and the checks on client load.
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CLI, REPO, tempDir } from './cli.ts';
import type { LoadResult } from '../../examples/kv/client.ts';
import type { MonitorStatus } from '../../compiler/cli/ctl.ts';

const KV_DIR = join(REPO, 'examples', 'kv');
/** The example update pair and its rules (examples/kv). */
export const KV = {
  dir: KV_DIR,
  v1: join(KV_DIR, 'kv-v1'),
  v2: join(KV_DIR, 'kv-v2'),
  forward: join(KV_DIR, 'forward.mvr'),
  backward: join(KV_DIR, 'backward.mvr'),
};

/** Builds kv-v1/kv-v2 and the fault-injection preload (test/fixtures/kv-fault.c) in a new temporary directory. */
export function prepareKv(prefix: string): { dir: string; faultSo: string } {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
  execFileSync('make', ['-C', KV_DIR, '--no-print-directory', '-s'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = tempDir(prefix);
  const faultSo = join(dir, 'kv-fault.so');
  execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-shared', '-fPIC', '-o', faultSo, join(REPO, 'test', 'fixtures', 'kv-fault.c')]);
  return { dir, faultSo };
}

export function ctl(sock: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'ctl', sock, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `ctl` without blocking this process's event loop: clients in this process keep running meanwhile. */
export function ctlAsync(sock: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, 'ctl', sock, ...args], { cwd: REPO, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export function status(sock: string): MonitorStatus {
  const r = ctl(sock, ['status', '--json']);
  if (r.status !== 0) throw new Error(`mvrc ctl status failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as MonitorStatus;
}

/**
 * Polls the monitor's status until `ok` holds. The limit is not a speed requirement, only a way
 * to fail with the last status rather than at mocha's timeout: keep it well above what the
 * slowest machine needs. The status is asked for asynchronously, so that client load running in
 * this process keeps going meanwhile.
 */
export async function until(sock: string, ok: (s: MonitorStatus) => boolean, what: string, ms = 60_000): Promise<MonitorStatus> {
  const t0 = Date.now();
  for (;;) {
    const r = await ctlAsync(sock, ['status', '--json']);
    if (r.status !== 0) throw new Error(`mvrc ctl status failed: ${r.stderr}`);
    const s = JSON.parse(r.stdout) as MonitorStatus;
    if (ok(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}; status: ${JSON.stringify(s, null, 1)}`);
    await new Promise((r) => setTimeout(r, 50)); // the polling interval; nothing depends on it
  }
}

/** Sends one raw line to the control socket (the monitor's own protocol). */
export function raw(sock: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let data = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d: string) => (data += d));
    s.on('error', reject);
    s.on('end', () => resolve(data));
  });
}

export function clean(load: LoadResult, n: number): void {
  expect(load.errors).to.deep.equal([]);
  expect(load.mismatches).to.deep.equal([]);
  expect(load.answered).to.equal(n);
}

export const events = (s: MonitorStatus): string[] => (s.timeline ?? []).map((t) => t.event);
