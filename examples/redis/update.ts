// A live update of a running redis-server between two of Debian's own builds, under checked load:
//
//   npx tsx examples/redis/update.ts [--keys N] [--from VERSION] [--to VERSION] [--stop-after STAGE]
//
// Fetches both builds (scripts/fetch-debian-build.sh: `apt-get download` + `dpkg -x`, nothing is
// installed), starts the old one as a single updatable leader (`mvrc run --control`), loads N keys,
// then keeps 8 checked clients running while `mvrc ctl update --state replay` starts the new build
// beside it (it replays the old one's journal through examples/redis/redis.mvr, then follows live),
// promotes it and commits. At the end every loaded key is read back. It prints what happened at each
// stage and exits 0 only if the update completed with no failed or wrong answer and no lost key.
// `--stop-after caught-up` ends after the catch-up (both versions running, the old one leading).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkKeys, loadKeys, RespConn, runLoad, type LoadResult } from './client.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const CLI = join(REPO, 'dist', 'mvrc.cjs');

/** Debian bookworm's redis 7.0.15 builds: the release and the security update (CVE fixes). */
const RELEASES: Record<string, string> = { deb12u7: '5:7.0.15-1~deb12u7', deb12u10: '5:7.0.15-1~deb12u10' };

interface Options {
  keys: number;
  from: string;
  to: string;
  stopAfter: 'caught-up' | 'commit';
}

function parseArgs(argv: string[]): Options {
  const o: Options = { keys: 100_000, from: 'deb12u7', to: 'deb12u10', stopAfter: 'commit' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--keys' && v && /^\d+$/.test(v)) (o.keys = Number(v)), i++;
    else if (a === '--from' && v && v in RELEASES) (o.from = v), i++;
    else if (a === '--to' && v && v in RELEASES) (o.to = v), i++;
    else if (a === '--stop-after' && (v === 'caught-up' || v === 'commit')) (o.stopAfter = v), i++;
    else {
      process.stderr.write(
        `update: error: bad argument '${a}'\nusage: npx tsx examples/redis/update.ts [--keys N] [--from ${Object.keys(RELEASES).join('|')}] [--to ...] [--stop-after caught-up|commit]\n`,
      );
      process.exit(2);
    }
  }
  return o;
}

function say(text: string): void {
  for (const line of text.split('\n')) process.stdout.write(line.startsWith('update:') ? `${line}\n` : `update: ${line}\n`);
}

