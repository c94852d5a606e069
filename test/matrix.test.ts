// The server matrix: Debian's servers as leader and follower (the same binary and configuration
// on both sides) under a checked client load; each case asserts that every answer is right and
// that the follower was never retired while it followed the whole load. Cases covered elsewhere
// are not repeated here: redis-server under 8 model-checked clients (test/runtime-redis.test.ts),
// memcached -t 4 on shared keys (test/runtime-order.test.ts), nginx with 2 workers (its own test).
// Here: lighttpd, vsftpd (passive-mode uploads and downloads), redis-server's INFO under
// std/redis, and python3 -m http.server (one connection at a time: see its case).
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { query, type MonitorStatus } from '../compiler/cli/ctl.ts';
import { CLI, eventually, tempDir } from './helpers/cli.ts';
import { Resp } from './helpers/resp.ts';
import { freePort } from './helpers/processes.ts';

const need = (cmd: string, args: string[]): void => {
  if (spawnSync(cmd, args, { encoding: 'utf8' }).error) throw new Error(`${cmd} is required: run scripts/install-deps.sh`);
};

interface Run {
  proc: ChildProcess;
  sock: string;
  stderr: () => string;
}

/** Starts `server` as leader and follower under `mvrc run` and waits until `port` accepts. */
async function start(dir: string, name: string, server: string[], port: number, extra: string[] = []): Promise<Run> {
  const sock = join(dir, `${name}.sock`);
  const proc = spawn(process.execPath, [CLI, 'run', '--control', sock, '--follower-log', join(dir, `${name}.follower.log`), ...extra, '--', ...server, ':::', ...server], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout!.resume();
  await eventually(
    () =>
      new Promise<boolean>((resolve) => {
        if (proc.exitCode !== null) return resolve(true);
        const c = connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
        c.once('error', () => resolve(false));
      }),
    `${name} under mvrc run to listen`,
  );
  expect(proc.exitCode, err).to.equal(null);
  return { proc, sock, stderr: () => err };
}

/** The monitor's pid: the one child of `mvrc run`. */
function monitorPid(run: Run): number {
  const kids = readdirSync(`/proc/${run.proc.pid}/task`).flatMap((t) => readFileSync(`/proc/${run.proc.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  expect(kids).to.have.length(1);
  expect(readFileSync(`/proc/${kids[0]}/comm`, 'utf8')).to.equal('mvr-monitor\n');
  return Number(kids[0]);
}

/** Once the follower has consumed every event the leader recorded: no retirement, still following. */
async function followedEverything(run: Run): Promise<MonitorStatus> {
  let st: MonitorStatus | undefined;
  await eventually(async () => {
    st = JSON.parse(await query(run.sock, 'status')) as MonitorStatus;
    return st.events.consumed === st.events.recorded || st.retirements.length > 0;
  }, 'the follower to consume every event');
  const report = st!.retirements.map((r) => r.report).join('\n') + run.stderr();
  expect(st!.retirements, report).to.deep.equal([]);
  expect(st!.follower?.state, report).to.equal('following');
  return st!;
}

/** The zombie processes among `pid`'s descendants (state Z in /proc/PID/stat), as "pid ppid". */
function zombies(pid: number): string[] {
  const procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const rest = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return [{ pid: Number(p), state: rest[0]!, ppid: Number(rest[1]) }];
    } catch {
      return [];
    }
  });
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (tree.has(p.ppid) && !tree.has(p.pid)) (tree.add(p.pid), (grew = true));
  }
  return procs.filter((p) => p.state === 'Z' && tree.has(p.ppid)).map((p) => `${p.pid} ${p.ppid}`);
}

/** One HTTP/1.0-style GET per connection (a new connection each time): the body. */
function get(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { Connection: 'close' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Files of several sizes, some larger than a socket buffer. */
function site(dir: string): Map<string, Buffer> {
  mkdirSync(dir, { recursive: true });
  const files = new Map<string, Buffer>();
  for (let i = 0; i < 8; i++) {
    const body = Buffer.from(`file ${i}: ${'abcdefghij'.repeat(1 + i * i * 400)}\n`);
    writeFileSync(join(dir, `f${i}.txt`), body);
    files.set(`/f${i}.txt`, body);
  }
  return files;
}

/** `clients` concurrent clients, `each` GETs each over new connections; returns the wrong answers. */
async function httpLoad(port: number, files: Map<string, Buffer>, clients: number, each: number): Promise<string[]> {
  const wrong: string[] = [];
  const paths = [...files.keys()];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < each; i++) {
        const p = paths[(c * 7 + i) % paths.length]!;
        const r = await get(port, p);
        if (r.status !== 200 || !r.body.equals(files.get(p)!)) wrong.push(`client ${c} GET ${p}: ${r.status}, ${r.body.length} bytes`);
      }
    }),
  );
  return wrong;
}

/** vsftpd as leader and follower (its config written here), and a Python ftplib client script:
 * `client PORT ID N` makes N passive-mode uploads and downloads, checked byte for byte. */
async function vsftpd(dir: string, name: string, extra: string[] = []): Promise<{ run: Run; port: number; root: string; clients: (ids: number[]) => Promise<string[]> }> {
  need('/usr/sbin/vsftpd', ['-v']);
  need('python3', ['-V']);
  const root = join(dir, `${name}-root`);
  mkdirSync(join(root, 'pub'), { recursive: true });
  chmodSync(root, 0o555); // vsftpd refuses a chroot its user can write to
  chmodSync(join(root, 'pub'), 0o777);
  mkdirSync(join(dir, `${name}-empty`), { recursive: true });
  const port = await freePort();
  const conf = join(dir, `${name}.conf`);
  // Anonymous sessions as Debian's `daemon` user (an account every Debian system has, whose home
  // exists), uploads world-readable so that they can be downloaded again.
  writeFileSync(conf, ['listen=YES', 'listen_ipv6=NO', 'listen_address=127.0.0.1', `listen_port=${port}`, 'background=NO', 'anonymous_enable=YES', 'local_enable=NO', 'no_anon_password=YES', 'write_enable=YES', 'anon_upload_enable=YES', 'anon_umask=022', `anon_root=${root}`, 'ftp_username=daemon', 'nopriv_user=daemon', `secure_chroot_dir=${join(dir, `${name}-empty`)}`, 'pasv_enable=YES', 'pasv_address=127.0.0.1', 'xferlog_enable=NO', 'seccomp_sandbox=NO', ''].join('\n'));
  const run = await start(dir, name, ['/usr/sbin/vsftpd', conf], port, extra);
  const client = join(dir, `${name}-client.py`);
  writeFileSync(client, [
    'import ftplib, io, sys',
    'port, cid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])',
    'f = ftplib.FTP(); f.connect("127.0.0.1", port, timeout=60); f.login(); f.set_pasv(True)',
    'bad = 0',
    'for i in range(n):',
    '    data = (b"client %d upload %d\\n" % (cid, i)) * (300 * (i + 1))',
    '    name = "pub/c%d-%d.txt" % (cid, i)',
    '    f.storbinary("STOR " + name, io.BytesIO(data))',
    '    got = io.BytesIO(); f.retrbinary("RETR " + name, got.write)',
    '    if got.getvalue() != data: bad += 1; print("wrong download of", name, len(got.getvalue()), len(data))',
    'listed = sorted(f.nlst("pub"))',
    'mine = [x for x in listed if x.startswith("pub/c%d-" % cid)]',
    'if len(mine) != n: bad += 1; print("listing", listed)',
    'f.quit(); print("ok" if bad == 0 else "bad"); sys.exit(1 if bad else 0)',
    '',
  ].join('\n'));
  const clients = (ids: number[]): Promise<string[]> =>
    Promise.all(
      ids.map(
        (id) =>
          new Promise<string>((resolve) => {
            const p = spawn('python3', [client, String(port), String(id), '6'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
            let out = '';
            p.stdout.on('data', (d: Buffer) => (out += d.toString()));
            p.stderr.on('data', (d: Buffer) => (out += d.toString()));
            p.on('close', (code) => resolve(`${code}: ${out}`));
          }),
      ),
    );
  return { run, port, root, clients };
}

describe('server matrix: Debian servers as leader and follower under checked load', function () {
  this.timeout(180_000);
  let dir: string;
  const runs: Run[] = [];

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    dir = tempDir('mvrc-matrix-');
  });
  afterEach(() => {
    for (const r of runs.splice(0)) if (r.proc.exitCode === null) r.proc.kill('SIGTERM');
  });

  it('lighttpd: 8 clients, 400 GETs of files up to 640 KB on new connections; no rule', async () => {
    need('/usr/sbin/lighttpd', ['-v']);
    const files = site(join(dir, 'lighttpd-www'));
    const port = await freePort();
    const conf = join(dir, 'lighttpd.conf');
    writeFileSync(conf, [`server.document-root = "${join(dir, 'lighttpd-www')}"`, `server.port = ${port}`, 'server.bind = "127.0.0.1"', `server.errorlog = "${join(dir, 'lighttpd-error.log')}"`, 'mimetype.assign = (".txt" => "text/plain")', ''].join('\n'));
    const run = await start(dir, 'lighttpd', ['/usr/sbin/lighttpd', '-D', '-f', conf], port);
    runs.push(run);
    expect(await httpLoad(port, files, 8, 50)).to.deep.equal([]);
    const st = await followedEverything(run);
    expect(st.events.recorded).to.be.greaterThan(400);
  });

  // Passive mode: each transfer is a new data connection the server accepts and closes; a
  // download ends when the server closes it, so a descriptor the runtime kept open would hang it.
  // vsftpd forks a session process per client, which forks its pre-login and post-login
  // processes (in new network namespaces: vsftpd's default isolation, kept here).
  it('vsftpd: 2 rounds of 4 anonymous clients, 48 passive-mode uploads and downloads checked byte for byte, the monitor holding no closed connection; no rule', async () => {
    const { run, root, clients } = await vsftpd(dir, 'vsftpd');
    runs.push(run);
    // Round r's clients are numbered 10r..10r+3: anonymous users may not overwrite a file.
    const round = (r: number): Promise<string[]> => clients([0, 1, 2, 3].map((c) => 10 * r + c));
    expect(await round(0), run.stderr()).to.deep.equal(['0: ok\n', '0: ok\n', '0: ok\n', '0: ok\n']);
    // The monitor holds no socket of a closed session or data connection: a second round of 24
    // transfers leaves it with as many as after the first (its own channels to the agents). Its
    // other descriptors are per task pair (pidfds), bounded by --max-tasks.
    const monitor = monitorPid(run);
    const sockets = (): string[] => readdirSync(`/proc/${monitor}/fd`).map((fd) => { try { return readlinkSync(`/proc/${monitor}/fd/${fd}`); } catch { return ''; } }).filter((l) => l.startsWith('socket:'));
    const after1 = sockets();
    expect(await round(1), run.stderr()).to.deep.equal(['0: ok\n', '0: ok\n', '0: ok\n', '0: ok\n']);
    expect(sockets()).to.deep.equal(after1);
    for (const c of [0, 1, 2, 3, 10, 11, 12, 13]) for (let i = 0; i < 6; i++) expect(readFileSync(join(root, 'pub', `c${c}-${i}.txt`)).length).to.equal(Buffer.byteLength(`client ${c} upload ${i}\n`) * 300 * (i + 1));
    const st = await followedEverything(run);
    // The follower reaps its own session processes once the leader has waited for its own: its
    // matched wait4 gets the leader's result, and left 8 zombies here (one per session) before.
    const leaderZombies = zombies(st.leader!.pid);
    expect(leaderZombies, 'the leader reaps its sessions').to.deep.equal([]);
    let left: string[] = [];
    await eventually(() => (left = zombies(st.follower!.pid)).length === 0, `the follower's zombie children to be reaped (${left.length} left)`, 20_000).catch(() => {});
    expect(left, "the follower's zombie children").to.deep.equal([]);
  });

  // A follower retired in the middle of a session (an expected divergence at a session process's
  // "226" reply): its whole process tree ends, its report goes to its log, and the session goes on
  // unharmed. vsftpd's session processes make fd 2 the client's socket: the agent's report was
  // written there, into the client's FTP replies (the client read it as the answer to its next
  // command), until the agent kept its own copy of the stderr it started with.
  it('vsftpd: a follower retired in the middle of a session; the client sees nothing of it and the follower\'s tree ends', async () => {
    const rules = join(dir, 'vsftpd-retire.mvr');
    writeFileSync(rules, 'write(_, s, _) if (s.startsWith("226 ")) => diverge "retired on purpose by the test"\n');
    const { run, clients } = await vsftpd(dir, 'vsftpd-retire', ['--rules', rules]);
    runs.push(run);
    expect(await clients([0, 1]), run.stderr()).to.deep.equal(['0: ok\n', '0: ok\n']);
    const st = JSON.parse(await query(run.sock, 'status')) as MonitorStatus;
    expect(st.retirements.map((r) => r.reason)).to.deep.equal(['expected-divergence']);
    expect(readFileSync(join(dir, 'vsftpd-retire.follower.log'), 'utf8')).to.contain('retired on purpose by the test');
    const follower = st.retirements[0]!.pid;
    const alive = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(follower) || p === String(follower);
      } catch {
        return false;
      }
    });
    expect(alive, 'the retired follower and its children').to.deep.equal([]);
  });

  it('redis-server: INFO between checked SET/GET on 4 connections; std/redis lets only INFO replies differ', async () => {
    need('redis-server', ['--version']);
    const port = await freePort();
    const rules = join(dir, 'redis.mvr');
    writeFileSync(rules, 'import "std/time"\nimport "std/redis"\n');
    const server = ['redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];
    const run = await start(dir, 'redis', server, port, ['--rules', rules]);
    runs.push(run);
    const wrong: string[] = [];
    let infos = 0;
    await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        const r = await Resp.open(port);
        for (let i = 0; i < 40; i++) {
          const v = `value-${c}-${i}`;
          const ok = await r.call('SET', `k${c}`, v);
          if (ok !== 'OK') wrong.push(`client ${c} SET: ${JSON.stringify(ok)}`);
          const got = await r.call('GET', `k${c}`);
          if (got !== v) wrong.push(`client ${c} GET: ${JSON.stringify(got)}, want ${v}`);
          if (i % 10 === 0) {
            const info = await r.call('INFO');
            if (typeof info !== 'string' || !info.startsWith('# Server\r\nredis_version:')) wrong.push(`client ${c} INFO: ${JSON.stringify(info).slice(0, 60)}`);
            else infos++;
          }
        }
        r.close();
      }),
    );
    expect(infos).to.equal(16);
    expect(wrong).to.deep.equal([]);
    await followedEverything(run);
  });

  // ThreadingHTTPServer starts a thread per connection: 120 connections one after another are 120
  // threads over its life, far more than --max-tasks (rings are reused). The main thread reads
  // the clock around its poll a number of times that depends on timing (std/time), and glibc's
  // malloc reads /proc/sys/vm/overcommit_memory when it first trims a thread's heap, which one
  // version may do and the other not (std/libc, and one rule for a follower-only read). It hung in
  // about half the runs (two causes, runtime-c/agent: a new thread's descriptors queued in the
  // leader's channel ahead of an older thread's, fds.c; the interpreter lock held across a wait
  // for order, order.c). Concurrent clients are not covered: with 8 at once the follower is
  // retired as diverging (a lazy first-use initialisation, mimetypes' read of /etc/mime.types, done
  // by another thread in each version; a clock read of the interpreter lock's taken for the
  // Date header's).
  it('python3 -m http.server: 120 connections over time (120 threads, --max-tasks 16), std/time + std/libc + 1 rule', async function () {
    need('/usr/bin/python3', ['-V']);
    const files = site(join(dir, 'py-www'));
    const port = await freePort();
    const rules = join(dir, 'python.mvr');
    // The follower-only way round of malloc's read (std/libc has the leader-only one).
    writeFileSync(rules, 'import "std/time"\nimport "std/libc"\nnothing => openat(_, "/proc/sys/vm/overcommit_memory", _) -> do { ret = -2; }\n');
    const run = await start(dir, 'python', ['/usr/bin/python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', join(dir, 'py-www')], port, ['--rules', rules, '--max-tasks', '16']);
    runs.push(run);
    expect(await httpLoad(port, files, 1, 120)).to.deep.equal([]);
    const st = await followedEverything(run);
    expect(st.events.recorded).to.be.greaterThan(120 * 10);
  });
});
