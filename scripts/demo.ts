// `npm run demo`: the new version of a key-value server runs beside the old one under MVE.
// 1. kv-v1 serves clients as the leader while kv-v2 follows it under the forward rules: every
//    answer is checked against a model of the store, including requests only v2 understands.
// 2. A faulty v2 (it crashes on the first GET) follows v1: it is retired with a report, and the
//    clients never notice.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStatus, query, type MonitorStatus } from '../compiler/commands/ctl.ts';
import { REPO } from '../test/helpers/cli.ts';
import { runLoad, startKv, type KvServer } from '../test/helpers/kv-client.ts';

const CLI = join(REPO, 'dist', 'mvrc.cjs');
const KV = join(REPO, 'examples', 'kv');
const t0 = Date.now();
const timeline: string[] = [];
const say = (s: string) => console.log(s);
const mark = (s: string) => {
  const line = `${((Date.now() - t0) / 1000).toFixed(2).padStart(6)} s  ${s}`;
  timeline.push(line);
  say(`  ${line}`);
};

function step(n: number, total: number, s: string) {
  say(`\n[${n}/${total}] ${s}`);
}

function must(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`'${cmd} ${args.join(' ')}' failed (exit ${r.status})`);
  }
  return r;
}

async function status(sock: string): Promise<MonitorStatus> {
  return JSON.parse(await query(sock, 'status')) as MonitorStatus;
}

async function mveRun(dir: string, name: string, followerEnv: string[] = []): Promise<{ server: KvServer; sock: string; log: string }> {
  const sock = join(dir, `${name}.sock`);
  const log = join(dir, `${name}-follower.log`);
  const args = [CLI, 'run', '--rules', join(KV, 'forward.mvr'), '--control', sock, '--follower-log', log, ...followerEnv.flatMap((e) => ['--follower-env', e]), '--', join(KV, 'kv-v1'), '--port', '0', ':::', join(KV, 'kv-v2'), '--port', '0'];
  say(`  $ mvrc run --rules examples/kv/forward.mvr --control ${name}.sock${followerEnv.map((e) => ` --follower-env ${e}`).join('')} -- kv-v1 --port 0 ::: kv-v2 --port 0`);
  const server = await startKv(process.execPath, args, { timeoutMs: 120_000 });
  return { server, sock, log };
}

async function main() {
  const total = 5;
  const dir = mkdtempSync(join(tmpdir(), 'mvrc-demo-'));
  let exit = 0;
  try {
    step(1, total, 'build the two versions of the key-value server and check the rules');
    must('make', ['-s', '-C', KV]);
    mark('built examples/kv/kv-v1 (old) and kv-v2 (new: typed values, TYPE command)');
    const check = must(process.execPath, [CLI, 'check', join(KV, 'forward.mvr')]);
    mark(`mvrc check examples/kv/forward.mvr: ${check.stderr.trim().split('\n').at(-1)}`);

    step(2, total, 'run kv-v1 as the leader and kv-v2 as its follower (multi-version execution)');
    const a = await mveRun(dir, 'mve');
    mark(`leader kv-v1 serving on 127.0.0.1:${a.server.port}; follower kv-v2 started beside it`);

    step(3, total, 'clients: 16 connections x 150 requests, checked against a model of the store');
    const plain = await runLoad({ port: a.server.port, clients: 16, requests: 150, seed: 1 });
    mark(`PUT/GET: ${plain.answered} answered, ${plain.errors.length} client errors, ${plain.mismatches.length} wrong answers`);
    const typed = await runLoad({ port: a.server.port, clients: 4, requests: 50, seed: 2, typed: true, expect: 'v1', keyPrefix: 't' });
    mark(`with v2-only requests (PUT-number, TYPE...): ${typed.answered} answered, ${typed.errors.length} client errors, ${typed.mismatches.length} wrong answers`);
    const st = await status(a.sock);
    say(formatStatus(st).replace(/^/gm, '    '));
    mark(`follower ${st.follower ? st.follower.state : 'gone'}: ${st.events.consumed} of ${st.events.recorded} leader events reconciled, ${st.retirements.length} retirements`);
    if (plain.errors.length + plain.mismatches.length + typed.errors.length + typed.mismatches.length > 0 || st.retirements.length > 0) exit = 1;
    await a.server.stop();

    step(4, total, 'a faulty new version: kv-v2 that crashes on the first GET');
    const b = await mveRun(dir, 'faulty', ['MVR_KV_FAULT=crash-on-cmd=GET']);
    const during = await runLoad({ port: b.server.port, clients: 16, requests: 150, seed: 3 });
    mark(`clients: ${during.answered} answered, ${during.errors.length} client errors, ${during.mismatches.length} wrong answers`);
    const st2 = await status(b.sock);
    const r = st2.retirements[0];
    if (r) {
      mark(`follower retired: ${r.reason} at leader event #${r.event}; the leader kept serving`);
      say(r.report.trimEnd().replace(/^/gm, '    '));
    } else {
      mark('the faulty follower was NOT retired');
      exit = 1;
    }
    if (during.errors.length + during.mismatches.length > 0) exit = 1;
    await b.server.stop();

    step(5, total, 'timeline');
    for (const l of timeline) say(`  ${l}`);
    say(exit === 0 ? '\nDemo finished: zero failed client requests.' : '\nDemo finished WITH PROBLEMS (see above).');
    const followerLog = readFileSync(b.log, 'utf8').trim();
    if (followerLog) say(`\nThe faulty follower's own output (kept apart from the leader's):\n${followerLog.split('\n').slice(-5).map((l) => `    ${l}`).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = exit;
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
