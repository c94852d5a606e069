// An updatable nginx (a master and 2 workers, a single leader under `mvrc run --control`, keeping
// the journal a replay needs) serving 20,000 checked requests of a static file, which each worker
// opens and closes per request. The monitor holds only what a replay needs: its open descriptors
// stay flat (it used to keep every regular file the leader opened, until they ran out and the
// journal ended at about 10,000 requests), the journal stays whole, and a new version started by
// `mvrc ctl update --state replay` replays those 20,000 requests and catches up without being
// retired. The long run (a million requests) is bench/nginx-fds.mjs.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { join } from 'node:path';
import { query, type MonitorStatus } from '../compiler/cli/ctl.ts';
import { CLI, REPO, eventually, mvrc, tempDir } from './helpers/cli.ts';
import { freePort, childrenOf } from './helpers/processes.ts';

const NGINX = '/usr/sbin/nginx';

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

function get(port: number, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/page.txt', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('an updatable nginx with 2 workers over 20,000 requests: the monitor\'s descriptors (end to end)', function () {
  this.timeout(300_000);
  let proc: ChildProcess | undefined;
  before(function () {
    if (!existsSync(NGINX)) {
      console.log(`    (skipped: ${NGINX} is not installed; scripts/install-deps.sh installs it)`);
      this.skip();
    }
  });
  after(() => {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  });

  it('keeps the monitor\'s and nginx\'s descriptors flat and the journal whole, and a replay of it catches up', async () => {
    const dir = tempDir('mvrc-nginx-fds-');
    chmodSync(dir, 0o755); // run as root, nginx's workers are nobody and read html/
    const port = await freePort();
    mkdirSync(join(dir, 'html'));
    const page = 'a static file that every request opens\n';
    writeFileSync(join(dir, 'html', 'page.txt'), page);
    const conf = join(dir, 'nginx.conf');
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${join(dir, t)};`).join(' ');
    writeFileSync(conf, `master_process on; worker_processes 2; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 128; }
http { access_log off; keepalive_requests 1000000; ${temp} server { listen 127.0.0.1:${port}; root ${dir}/html; } }
`);
    const sock = join(dir, 'ctl.sock');
    const server = [NGINX, '-p', dir, '-c', conf];
    proc = spawn(process.execPath, [CLI, 'run', '--control', sock, '--', ...server], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = async () => JSON.parse(await query(sock, 'status')) as MonitorStatus;

    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    await eventually(async () => {
      if (proc!.exitCode !== null) return true;
      return get(port, agent).then((r) => r.status === 200, () => false);
    }, 'nginx to answer under mvrc run', 120_000);
    expect(proc.exitCode, stderr).to.equal(null);
    const leader = (await status()).leader.pid;
    await eventually(() => childrenOf(leader).length === 2, 'the leader\'s 2 workers');
    const monitor = childrenOf(proc.pid!)[0]!;
    const processes = [monitor, leader, ...childrenOf(leader)];

    const failures: string[] = [];
    let answered = 0;
    const run = (n: number) =>
      Promise.all(
        Array.from({ length: 8 }, async () => {
          while (answered < n && failures.length < 5) {
            answered++;
            const r = await get(port, agent).catch((e: Error) => ({ status: 0, body: e.message }));
            if (r.status !== 200 || r.body !== page) failures.push(`status ${r.status}: ${r.body.slice(0, 80)}`);
          }
        }),
      );
    await run(1_000);
    const before = processes.map(openFds);
    await run(20_000);
    const after = processes.map(openFds);
    expect(failures).to.deep.equal([]);
    // Flat: a descriptor or two may be in flight between the leader and the monitor at a sample.
    for (let i = 0; i < processes.length; i++)
      expect(after[i]! - before[i]!, `descriptors of ${['the monitor', 'the master', 'a worker', 'a worker'][i]}: ${before[i]} after 1,000 requests, ${after[i]} after 20,000`).to.be.at.most(2);
    const st = await status();
    expect(st.journal?.valid, JSON.stringify(st.journal)).to.equal(true);

    // The journal is usable: a new version (the same build) replays the 20,000 requests, with the
    // monitor's shared copies of the file in place of each request's own descriptor.
    const up = mvrc(['ctl', sock, 'update', '--state', 'replay', '--', ...server]);
    expect(up.status, up.stdout + up.stderr).to.equal(0);
    let last: MonitorStatus | undefined;
    await eventually(async () => {
      last = await status();
      return last.retirements.length > 0 || (last.follower?.state === 'following' && last.events.consumed === last.events.recorded);
    }, 'the new version to replay the journal', 180_000);
    expect(last!.retirements.map((r) => r.report), stderr).to.deep.equal([]);
    agent.destroy();
    // A stop ends both versions and `mvrc run` itself; waited for, so that no monitor outlives the
    // test (killing `mvrc run` at once left its monitor serving, holding mocha's pipe open).
    const exited = new Promise<number | null>((res) => proc!.once('exit', (c) => res(c)));
    proc.kill('SIGTERM');
    expect(await exited, stderr).to.equal(0);
  });
});
