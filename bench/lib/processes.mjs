// Process helpers the server benchmarks share (memcached-bench, nginx-bench): child processes
// that end with the bench (also on Ctrl-C), waiting for a port, running and starting commands.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** The helpers for a bench whose scratch directory is `work` and whose commands run in `root`. */
export function benchProcesses(root, work) {
  const children = new Set();
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
  };

  function freePort() {
    return new Promise((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
  }

  /** Resolves once something accepts connections on the port (or rejects when the process ended). */
  async function listening(port, proc, timeoutMs = 90000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error('the server exited before it listened');
      const ok = await new Promise((res) => {
        const s = connect({ port, host: '127.0.0.1' });
        s.once('connect', () => {
          s.destroy();
          res(true);
        });
        s.once('error', () => res(false));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error(`not listening after ${timeoutMs / 1000} s`);
  }

  function run(cmd, args, timeoutMs) {
    return new Promise((resolve) => {
      const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(p);
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.once('close', (code) => {
        clearTimeout(t);
        children.delete(p);
        resolve({ code, out, err });
      });
    });
  }

  function start(cmd, args) {
    const proc = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let err = '';
    proc.stdout.resume();
    proc.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => proc.once('exit', r));
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      children.delete(proc);
    };
    return { proc, stop, stderr: () => err };
  }
  return { children, sleep, median, freePort, listening, run, start };
}
