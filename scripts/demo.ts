// `npm run demo`: a live update of a stateful server under multi-version execution.
// kv-v1 serves clients; a faulty kv-v2 build is rolled back automatically; then kv-v2 is started
// both ways while the clients keep going: first fresh, catching up by replaying the old version's
// journal through the forward rules (then rolled back on request), then by state handoff (kv-v1
// forks at an update point, kv-v2 loads its state and follows it from there). The second is
// promoted (kv-v1 follows it under the backward rules) and committed. Every client answer is
// checked against a model of the store, and every loaded key is read back at the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query, type MonitorStatus } from '../compiler/cli/ctl.ts';
import { checkKeys, LineConn, loadKeys, runLoad, startKv, type LoadResult } from '../examples/kv/client.ts';

/** The repository root (this script is scripts/demo.ts). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const CLI = join(REPO, 'dist', 'mvrc.cjs');
const KV = join(REPO, 'examples', 'kv');
const t0 = Date.now();
const timeline: string[] = [];
let failures = 0;
let requests = 0;
const say = (s: string) => console.log(s);
const mark = (s: string) => {
  const line = `${((Date.now() - t0) / 1000).toFixed(2).padStart(6)} s  ${s}`;
  timeline.push(line);
  say(`  ${line}`);
};

function must(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`'${cmd} ${args.join(' ')}' failed (exit ${r.status})`);
  }
  return r;
}

/** `mvrc ctl SOCK ARGS...` as a user types it (shown), returning its exit status and output. */
function ctl(sock: string, args: string[]): { status: number | null; out: string } {
  say(`  $ mvrc ctl kv.sock ${args.map((a) => (a.startsWith(REPO) ? a.slice(REPO.length + 1) : a)).join(' ')}`);
  const r = spawnSync(process.execPath, [CLI, 'ctl', sock, ...args], { cwd: REPO, encoding: 'utf8' });
  const out = (r.stdout + r.stderr).trim();
  if (out) say(out.replace(/^/gm, '    '));
  return { status: r.status, out };
}

async function status(sock: string): Promise<MonitorStatus> {
  return JSON.parse(await query(sock, 'status')) as MonitorStatus;
}

