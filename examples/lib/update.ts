// The steps every release-pair update example takes (examples/redis/update.ts,
// examples/memcached/update.ts) and the fault tests reuse: fetch Debian's builds, start the old one
// as a single updatable leader (`mvrc run --control`), load keys, keep checked clients running,
// `mvrc ctl update --state replay` with the new build, promote, commit, read every key back.
// What differs per server (its protocol, its checked client) comes in as a `Server`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO, 'dist', 'mvrc.cjs');

export interface LoadResult {
  answered: number;
  /** Requests that got no answer (connection refused or closed). */
  errors: string[];
  /** Answers other than the model's. */
  wrong: string[];
  /** Each request's latency, in ms. */
  latencies: number[];
}

/** A server's checked client, as the steps below use it. */
export interface Server {
  name: string;
  /** What its keys are, in the messages (default "keys"). */
  unit?: string;
  /** Resolves true once the server answers on `port`. */
  ping(port: number): Promise<boolean>;
  loadKeys(port: number, n: number): Promise<void>;
  /** The keys (of key 0..n-1) whose value is not the loaded one. */
  checkKeys(port: number, n: number): Promise<string[]>;
  runLoad(port: number, clients: number, requests: number, tag: string): Promise<LoadResult>;
}

/** Debian's packages PKG=VERSION unpacked into .cache/debian/NAME (nothing is installed); the path of `bin` there. */
export function fetchBuild(name: string, specs: string[], bin: string): string {
  const dest = join(REPO, '.cache', 'debian', name);
  const r = spawnSync('bash', [join(REPO, 'scripts', 'fetch-debian-build.sh'), dest, ...specs], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot fetch ${specs.join(' ')}`);
  const path = join(dest, bin);
  if (!existsSync(path)) throw new Error(`${path} is missing after unpacking ${specs.join(' ')}`);
  return path;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.once('error', rej);
  });
}

export function ctl(sock: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'ctl', sock, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

export interface Status {
  stage: string;
  leader: { pid: number; version: number } | null;
  follower: { pid: number; state: string; version: number } | null;
  catchUp?: { done: boolean; target: number; ms: number } | null;
  retirements: { reason: string; report: string; version?: number }[];
}

export function status(sock: string): Status {
  const r = ctl(sock, ['status', '--json']);
  if (r.status !== 0) throw new Error(`mvrc ctl status: ${r.out}`);
  return JSON.parse(r.out) as Status;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`gave up waiting for ${what} after ${ms / 1000} s`);
    await sleep(100);
  }
}

export function p99(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
}

export function say(text: string): void {
  for (const line of text.split('\n')) process.stdout.write(line.startsWith('update:') ? `${line}\n` : `update: ${line}\n`);
}

/** One server under `mvrc run --control`, leading alone; stop() ends it and every version it ran. */
export class Session {
  readonly sock: string;
  private readonly run: ChildProcess;
  private exited = false;
  private err = '';
  /** Pids seen (leaders, followers): ended with the session, whatever state it was left in. */
  readonly pids = new Set<number>();

  private constructor(
    readonly server: Server,
    readonly port: number,
    private readonly dir: string,
    cmd: string[],
    runArgs: string[],
  ) {
    this.sock = join(dir, 'control.sock');
    this.run = spawn(process.execPath, [CLI, 'run', '--control', this.sock, '--state-dir', join(dir, 'state'), ...runArgs, '--', ...cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.run.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.run.once('exit', () => (this.exited = true));
  }

  /** Starts `cmd(port)` under mvrc and waits until it answers. */
  static async start(server: Server, cmd: (port: number) => string[], runArgs: string[] = []): Promise<Session> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build'`);
    const port = await freePort();
    const s = new Session(server, port, mkdtempSync(join(tmpdir(), `mvrc-${server.name}-update-`)), cmd(port), runArgs);
    await waitFor(`${server.name} to answer`, async () => {
      if (s.exited) throw new Error(`mvrc run ended:\n${s.err}`);
      try {
        return (await server.ping(port)) && existsSync(s.sock) ? true : undefined;
      } catch {
        return undefined;
      }
    });
    return s;
  }

  /** What `mvrc run` wrote on its standard error so far. */
  get stderr(): string {
    return this.err;
  }

  status(): Status {
    const s = status(this.sock);
    for (const p of [s.leader?.pid, s.follower?.pid]) if (p) this.pids.add(p);
    return s;
  }

  ctl(args: string[]): { status: number | null; out: string } {
    return ctl(this.sock, args);
  }

  /** Checked clients, round after round (`clients` connections of `requests` each), until the returned stop() is awaited. */
  load(clients = 8, requests = 200): () => Promise<LoadResult> {
    const rounds: LoadResult[] = [];
    let stop = false;
    let round = 0;
    const running = (async () => {
      while (!stop) rounds.push(await this.server.runLoad(this.port, clients, requests, `r${round++}`));
    })();
    return async () => {
      stop = true;
      await running;
      return rounds.reduce<LoadResult>(
        (a, r) => ({ answered: a.answered + r.answered, errors: [...a.errors, ...r.errors], wrong: [...a.wrong, ...r.wrong], latencies: a.latencies.concat(r.latencies) }),
        { answered: 0, errors: [], wrong: [], latencies: [] },
      );
    };
  }

  async stop(): Promise<void> {
    try {
      this.status();
    } catch {
      /* the monitor is gone already */
    }
    this.run.kill('SIGTERM');
    await sleep(500);
    for (const p of this.pids)
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    if (!this.exited) this.run.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface UpdateOptions {
  keys: number;
  stopAfter: 'caught-up' | 'commit';
  /** The old and the new build's command lines for a port. */
  oldCmd: (port: number) => string[];
  newCmd: (port: number) => string[];
  oldName: string;
  newName: string;
  /** `--rules` and `--back` of the update (none: the default rules). */
  rules?: string;
  retries?: number;
}

/**
 * The whole update, printed stage by stage; resolves 0 only if it completed (committed, or caught
 * up with `stopAfter: 'caught-up'`) with no failed or wrong answer and no lost key.
 */
export async function liveUpdate(server: Server, o: UpdateOptions): Promise<number> {
  const s = await Session.start(server, o.oldCmd);
  let ok = false;
  try {
    say(`${server.name} ${o.oldName} leads alone under mvrc (port ${s.port}), keeping a journal for updates`);
    await s.server.loadKeys(s.port, o.keys);
    say(`loaded ${o.keys} ${server.unit ?? 'keys'}`);
    const stopLoad = s.load();
    const t0 = Date.now();
    // Both ways: the old version follows the new one after promote, so a rollback keeps its state.
    const rules = o.rules ? ['--rules', o.rules, '--back', o.rules] : [];
    // A divergence that comes from timing is retried: the new version starts again and replays
    // the journal (`--retries`).
    const retries = o.retries ?? 2;
    const up = s.ctl(['update', ...rules, '--state', 'replay', '--retries', String(retries), '--', ...o.newCmd(s.port)]);
    say(up.out.split('\n').filter((l) => l.startsWith('update:')).join(' ') || up.out);
    if (up.status !== 0) throw new Error('the update was refused');
    const caught = await waitFor('the catch-up', () => {
      const st = s.status();
      // Caught up, or given up: the old version leads alone again, with no retry to come (only a
      // divergence is retried, up to `retries` times).
      const last = st.retirements.at(-1);
      const retried = last && /divergence/.test(last.reason) && st.retirements.length <= retries;
      return st.catchUp?.done || (last && !retried && (!st.follower || st.follower.state === 'retired')) ? st : undefined;
    }).catch((e: Error) => {
      say(s.ctl(['status']).out); // where it stands, for the report
      throw e;
    });
    let completed = false;
    if (!caught.catchUp?.done) {
      say(`the new version was retired while catching up, ${caught.retirements.length} time(s) (${caught.retirements.map((r) => r.reason).join(', ')}); the old one keeps serving:\n${caught.retirements.at(-1)!.report}`);
    } else {
      const retried = caught.retirements.length ? ` (after ${caught.retirements.length} retired attempt(s): ${caught.retirements.map((r) => r.reason).join(', ')})` : '';
      say(`caught up: ${caught.catchUp!.target} journal events in ${caught.catchUp!.ms} ms; ${server.name} ${o.newName} follows live${retried}`);
      await sleep(1000); // a second of following under load before the switch
      if (o.stopAfter === 'caught-up') completed = s.status().retirements.length === 0;
      else {
        const pro = s.ctl(['promote']);
        say(pro.out);
        if (pro.status === 0) {
          await sleep(1000); // a second of the new version leading under load
          const com = s.ctl(['commit']);
          say(com.out);
          completed = com.status === 0;
        }
      }
    }
    const all = await stopLoad();
    const ms = Date.now() - t0;
    const lost = await s.server.checkKeys(s.port, o.keys);
    const fin = s.status();
    say(`clients: ${all.answered} answers checked, ${all.errors.length} failed, ${all.wrong.length} wrong, p99 ${p99(all.latencies).toFixed(2)} ms`);
    for (const e of [...all.errors, ...all.wrong].slice(0, 5)) say(`  ${e}`);
    say(`${server.unit ?? 'keys'}: ${o.keys - lost.length} of ${o.keys} read back intact${lost.length ? ` (e.g. ${lost.slice(0, 3).join(', ')})` : ''}`);
    say(`stage: ${fin.stage}, version ${fin.leader?.version} leads; retirements: ${fin.retirements.length}; ${(ms / 1000).toFixed(1)} s from update to ${o.stopAfter === 'commit' ? 'commit' : 'the end'}`);
    ok = completed && all.errors.length === 0 && all.wrong.length === 0 && lost.length === 0;
    say(ok ? 'the update completed: no failed or wrong answer, no lost key' : 'the update did NOT complete (see above)');
  } finally {
    await s.stop();
  }
  return ok ? 0 : 1;
}

/** Runs `main` as a script's entry point: exit 0/1 as it resolves, 2 with the message if it throws. */
export function runMain(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`update: error: ${e.message}\n`);
      process.exit(2);
    },
  );
}
