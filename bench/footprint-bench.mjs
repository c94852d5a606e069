// The runtime's memory per process: VmSize (address space, what RLIMIT_AS limits) and VmRSS of a
// small program (test/fixtures/mvr-life.c, `plain`: echoes stdin) natively, then as the leader and
// the follower of `mvrc run`, in the same run; prints each and the overhead against native.
//
//   npm run build && node bench/footprint-bench.mjs [--ring-size BYTES] [--mvrc CLI]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const CLI = opt('--mvrc', join(REPO, 'dist', 'mvrc.cjs'));
const ringSize = opt('--ring-size', undefined);

const dir = mkdtempSync(join(tmpdir(), 'mvrc-footprint-'));
const bin = join(dir, 'life');
const binF = join(dir, 'life-follower');
execFileSync('cc', ['-std=c11', '-O1', '-D_GNU_SOURCE', '-pthread', '-o', bin, join(REPO, 'test', 'fixtures', 'mvr-life.c')]);
execFileSync('cp', [bin, binF]);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** VmSize and VmRSS (KiB) of the process running `exe`, waiting until it has printed "ready". */
function status(exe) {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')[0] !== exe) continue;
      const s = readFileSync(`/proc/${e}/status`, 'utf8');
      const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1]);
      return { size: kb('VmSize'), rss: kb('VmRSS') };
    } catch { /* ended meanwhile */ }
  }
  return null;
}

async function measure(cmd, cmdArgs, exes) {
  const child = spawn(cmd, cmdArgs, { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const t0 = Date.now();
  while (!out.includes('ready') && Date.now() - t0 < 120_000) await sleep(50);
  const got = exes.map((e) => status(e));
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  return got;
}

const [native] = await measure(bin, ['plain'], [bin]);
const margs = [CLI, 'run', ...(ringSize ? ['--ring-size', ringSize] : []), '--', bin, 'plain', ':::', binF, 'plain'];
// The leader prints "ready" once past its start-up; the follower matched the same calls by then
// or soon after (its own "ready" goes to its log), which is all that is measured here.
const [leader, follower] = await measure(process.execPath, margs, [bin, binF]);
const mib = (kb) => (kb / 1024).toFixed(1);
console.log('process           VmSize MiB   VmRSS MiB   overhead vs native (size / rss)');
for (const [name, m] of [['native', native], ['leader', leader], ['follower', follower]]) {
  if (!m) {
    console.log(`${name.padEnd(17)} (not seen)`);
    continue;
  }
  const over = name === 'native' ? '' : `+${mib(m.size - native.size)} / +${mib(m.rss - native.rss)} MiB`;
  console.log(`${name.padEnd(17)} ${mib(m.size).padStart(10)} ${mib(m.rss).padStart(11)}   ${over}`);
}
rmSync(dir, { recursive: true, force: true });