async function until(sock: string, ok: (s: MonitorStatus) => boolean, ms = 20_000): Promise<MonitorStatus> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await status(sock);
    if (ok(s) || Date.now() > end) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function count(what: string, r: LoadResult) {
  requests += r.answered;
  failures += r.errors.length + r.mismatches.length;
  mark(`${what}: ${r.answered} answered, ${r.errors.length} client errors, ${r.mismatches.length} wrong answers`);
  for (const m of [...r.errors, ...r.mismatches].slice(0, 3)) say(`      ${m}`);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mvrc-demo-'));
  const sock = join(dir, 'kv.sock');
  const KEYS = 20_000;
  let server: Awaited<ReturnType<typeof startKv>> | undefined;
  try {
    say('\n[1/8] build the two versions of the key-value server and check the rules');
    must('make', ['-s', '-C', KV]);
    mark('built examples/kv/kv-v1 (running) and kv-v2 (the update: typed values, TYPE command)');
    const check = must(process.execPath, [CLI, 'check', '--no-warnings', join(KV, 'forward.mvr'), join(KV, 'backward.mvr')]);
    mark(`mvrc check forward.mvr backward.mvr: ${check.stderr.trim().split('\n').at(-1)}`);

    say('\n[2/8] kv-v1 serves alone, updatable');
    say('  $ mvrc run --control kv.sock -- examples/kv/kv-v1 --port 0');
    server = await startKv(process.execPath, [CLI, 'run', '--control', sock, '--follower-log', join(dir, 'follower.log'), '--', join(KV, 'kv-v1'), '--port', '0'], { timeoutMs: 120_000 });
    const port = server.port;
    mark(`kv-v1 listening on 127.0.0.1:${port}`);
    const loaded = await loadKeys(port, KEYS);
    mark(`loaded ${loaded.loaded} keys in ${Math.round(loaded.ms)} ms`);

    say('\n[3/8] first attempt: a faulty kv-v2 build (it crashes on GET) is rolled back automatically');
    const faulty = runLoad({ port, clients: 8, requests: 300, seed: 4, keyPrefix: 'f' });
    ctl(sock, ['update', '--env', 'MVR_KV_FAULT=crash-on-cmd=GET', '--rules', join(KV, 'forward.mvr'), '--', join(KV, 'kv-v2'), '--port', '0']);
    count('clients during the faulty update', await faulty);
    const afterFault = await until(sock, (s) => s.stage === 'single leader' && (s.timeline ?? []).some((t) => t.event === 'rollback'));
    const rb = (afterFault.timeline ?? []).filter((t) => t.event === 'rollback').at(-1);
    mark(rb ? `rolled back: ${rb.reason}` : `NOT rolled back (stage: ${afterFault.stage})`);
    if (!rb) failures++;

    say('\n[4/8] update to the fixed kv-v2 by replay while 8 clients keep working: it replays the journal, then follows live');
    const during = runLoad({ port, clients: 8, requests: 300, seed: 1, keyPrefix: 'u' });
    const up = ctl(sock, ['update', '--rules', join(KV, 'forward.mvr'), '--back', join(KV, 'backward.mvr'), '--', join(KV, 'kv-v2'), '--port', '0']);
    if (up.status !== 0) throw new Error('the update did not start');
    count('clients during the update', await during);
    const caught = await until(sock, (s) => Boolean(s.catchUp?.done));
    if (caught.catchUp) mark(`kv-v2 caught up: ${caught.catchUp.target} journal events in ${caught.catchUp.ms} ms (${caught.catchUp.eventsPerSec} events/s)`);
    count('requests only kv-v2 understands, answered by kv-v1 as before (forward rules)', await runLoad({ port, clients: 4, requests: 50, seed: 2, typed: true, expect: 'v1', keyPrefix: 't' }));
    if (ctl(sock, ['rollback']).status !== 0) throw new Error('rollback failed');
    mark('rolled back on request: kv-v1 serves alone again, with its state');

    say('\n[5/8] update to kv-v2 by state handoff: kv-v1 forks at its update point, kv-v2 loads the state and follows from there');
    const handoff = runLoad({ port, clients: 8, requests: 300, seed: 5, keyPrefix: 'h' });
    const ho = ctl(sock, ['update', '--state', 'handoff', '--rules', join(KV, 'forward.mvr'), '--back', join(KV, 'backward.mvr'), '--', join(KV, 'kv-v2')]);
    if (ho.status !== 0) throw new Error('the handoff update failed');
    count('clients during the handoff', await handoff);
    const loadedLine = (await status(sock)).timeline?.filter((t) => t.event === 'loaded').at(-1);
    if (loadedLine) mark(`kv-v2 ${loadedLine.reason.replace(/^version \d+ \(pid \d+\) /, '')}`);

    say('\n[6/8] promote: kv-v2 leads, kv-v1 follows it under the backward rules');
    const promote = runLoad({ port, clients: 8, requests: 300, seed: 3, keyPrefix: 'p' });
    if (ctl(sock, ['promote']).status !== 0) throw new Error('promote failed');
    count('clients across the promotion', await promote);

    say('\n[7/8] commit: kv-v2 alone');
    if (ctl(sock, ['commit']).status !== 0) throw new Error('commit failed');
    const keys = await checkKeys(port, KEYS);
    failures += keys.mismatches.length;
    mark(`all ${keys.checked} keys loaded into kv-v1 read back from kv-v2: ${keys.mismatches.length} lost or wrong`);
    const c = await LineConn.open(port);
    await c.send('TYPE key:7\n');
    const type = await c.nextLine();
    await c.send('PUT-number answer 42\n');
    const put = await c.nextLine();
    c.close();
    mark(`kv-v2 features now live: 'TYPE key:7' -> '${type}', 'PUT-number answer 42' -> '${put}'`);
    if (type !== 'TYPE string' || put !== 'OK') failures++;

    say('\n[8/8] the monitor\'s timeline, and the demo\'s');
    const after = await status(sock);
    for (const t of after.timeline ?? []) say(`  ${new Date(t.timeMs).toISOString().slice(11, 23)}  ${t.event.padEnd(9)} ${t.stage.padEnd(16)} ${t.reason}`);
    say('');
    for (const l of timeline) say(`  ${l}`);
    say(`\n${requests} client requests, ${failures} failed or wrong.`);
    say(failures === 0 ? 'Demo finished: the server was updated live, nothing was lost.' : 'Demo finished WITH PROBLEMS (see above).');
    process.exitCode = failures === 0 ? 0 : 1;
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