/** Both packages of one release, unpacked into .cache/debian/redis-RELEASE; its redis-server path. */
function fetchBuild(release: string): string {
  const dest = join(REPO, '.cache', 'debian', `redis-${release}`);
  const v = RELEASES[release]!;
  const r = spawnSync('bash', [join(REPO, 'scripts', 'fetch-debian-build.sh'), dest, `redis-tools=${v}`, `redis-server=${v}`], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot fetch redis ${v}`);
  const bin = join(dest, 'usr', 'bin', 'redis-server');
  if (!existsSync(bin)) throw new Error(`${bin} is missing after unpacking redis ${v}`);
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.once('error', rej);
  });
}

function ctl(sock: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'ctl', sock, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

interface Status {
  stage: string;
  leader: { pid: number; version: number } | null;
  follower: { pid: number; state: string; version: number } | null;
  catchUp?: { done: boolean; target: number; ms: number } | null;
  retirements: { reason: string; report: string }[];
}

function status(sock: string): Status {
  const r = ctl(sock, ['status', '--json']);
  if (r.status !== 0) throw new Error(`mvrc ctl status: ${r.out}`);
  return JSON.parse(r.out) as Status;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`gave up waiting for ${what} after ${ms / 1000} s`);
    await sleep(100);
  }
}

function p99(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
}

export async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build'`);
  const oldBin = fetchBuild(o.from);
  const newBin = fetchBuild(o.to);
  const dir = mkdtempSync(join(tmpdir(), 'mvrc-redis-update-'));
  const sock = join(dir, 'control.sock');
  const port = await freePort();
  const serverArgs = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const run = spawn(process.execPath, [CLI, 'run', '--control', sock, '--state-dir', join(dir, 'state'), '--', oldBin, ...serverArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let runErr = '';
  run.stderr!.on('data', (d: Buffer) => (runErr += d.toString()));
  let exited = false;
  run.once('exit', () => (exited = true));
  const pids: number[] = [];
  const rounds: LoadResult[] = [];
  let ok = false;
  try {
    await waitFor('redis-server to answer', async () => {
      if (exited) throw new Error(`mvrc run ended:\n${runErr}`);
      try {
        const c = await RespConn.open(port);
        const pong = await c.request('PING');
        c.close();
        return pong === 'PONG' && existsSync(sock) ? true : undefined;
      } catch {
        return undefined;
      }
    });
    say(`redis ${RELEASES[o.from]} leads alone under mvrc (port ${port}), keeping a journal for updates`);
    await loadKeys(port, o.keys);
    say(`loaded ${o.keys} keys`);

    // Checked clients, round after round, until the update is over.
    let stop = false;
    let round = 0;
    const load = (async () => {
      while (!stop) rounds.push(await runLoad(port, 8, 200, `r${round++}`));
    })();

    const rules = join(HERE, 'redis.mvr'); // both ways: the old version follows the new one after promote, so a rollback keeps its state
    // A divergence that comes from timing (Redis's cron reading /proc/self/stat at another event) is
    // retried: the new version starts again and replays the journal (`--retries`).
    const up = ctl(sock, ['update', '--rules', rules, '--back', rules, '--state', 'replay', '--retries', '2', '--', newBin, ...serverArgs]);
    say(up.out.split('\n').filter((l) => l.startsWith('update:')).join(' ') || up.out);
    if (up.status !== 0) throw new Error('the update was refused');
    const caught = await waitFor('the catch-up', () => {
      const s = status(sock);
      // Caught up, or given up (every retry retired: the old version leads alone again).
      return s.catchUp?.done || (s.retirements.length && !s.follower) ? s : undefined;
    });
    for (const p of [caught.leader?.pid, caught.follower?.pid]) if (p) pids.push(p);
    let completed = false;
    if (!caught.catchUp?.done) {
      say(`the new version was retired while catching up (${caught.retirements[0]!.reason}); the old one keeps serving:\n${caught.retirements[0]!.report}`);
    } else {
      const retried = caught.retirements.length ? ` (after ${caught.retirements.length} retired attempt(s): ${caught.retirements.map((r) => r.reason).join(', ')})` : '';
      say(`caught up: ${caught.catchUp!.target} journal events in ${caught.catchUp!.ms} ms; redis ${RELEASES[o.to]} follows live${retried}`);
      await sleep(1000); // a second of following under load before the switch
      if (o.stopAfter === 'caught-up') completed = status(sock).retirements.length === 0;
      else {
        const pro = ctl(sock, ['promote']);
        say(pro.out);
        if (pro.status === 0) {
          await sleep(1000); // a second of the new version leading under load
          const com = ctl(sock, ['commit']);
          say(com.out);
          completed = com.status === 0;
        }
      }
    }
    stop = true;
    await load;
    const all = rounds.reduce<LoadResult>(
      (a, r) => ({ answered: a.answered + r.answered, errors: [...a.errors, ...r.errors], wrong: [...a.wrong, ...r.wrong], latencies: a.latencies.concat(r.latencies) }),
      { answered: 0, errors: [], wrong: [], latencies: [] },
    );
    const lost = await checkKeys(port, o.keys);
    const fin = status(sock);
    say(`clients: ${all.answered} answers checked, ${all.errors.length} failed, ${all.wrong.length} wrong, p99 ${p99(all.latencies).toFixed(2)} ms`);
    for (const e of [...all.errors, ...all.wrong].slice(0, 5)) say(`  ${e}`);
    say(`keys: ${o.keys - lost.length} of ${o.keys} read back intact${lost.length ? ` (e.g. ${lost.slice(0, 3).join(', ')})` : ''}`);
    say(`stage: ${fin.stage}, version ${fin.leader?.version} leads; retirements: ${fin.retirements.length}`);
    ok = completed && all.errors.length === 0 && all.wrong.length === 0 && lost.length === 0;
    say(ok ? 'the update completed: no failed or wrong answer, no lost key' : 'the update did NOT complete (see above)');
  } finally {
    run.kill('SIGTERM');
    await sleep(500);
    for (const p of pids)
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    if (!exited) run.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`update: error: ${e.message}\n`);
      process.exit(2);
    },
  );
}
