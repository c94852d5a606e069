// A real multi-process server nobody here wrote: Debian's nginx, a master and 2 workers, as leader
// and follower under `mvrc run`, with clients whose every answer is checked. During the load the
// operator reloads it (SIGHUP: new workers start, the old ones finish and exit) and reopens its logs
// (SIGUSR1); the master takes both in rt_sigsuspend and passes them on to its workers. No failed or
// wrong answer, the follower never retired; then SIGTERM stops both versions and `mvrc run` exits
// with the leader's status, 0. (docs/runtime.md, "Signals".)
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { join } from 'node:path';
import { query, type MonitorStatus } from '../compiler/cli/ctl.ts';
import { CLI, REPO, eventually, tempDir } from './helpers/cli.ts';
import { freePort, childrenOf } from './helpers/processes.ts';

const NGINX = '/usr/sbin/nginx';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

type Get = { status: number; body: Buffer };

/** One GET; `agent` keeps its connection alive between requests (undefined: a connection each). */
function get(port: number, path: string, agent: Agent | undefined): Promise<Get & { reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: agent ?? false, headers: agent ? {} : { connection: 'close' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', (e) => Object.assign(e, { reused: req.reusedSocket }) && reject(e));
    req.end();
  });
}

describe('nginx with 2 workers as leader and follower: reload and log reopening under load (end to end)', function () {
  this.timeout(240_000);
  let dir: string;
  let proc: ChildProcess | undefined;

  before(function () {
    if (!existsSync(NGINX)) {
      console.log(`    (skipped: ${NGINX} is not installed; scripts/install-deps.sh installs it)`);
      this.skip();
    }
    dir = tempDir('mvrc-nginx-');
    chmodSync(dir, 0o755); // nginx's workers run as nobody (the tests run as root in CI) and read html/
  });
  after(() => {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  });

  it('serves checked answers to 4 clients through SIGHUP and SIGUSR1 with the follower following, then stops on SIGTERM', async () => {
    const port = await freePort();
    const html = join(dir, 'html');
    mkdirSync(html);
    // Bodies the clients check byte for byte: small, a few pages, larger than a socket buffer.
    const files = new Map<string, Buffer>();
    for (const [name, size] of [['a.txt', 100], ['b.bin', 5_000], ['c.bin', 60_000], ['d.bin', 300_000]] as const) {
      const body = randomBytes(size);
      writeFileSync(join(html, name), body);
      files.set(`/${name}`, body);
    }
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, `master_process on;
worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${html};
  }
}
`);
    const sock = join(dir, 'ctl.sock');
    const log = join(dir, 'follower.log');
    const server = [NGINX, '-c', conf, '-p', dir];
    proc = spawn(process.execPath, [CLI, 'run', '--control', sock, '--follower-log', log, '--', ...server, ':::', ...server], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout!.resume();
    const exited = new Promise<number | null>((res) => proc!.once('exit', (c) => res(c)));
    const status = async () => JSON.parse(await query(sock, 'status')) as MonitorStatus;
    const report = async () => `${stderr}\n${(await status().catch(() => undefined))?.retirements.map((r) => r.report).join('\n') ?? ''}`;

    await eventually(async () => {
      if (proc!.exitCode !== null) return true;
      try {
        return (await get(port, '/a.txt', undefined)).status === 200;
      } catch {
        return false;
      }
    }, 'nginx to answer under mvrc run', 120_000); // the first run builds the runtime
    expect(proc.exitCode, stderr).to.equal(null);
    const leader = (await status()).leader.pid;
    await eventually(() => childrenOf(leader).length === 2, 'the leader\'s 2 workers');
    const firstWorkers = childrenOf(leader).sort();

    // The load: 4 clients, 2 keeping their connection alive, 2 with a connection per request,
    // each GETting the files in turn and checking every body. A keep-alive connection that the
    // server closed while idle (an old worker finishing at a reload) fails the next request before
    // any answer: that request is made again on a new connection, as HTTP clients do.
    const failures: string[] = [];
    let answered = 0;
    let stop = false;
    const names = [...files.keys()];
    const client = async (id: number) => {
      const agent = id < 2 ? new Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
      for (let i = 0; !stop; i++) {
        const path = names[(i + id) % names.length]!;
        let got: Get | undefined;
        for (let attempt = 0; attempt < 2 && !got; attempt++) {
          try {
            got = await get(port, path, agent);
          } catch (e) {
            const err = e as Error & { reused?: boolean };
            if (attempt === 0 && err.reused) continue;
            failures.push(`client ${id} request ${i} (${path}): ${err.message}`);
            break;
          }
        }
        if (!got) continue;
        answered++;
        if (got.status !== 200 || !got.body.equals(files.get(path)!)) failures.push(`client ${id} request ${i} (${path}): status ${got.status}, ${got.body.length} bytes`);
      }
      agent?.destroy();
    };
    const load = Promise.all([0, 1, 2, 3].map(client));
    const answeredPast = (n: number) => eventually(() => answered >= n || failures.length > 0, `${n} answers`);

    await answeredPast(200);
    // Reload: the master (in rt_sigsuspend) starts 2 new workers and tells the old ones to finish.
    proc.kill('SIGHUP');
    await eventually(() => {
      const w = childrenOf(leader);
      return w.length === 2 && !w.some((p) => firstWorkers.includes(p));
    }, 'the reload: 2 new workers, the old ones gone');
    await answeredPast(answered + 200);

    // Reopening the logs: the access log moved away is created again and written to.
    renameSync(join(dir, 'access.log'), join(dir, 'access.log.1'));
    proc.kill('SIGUSR1');
    await eventually(() => existsSync(join(dir, 'access.log')) && readFileSync(join(dir, 'access.log'), 'utf8').length > 0, 'a new access.log');
    await answeredPast(answered + 200);
    stop = true;
    await load;

    expect(failures, failures.slice(0, 5).join('\n')).to.deep.equal([]);
    // The follower consumed everything the leader recorded, and was never retired.
    let st = await status();
    for (const t0 = Date.now(); Date.now() - t0 < 60_000 && st.events.consumed !== st.events.recorded && st.retirements.length === 0; ) {
      await new Promise((r) => setTimeout(r, 100));
      st = await status();
    }
    expect(st.retirements, await report()).to.deep.equal([]);
    expect(st.follower?.state, await report()).to.equal('following');
    const follower = st.follower!.pid;
    const allProcesses = [leader, follower, ...childrenOf(leader), ...childrenOf(follower)];
    expect(readFileSync(join(dir, 'error.log'), 'utf8')).to.match(/reconfiguring[^]*reopening logs/);

    // Stop: the master ends its workers and exits 0; the follower does the same; mvrc run exits 0.
    proc.kill('SIGTERM');
    expect(await exited, stderr).to.equal(0);
    expect(stderr).to.not.match(/retired|took over|failover/);
    await eventually(() => allProcesses.every((p) => !alive(p)), 'every nginx process of both versions to end');
  });
});
