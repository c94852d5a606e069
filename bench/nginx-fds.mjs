#!/usr/bin/env node
// Descriptors of an updatable nginx over many requests: Debian's nginx (a master and --workers
// workers, or one process with --workers 0) as a single leader under `mvrc run --control` (the
// journal a replay needs kept), loaded by kv-load --http (8 keep-alive connections, every answer
// checked; a new set of connections each sample, so connections are opened and closed too) until
// --requests answers. After each sample it counts the open descriptors (/proc/PID/fd) of the
// monitor, the nginx master and each worker, the monitor's RSS, and whether the journal is still
// whole; at the end it says whether the counts stayed flat (the last sample against the first).
//
//   node bench/nginx-fds.mjs [--requests N] [--sample-seconds S] [--workers W] [--mvrc CLI]
//
// Every figure printed was measured: nothing is extrapolated.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const NGINX = '/usr/sbin/nginx';
const o = { requests: 1_000_000, sampleSeconds: 5, workers: 2, mvrc: path.join(ROOT, 'dist', 'mvrc.cjs') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[++i];
  if (a === '--requests' && Number(v) > 0) o.requests = Number(v);
  else if (a === '--sample-seconds' && Number(v) > 0) o.sampleSeconds = Number(v);
  else if (a === '--workers' && Number(v) >= 0) o.workers = Number(v);
  else if (a === '--mvrc' && v) o.mvrc = path.resolve(v);
  else {
    process.stderr.write('usage: node bench/nginx-fds.mjs [--requests N] [--sample-seconds S] [--workers W] [--mvrc CLI]\n');
    process.exit(2);
  }
}
if (!existsSync(NGINX)) {
  process.stderr.write(`nginx-fds: ${NGINX} is not installed (scripts/install-deps.sh)\n`);
  process.exit(2);
}
const work = mkdtempSync(path.join(tmpdir(), 'mvrc-nginxfds-'));
chmodSync(work, 0o755);
let proc;
process.on('exit', () => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const load = path.join(work, 'kv-load');
const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-O2', '-o', load, path.join(ROOT, 'examples', 'kv', 'kv-load.c')], { encoding: 'utf8' });
if (cc.status !== 0) {
  process.stderr.write(`nginx-fds: building kv-load failed:\n${cc.stderr}`);
  process.exit(2);
}
mkdirSync(path.join(work, 'html'));
writeFileSync(path.join(work, 'html', 'page.txt'), 'a small static file, opened by nginx at each request\n');
const port = await new Promise((res) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
const conf = path.join(work, 'nginx.conf');
const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${path.join(work, t)};`).join(' ');
writeFileSync(
  conf,
  `${o.workers ? `master_process on; worker_processes ${o.workers};` : 'master_process off; worker_processes 1;'} daemon off; pid ${path.join(work, 'nginx.pid')}; error_log ${path.join(work, 'error.log')};
events { worker_connections 256; }
http {
  access_log off; keepalive_requests 100000000; ${temp}
  server { listen 127.0.0.1:${port}; root ${path.join(work, 'html')}; }
}
`,
);
const sock = path.join(work, 'ctl.sock');
proc = spawn(process.execPath, [o.mvrc, 'run', '--control', sock, '--', NGINX, '-p', work, '-c', conf], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
proc.stderr.on('data', (d) => (stderr += d));

const status = () => {
  const r = spawnSync(process.execPath, [o.mvrc, 'ctl', sock, 'status', '--json'], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout) : null;
};
const childrenOf = (pid) =>
  readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const st = readFileSync(`/proc/${e}/stat`, 'utf8');
        return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
const fds = (pid) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
};
// Anonymous memory (the monitor's own: its queue) apart from file pages (the journal's file,
// mapped: page cache the kernel can reclaim).
const rssKiB = (pid, what) => Number(new RegExp(`${what}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

// Up: the monitor answers and nginx accepts connections (its first answer may take a while).
let st = null;
for (let i = 0; i < 1200 && !st; i++) {
  if (proc.exitCode !== null) break;
  st = status();
  if (!st) await sleep(100);
}
if (!st) {
  process.stderr.write(`nginx-fds: mvrc run did not start: ${stderr}\n`);
  process.exit(1);
}
for (let ok = false, i = 0; !ok && i < 600; i++) {
  ok = await new Promise((res) => {
    const s = connect({ port, host: '127.0.0.1' }, () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
  if (!ok) await sleep(100);
}
const monitor = childrenOf(proc.pid)[0];
const leader = st.leader.pid;
for (let i = 0; i < 300 && childrenOf(leader).length < o.workers; i++) await sleep(100);
const workers = childrenOf(leader).sort((a, b) => a - b);
console.log(`nginx-fds: ${NGINX} ${o.workers ? `master + ${o.workers} workers` : 'one process (master_process off)'} as an updatable leader (mvrc run --control), ${o.requests} requests of a static file in samples of ${o.sampleSeconds} s; load average ${loadavg().map((x) => x.toFixed(2)).join(', ')}`);
const snap = (done) => {
  const s = status();
  return { requests: done, monitor: fds(monitor), leader: fds(leader), workers: workers.map(fds), monitorAnonKiB: rssKiB(monitor, 'RssAnon'), monitorFileKiB: rssKiB(monitor, 'RssFile'), journalValid: s?.journal.valid, journalDescriptors: s?.journal.descriptors, events: s?.events.recorded };
};
const show = (x) => console.log(`${String(x.requests).padStart(9)} requests  descriptors: monitor ${x.monitor}, master ${x.leader}${x.workers.length ? `, workers ${x.workers.join(' ')}` : ''}  monitor RSS ${(x.monitorAnonKiB / 1024).toFixed(1)} MiB anonymous + ${(x.monitorFileKiB / 1024).toFixed(1)} MiB of files  journal ${x.journalValid ? 'whole' : 'ENDED'} (${x.journalDescriptors} queued descriptors, ${x.events} events)`);
// A first small load, so that what nginx opens once (at its first requests) is open before the baseline.
let done = 0;
const round = async (seconds) => {
  const r = spawnSync(load, ['--http', '/page.txt', '--body', path.join(work, 'html', 'page.txt'), '--port', String(port), '--clients', '8', '--seconds', String(seconds), '--warmup', '0'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kv-load: ${r.stderr.trim()}`);
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (j.errors) throw new Error(`kv-load: ${j.errors} wrong or failed answers`);
  return j.requests;
};
done += await round(1);
const first = snap(done);
show(first);
const t0 = Date.now();
let last = first;
while (done < o.requests) {
  done += await round(o.sampleSeconds);
  last = snap(done);
  show(last);
  if (proc.exitCode !== null) break;
}
const grew = { monitor: last.monitor - first.monitor, master: last.leader - first.leader, workers: last.workers.map((w, i) => w - first.workers[i]) };
const flat = grew.monitor <= 2 && grew.master <= 2 && grew.workers.every((g) => g <= 2);
console.log(`${done} requests in ${((Date.now() - t0) / 1000).toFixed(0)} s; descriptors from the first sample to the last: monitor ${grew.monitor >= 0 ? '+' : ''}${grew.monitor}, master ${grew.master >= 0 ? '+' : ''}${grew.master}${grew.workers.length ? `, workers ${grew.workers.join(' ')}` : ''}: ${flat ? 'flat' : 'GROWING'}; journal ${last.journalValid ? 'whole (an update can replay it)' : 'ENDED'}; load average ${loadavg().map((x) => x.toFixed(2)).join(', ')}`);
if (!last.journalValid) {
  // Why it ended: an update by replay is refused with the reason (and changes nothing).
  const r = spawnSync(process.execPath, [o.mvrc, 'ctl', sock, 'update', '--state', 'replay', '--', NGINX, '-p', work, '-c', conf], { encoding: 'utf8' });
  console.log(`why the journal ended (mvrc ctl update --state replay): ${(r.stderr || r.stdout).trim()}`);
}
proc.kill('SIGTERM');
process.exitCode = flat && last.journalValid ? 0 : 1;
