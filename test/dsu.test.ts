// The handoff library (runtime-c/dsu/mvr_dsu.h) with the example key-value servers, natively:
// real processes on loopback, the test holding the control channel (an extra stdio socket, fd 3
// in the server). An update forks the old version, which keeps serving; the child serialises
// the store and execs the new version, which loads and transforms it and inherits the listening
// socket. Corrupt state images, a crashing transformation and a wrong one must never touch the
// old version, and a new version that cannot load must exit with a message, never crash (also
// checked under ASan + UBSan). The image format used below is the one documented in mvr_dsu.h
// and docs/handoff.md, written independently here from that description. kv's images end with
// a connection section (the open connections and their buffers, which a follower under MVE
// restores); a plain handoff checks it and leaves the connections with the old version.
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/cli.ts';
import { serverHasRead } from './helpers/kv.ts';
import { bulkKey, bulkValue, checkKeys, LineConn, loadKeys, runLoad } from '../examples/kv/client.ts';
import { MVR_DSU_EXIT_LOAD, MVR_ENV_DSU_CTL_FD, MVR_ENV_DSU_REPORT_FD, MVR_ENV_DSU_STATE_FD } from '../compiler/core/abi.generated.ts';

const KV_DIR = fileURLToPath(new URL('../examples/kv/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const BIN = { v1: join(KV_DIR, 'kv-v1'), v2: join(KV_DIR, 'kv-v2') };
const EXIT_LOAD = MVR_DSU_EXIT_LOAD;

/** Parsed control report: `forked pid=1 point=2` -> { kind: 'forked', pid: '1', point: '2' }. */
type Report = { kind: string } & Record<string, string>;

function parseReport(line: string): Report {
  const [kind, ...fields] = line.split(' ');
  const r: Report = { kind: kind! };
  for (const f of fields) {
    const eq = f.indexOf('=');
    // %XX is one byte (latin1), as the library encodes it.
    r[f.slice(0, eq)] = f.slice(eq + 1).replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return r;
}

/** A server started with a control channel held by the test. */
class Controlled {
  readonly reports: Report[] = [];
  private waiters: (() => void)[] = [];
  private err = '';
  private out = '';
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** Processes started by handoffs (pids from `forked` reports), stopped in close(). */
  readonly children = new Set<number>();

  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(bin: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Controlled> {
    const proc = spawn(bin, [...args, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env, [MVR_ENV_DSU_CTL_FD]: '3' },
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      proc.stdout!.setEncoding('utf8');
      proc.stdout!.on('data', (d: string) => {
        out += d;
        const m = /^listening on (\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      proc.once('exit', (code, sig) => reject(new Error(`${bin} exited (${sig ?? code}) before listening`)));
    });
    const c = new Controlled(proc, port);
    proc.stdout!.on('data', (d: string) => (c.out += d));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => (c.err += d));
    let buf = '';
    const ctl = proc.stdio[3] as Socket;
    ctl.setEncoding('latin1');
    ctl.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const r = parseReport(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (r.kind === 'forked') c.children.add(Number(r.pid));
        c.reports.push(r);
        for (const w of c.waiters.splice(0)) w();
      }
    });
    ctl.on('error', () => {}); // the server going away ends the channel; reports say why
    return c;
  }

  /** Asks for an update to `argv` (each argument percent-encoded, as the protocol says). */
  update(argv: string[]): void {
    const enc = (a: string): string => a.replace(/[\x00-\x20\x7f-\xff%]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase());
    (this.proc.stdio[3] as Socket).write(['update', ...argv.map(enc)].join(' ') + '\n');
  }

  /** The first report from index `from` on that satisfies `ok`. Each report wakes the wait; the
   *  limit only ends it with the reports so far, it is no speed requirement. */
  async waitReport(ok: (r: Report) => boolean, from = 0, timeoutMs = 60_000): Promise<Report> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.reports.slice(from).find(ok);
      if (r) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching report within ${timeoutMs} ms; reports: ${JSON.stringify(this.reports)}; stderr: ${this.err}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  stderr(): string {
    return this.err;
  }
  stdout(): string {
    return this.out;
  }

  /** SIGTERM to the old version; resolves with its exit. */
  async stop(): Promise<{ code: number | null; signal: string | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    return this.exited;
  }

  async close(): Promise<void> {
    await this.stop();
    for (const pid of this.children) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Sends `TYPE key` for every bulk key on one pipelined connection; returns the distinct answers. */
async function typesOf(port: number, n: number): Promise<Map<string, number>> {
  const conn = await LineConn.open(port);
  const seen = new Map<string, number>();
  try {
    let batch = '';
    for (let i = 0; i < n; i++) batch += `TYPE ${bulkKey(i)}\n`;
    await conn.send(batch);
    for (let i = 0; i < n; i++) {
      const a = await conn.nextLine();
      seen.set(a, (seen.get(a) ?? 0) + 1);
    }
  } finally {
    conn.close();
  }
  return seen;
}

// ---- state images, written from the documented format ----

function fnv1a64(b: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = BigInt.asUintN(64, (h ^ BigInt(x)) * 0x100000001b3n);
  return h;
}
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const u64 = (v: bigint | number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const bytes = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([u64(b.length), b]);
};

interface ImageOpts {
  magic?: string;
  format?: number;
  version?: number;
  program?: string;
  entries?: bigint;
  /** Overrides the payload length written in the header. */
  payloadLen?: bigint;
  /** Overrides the checksum. */
  checksum?: bigint;
}

function image(payload: Buffer, o: ImageOpts = {}): Buffer {
  const name = Buffer.from(o.program ?? 'kv', 'latin1');
  return Buffer.concat([
    Buffer.from(o.magic ?? 'MVRDSU\r\n', 'latin1'),
    u32(o.format ?? 1),
    u32(o.version ?? 1),
    u32(name.length),
    name,
    u64(o.payloadLen ?? BigInt(payload.length)),
    u64(o.entries ?? 0n),
    u64(o.checksum ?? fnv1a64(payload)),
    payload,
  ]);
}

const NO_FD = 0xffffffff;
/** A kv payload: listening fd, count, entries (key, value[, type] for version 2). */
function kvPayload(entries: [string, string, number?][], opts: { lfd?: number; count?: bigint; typed?: boolean; tail?: Buffer } = {}): Buffer {
  const parts = [u32(opts.lfd ?? NO_FD), u64(opts.count ?? BigInt(entries.length))];
  for (const [k, v, t] of entries) {
    parts.push(bytes(k), bytes(v));
    if (opts.typed) parts.push(u32(t ?? 0));
  }
  if (opts.tail) parts.push(opts.tail);
  return Buffer.concat(parts);
}

/** One connection of kv's connection section; flags: 1 want_write, 2 eof, 4 closing. */
interface ConnRec {
  fd: number;
  flags: number;
  inCap: number;
  input: Buffer;
  output: Buffer;
}
const IN_INITIAL = 16384;

/** kv's connection section (after the entries): epoll fd, signalfd, connections. */
function connSection(o: { epfd?: number; sfd?: number; count?: bigint; conns?: Partial<Omit<ConnRec, 'input' | 'output'> & { input: string; output: string }>[] } = {}): Buffer {
  const conns = o.conns ?? [];
  const parts = [u32(o.epfd ?? 5), u32(o.sfd ?? 4), u64(o.count ?? BigInt(conns.length))];
  for (const c of conns) parts.push(u32(c.fd ?? 9), u32(c.flags ?? 0), u32(c.inCap ?? IN_INITIAL), bytes(c.input ?? ''), bytes(c.output ?? ''));
  return Buffer.concat(parts);
}

/** Parses a kv state image as documented (header, entries, optional connection section). */
function parseImage(img: Buffer): { version: number; lfd: number; keys: string[]; section?: { epfd: number; sfd: number; conns: ConnRec[] } } {
  let off = 0;
  const take = (n: number): Buffer => {
    expect(off + n, 'image length').to.be.at.most(img.length);
    off += n;
    return img.subarray(off - n, off);
  };
  const rd32 = (): number => take(4).readUInt32LE();
  const rd64 = (): number => Number(take(8).readBigUInt64LE());
  const rdBytes = (): Buffer => take(rd64());
  expect(take(8).toString('latin1')).to.equal('MVRDSU\r\n');
  expect(rd32()).to.equal(1);
  const version = rd32();
  expect(take(rd32()).toString('latin1')).to.equal('kv');
  const payloadLen = rd64();
  rd64(); // entries
  const sum = take(8).readBigUInt64LE();
  expect(payloadLen).to.equal(img.length - off);
  expect(sum).to.equal(fnv1a64(img.subarray(off)));
  const lfd = rd32();
  const keys: string[] = [];
  for (let i = rd64(); i > 0; i--) {
    keys.push(rdBytes().toString('latin1'));
    rdBytes();
    if (version === 2) rd32();
  }
  if (off === img.length) return { version, lfd, keys };
  const epfd = rd32();
  const sfd = rd32();
  const conns: ConnRec[] = [];
  for (let i = rd64(); i > 0; i--) conns.push({ fd: rd32(), flags: rd32(), inCap: rd32(), input: rdBytes(), output: rdBytes() });
  expect(off, 'bytes after the connection section').to.equal(img.length);
  return { version, lfd, keys, section: { epfd, sfd, conns } };
}

/** Starts `bin` with `img` as its state image (fd 3) and a report channel (fd 4); resolves when it
 * prints its port or exits, with the report it wrote. */
function loadImage(bin: string, img: Buffer, dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ port?: number; code: number | null; signal: string | null; stderr: string; report: string; proc: ChildProcess }> {
  const file = join(dir, `image-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, img);
  const fd = openSync(file, 'r');
  const proc = spawn(bin, ['--port', '0'], { stdio: ['ignore', 'pipe', 'pipe', fd, 'pipe'], env: { ...process.env, ...env, [MVR_ENV_DSU_STATE_FD]: '3', [MVR_ENV_DSU_REPORT_FD]: '4' } });
  closeSync(fd);
  let err = '';
  let out = '';
  let report = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (err += d));
  const rep = proc.stdio[4] as Socket;
  rep.setEncoding('latin1');
  rep.on('data', (d: string) => (report += d));
  rep.on('error', () => {});
  proc.stdout!.setEncoding('utf8');
  return new Promise((resolve) => {
    proc.stdout!.on('data', (d: string) => {
      out += d;
      const m = /^listening on (\d+)\n/.exec(out);
      if (m) resolve({ port: Number(m[1]), code: null, signal: null, stderr: err, report, proc });
    });
    // 'close' comes after the exit and after stderr and the report channel have ended: all of
    // both has been read.
    proc.once('close', (code, signal) => {
      rmSync(file, { force: true });
      resolve({ code, signal, stderr: err, report, proc });
    });
  });
}

describe('DSU handoff (runtime-c/dsu) with examples/kv', function () {
  this.timeout(120000);
  let dir: string;
  let san: { v1: string; v2: string };
  const servers: Controlled[] = [];

  before(function () {
    if (process.platform !== 'linux') this.skip();
    dir = tempDir('mvrc-dsu-');
    execFileSync('make', ['-C', KV_DIR, '--no-print-directory', '-s'], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('make', ['-C', KV_DIR, '--no-print-directory', '-s', 'san', `SAN_DIR=${dir}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    san = { v1: join(dir, 'kv-v1-san'), v2: join(dir, 'kv-v2-san') };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  async function start(bin: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Controlled> {
    const s = await Controlled.start(bin, args, env);
    servers.push(s);
    return s;
  }

  it('hands 10,000 keys from kv-v1 to kv-v2 while kv-v1 answers a concurrent load without error', async () => {
    const old = await start(BIN.v1);
    expect((await loadKeys(old.port, 10000)).loaded).to.equal(10000);

    // The update is asked for once the load is under way (its first answer). kv forks at the top
    // of its loop, so within a round or two, and reports it before serving on: the report comes
    // long before the load's 8,000 round trips are done, however fast the machine.
    let answered = 0;
    let underWay!: () => void;
    const started = new Promise<void>((r) => (underWay = r));
    const load = runLoad({ port: old.port, clients: 8, requests: 1000, seed: 21, keyPrefix: 'live', onAnswer: (n) => ((answered = n), underWay()) });
    await started;
    old.update([BIN.v2, '--port', '0']);
    const forked = await old.waitReport((r) => r.kind === 'forked');
    const answeredAtFork = answered;
    const loaded = await old.waitReport((r) => r.kind !== 'forked');
    const res = await load;

    expect(answeredAtFork, 'requests answered when the fork was reported: the fork point fell inside the load').to.be.within(1, 8 * 1000 - 1);
    expect(res.errors).to.deep.equal([]);
    expect(res.mismatches).to.deep.equal([]);
    expect(res.answered).to.equal(8 * 1000);

    expect(loaded.kind, JSON.stringify(loaded)).to.equal('loaded');
    expect(loaded.pid).to.equal(forked.pid); // the forked child became the new version
    expect([loaded.version, loaded.from]).to.deep.equal(['2', '1']);
    // The bulk keys plus the load's keys written before the fork point (at most 8 x 32).
    expect(Number(loaded.entries)).to.be.within(10000, 10000 + 8 * 32);
    expect(Number(forked.point)).to.be.greaterThan(0);

    // The new version inherited the listening socket: same port. With the old one gone, every
    // connection reaches the new one.
    expect(await old.stop()).to.deep.equal({ code: 0, signal: null });
    const { checked, mismatches } = await checkKeys(old.port, 10000);
    expect(mismatches).to.deep.equal([]);
    expect(checked).to.equal(10000);
    expect(await typesOf(old.port, 10000)).to.deep.equal(new Map([['TYPE string', 10000]]));
    const conn = await LineConn.open(old.port);
    expect(await conn.request('PUT-number n 12')).to.equal('OK'); // v2 answers: the new code runs
    expect(await conn.request('TYPE n')).to.equal('TYPE number');
    conn.close();
    expect(old.stdout(), 'what the new version printed after the old one').to.equal(`listening on ${old.port}\n`);
    expect(old.stderr()).to.equal('');
  });

  it('keeps kv-v1 serving every key when the transformation crashes, and a retry then succeeds', async () => {
    const old = await start(BIN.v1);
    await loadKeys(old.port, 10000);
    const load = runLoad({ port: old.port, clients: 4, requests: 300, seed: 5, keyPrefix: 'tc' });
    old.update([BIN.v2, '--port', '0', '--fault', 'transform-crash']);
    const forked = await old.waitReport((r) => r.kind === 'forked');
    const ended = await old.waitReport((r) => r.kind !== 'forked');
    expect(ended).to.deep.equal({ kind: 'killed', pid: forked.pid, signal: '11' }); // SIGSEGV
    const res = await load;
    expect(res.errors).to.deep.equal([]);
    expect(res.mismatches).to.deep.equal([]);
    const { mismatches } = await checkKeys(old.port, 10000);
    expect(mismatches).to.deep.equal([]);

    // Failed updates can be retried: the old version's state is intact.
    const from = old.reports.length;
    old.update([BIN.v2, '--port', '0']);
    const loaded = await old.waitReport((r) => r.kind !== 'forked', from);
    expect(loaded.kind, JSON.stringify(loaded)).to.equal('loaded');
    expect(loaded.entries).to.equal(String(10000 + 4 * 32 - (await countMissing(old.port, 4, 32, 'tc'))));
    expect(old.stderr()).to.equal('');
  });

  /** How many of the load's per-client keys were never written (NOTFOUND), to count entries exactly. */
  async function countMissing(port: number, clients: number, keys: number, prefix: string): Promise<number> {
    const conn = await LineConn.open(port);
    let missing = 0;
    try {
      for (let c = 0; c < clients; c++) for (let k = 0; k < keys; k++) if ((await conn.request(`GET ${prefix}${c}-k${k}`)) === 'NOTFOUND') missing++;
    } finally {
      conn.close();
    }
    return missing;
  }

  it('shows a wrong transformation (transform-drop-field) as exactly one changed value', async () => {
    const old = await start(BIN.v1);
    await loadKeys(old.port, 1000);
    const conn = await LineConn.open(old.port); // opened before the update: stays with the old version
    old.update([BIN.v2, '--port', '0', '--fault', `transform-drop-field=${bulkKey(17)}`]);
    const loaded = await old.waitReport((r) => r.kind !== 'forked');
    expect(loaded).to.include({ kind: 'loaded', entries: '1000' });
    // The old version still has the value; the new one lost it.
    expect(await conn.request(`GET ${bulkKey(17)}`)).to.equal(`VALUE ${bulkValue(17)}`);
    conn.close();
    await old.stop();
    const { mismatches } = await checkKeys(old.port, 1000);
    expect(mismatches).to.deep.equal([`GET ${bulkKey(17)}: got "VALUE "`]);
  });

  /** An update whose new version first copies the state image it was given to `file`. */
  function updateCapturing(s: Controlled, file: string, bin: string): void {
    s.update(['sh', join(FIXTURES, 'dsu-capture-image.sh'), file, bin]);
  }

  it('hands over while connections are open and idle, one with a partial line: they stay with kv-v1, which answers them', async () => {
    const old = await start(BIN.v1);
    const [a, b, c] = [await LineConn.open(old.port), await LineConn.open(old.port), await LineConn.open(old.port)];
    try {
      expect(await a.request('PUT a 1')).to.equal('OK');
      expect(await b.request('PUT b two words')).to.equal('OK');
      // One write: the answer shows that the server has read the partial line after it too.
      await c.send('GET a\nPUT par');
      expect(await c.nextLine()).to.equal('VALUE 1');

      const file = join(dir, 'image-open-conns');
      updateCapturing(old, file, BIN.v2);
      const forked = await old.waitReport((r) => r.kind === 'forked');
      const loaded = await old.waitReport((r) => r.kind !== 'forked');
      expect(loaded).to.include({ kind: 'loaded', pid: forked.pid, version: '2', from: '1', entries: '2' });

      // The old version goes on serving the three connections (as v1: TYPE is unknown to it).
      expect(await c.request('tial x')).to.equal('OK'); // completes "PUT partial x"
      expect(await c.request('GET partial')).to.equal('VALUE x');
      expect(await a.request('GET b')).to.equal('VALUE two words');
      expect(await b.request('TYPE b')).to.equal('ERROR unknown command');

      // The image holds the three connections as the old version had them at the fork point.
      const img = parseImage(readFileSync(file));
      expect(img.keys.sort()).to.deep.equal(['a', 'b']);
      const sec = img.section!;
      expect(sec, 'connection section').to.not.equal(undefined);
      const fds = sec.conns.map((x) => x.fd);
      expect(new Set([img.lfd, sec.epfd, sec.sfd, ...fds]).size, 'distinct descriptors').to.equal(6);
      expect(fds).to.deep.equal([...fds].sort((x, y) => x - y));
      expect(sec.conns.map((x) => [x.flags, x.inCap, x.input.toString('latin1'), x.output.length])).to.deep.equal([
        [0, IN_INITIAL, '', 0],
        [0, IN_INITIAL, '', 0],
        [0, IN_INITIAL, 'PUT par', 0],
      ]);

      // The new version never had them: they end with the old version.
      expect(await old.stop()).to.deep.equal({ code: 0, signal: null });
      for (const conn of [a, b, c]) expect(await conn.waitClosed()).to.equal(true);
      const n = await LineConn.open(old.port);
      expect(await n.request('TYPE b')).to.equal('TYPE string'); // v2 serves from now on
      n.close();
      expect(old.stderr()).to.equal('');
    } finally {
      for (const conn of [a, b, c]) conn.close();
    }
  });

  it('saves a connection blocked on output with its pending reply and unexecuted requests; kv-v1 delivers every reply', async () => {
    const old = await start(BIN.v1);
    const big = 'v'.repeat(512 * 1024);
    const w = await LineConn.open(old.port);
    try {
      expect(await w.request(`PUT big ${big}`)).to.equal('OK');
      const N = 64; // 32 MiB of replies: far more than the socket buffers hold
      w.socket.pause();
      await w.send('GET big\n'.repeat(N));
      // kv reads the requests and runs them until the socket is full, all in one turn of its loop,
      // then waits for room: done once it has answered a probe connection (serverHasRead). The
      // probe then closes, and kv has closed it (its FIN came back), so the image holds w alone.
      const probe = await LineConn.open(old.port);
      await serverHasRead(probe);
      probe.socket.end();
      expect(await probe.waitClosed(), 'kv closed the probe connection').to.equal(true);
      const file = join(dir, 'image-blocked-conn');
      updateCapturing(old, file, BIN.v2);
      const loaded = await old.waitReport((r) => r.kind !== 'forked');
      expect(loaded).to.include({ kind: 'loaded', entries: '1' });

      const sec = parseImage(readFileSync(file)).section!;
      expect(sec.conns).to.have.length(1);
      const rec = sec.conns[0]!;
      expect(rec.flags, 'want_write').to.equal(1);
      expect(rec.output.length).to.be.within(1, 256 * 1024 + (1 << 20) + 16);
      // The unsent end of whole replies: the server appends only complete ones.
      const reply = `VALUE ${big}\n`;
      expect(reply.repeat(Math.ceil(rec.output.length / reply.length) + 1).endsWith(rec.output.toString('latin1')), 'pending output').to.equal(true);
      const left = rec.input.toString('latin1');
      expect(left, 'requests not executed yet').to.match(/^(GET big\n)+$/);
      expect(left.length / 8).to.be.below(N);

      w.socket.resume();
      for (let i = 0; i < N; i++) expect((await w.nextLine()) === `VALUE ${big}`, `reply ${i}`).to.equal(true);
      expect(await w.request('GET nothing')).to.equal('NOTFOUND');
    } finally {
      w.close();
    }
  });

  it('rolls back: kv-v1 loads a kv-v2 image, keeping typed values as plain values', async () => {
    const old = await start(BIN.v2);
    const conn = await LineConn.open(old.port);
    for (const l of ['PUT-number n -1.5', 'PUT-date d 2024-02-29', 'PUT s two words']) expect(await conn.request(l)).to.equal('OK');
    conn.close();
    old.update([BIN.v1, '--port', '0']);
    const loaded = await old.waitReport((r) => r.kind !== 'forked');
    expect(loaded).to.include({ kind: 'loaded', version: '1', from: '2', entries: '3' });
    await old.stop();
    const c1 = await LineConn.open(old.port);
    expect(await c1.request('GET n')).to.equal('VALUE -1.5');
    expect(await c1.request('GET d')).to.equal('VALUE 2024-02-29');
    expect(await c1.request('GET s')).to.equal('VALUE two words');
    expect(await c1.request('TYPE n')).to.equal('ERROR unknown command'); // v1 answers now
    c1.close();
  });

  it('reports bad requests and a new version that cannot start, and carries on serving', async () => {
    const old = await start(BIN.v1);
    const conn = await LineConn.open(old.port);
    expect(await conn.request('PUT a 1')).to.equal('OK');
    (old.proc.stdio[3] as Socket).write('upgrade now\n');
    expect(await old.waitReport((r) => r.kind === 'failed')).to.include({ stage: 'request', pid: String(old.proc.pid) });
    expect(old.reports[0]!.error).to.match(/^unknown request 'upgrade now'/);
    const from = old.reports.length;
    old.update([join(dir, 'no-such-program'), 'x y']);
    const forked = await old.waitReport((r) => r.kind === 'forked', from);
    const failed = await old.waitReport((r) => r.kind === 'failed', from);
    expect(failed).to.include({ stage: 'exec', pid: forked.pid });
    expect(failed.error).to.match(/^cannot run .*no-such-program: No such file or directory$/);
    expect(await old.waitReport((r) => r.kind === 'exited', from)).to.deep.equal({ kind: 'exited', pid: forked.pid, status: '127' });
    expect(await conn.request('GET a')).to.equal('VALUE 1');
    conn.close();
  });

  it('crash-on-cmd makes kv-v2 die on the named command only', async () => {
    const kv = await start(BIN.v2, ['--fault', 'crash-on-cmd=TYPE']);
    const conn = await LineConn.open(kv.port);
    expect(await conn.request('PUT-number a 1')).to.equal('OK');
    expect(await conn.request('GET a')).to.equal('VALUE 1');
    await conn.send('TYPE a\n');
    expect(await conn.waitClosed()).to.equal(true);
    expect(await kv.exited).to.deep.equal({ code: null, signal: 'SIGSEGV' });
  });


  // Node cannot send a descriptor over a socket: test/fixtures/dsu-chain.py plays the monitor and
  // prints what it saw; the assertions are here.
  it('passes a control channel with an update (SCM_RIGHTS): v1 -> v2 -> v1, each updated through its own', function () {
    if (spawnSync('python3', ['-c', 'import socket; socket.send_fds'], { stdio: 'ignore' }).status !== 0) this.skip();
    const r = spawnSync('python3', [join(FIXTURES, 'dsu-chain.py'), BIN.v1, BIN.v2], { encoding: 'utf8', timeout: 100_000 });
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as Record<string, string[]>;
    const kinds = (rs: string[]): string[] => rs.map((l) => l.split(' ')[0]!);
    expect(out.put).to.deep.equal(['OK']);
    expect(kinds(out.first!)).to.deep.equal(['forked', 'loaded']);
    expect(out.first![1]).to.match(/^loaded pid=\d+ version=2 from=1 bytes=\d+ entries=1$/);
    expect(out.v2).to.deep.equal(['TYPE string', 'OK']);
    // The second update went to kv-v2 through the channel passed with the first one.
    expect(kinds(out.second!)).to.deep.equal(['forked', 'loaded']);
    expect(out.second![0]).to.match(/ version=2$/);
    expect(out.second![1]).to.match(/^loaded pid=\d+ version=1 from=2 bytes=\d+ entries=1$/);
    expect(out.v1).to.deep.equal(['VALUE 5', 'ERROR unknown command']);
  });

  describe('state images', function () {
    const good: [string, string, number?][] = [
      ['a', '1'],
      ['b', 'two words'],
      ['c\t', ''],
    ];

    for (const build of ['plain', 'ASan+UBSan'] as const) {
      const binOf = (v: 'v1' | 'v2'): string => (build === 'plain' ? BIN[v] : san[v]);

      it(`loads well-formed version 1 and 2 images (${build})`, async () => {
        // With a connection section, as kv writes it: checked, then dropped (a plain handoff).
        const section = connSection({ conns: [{ fd: 9, input: 'PUT x' }, { fd: 7, flags: 1 | 2, output: 'OK\nVALUE 1\n' }, { fd: 12, inCap: 4 * IN_INITIAL, input: 'y'.repeat(40000) }] });
        const v1img = image(kvPayload(good, { tail: section }), { version: 1, entries: 3n });
        const v2img = image(kvPayload([['n', '-3', 1], ['d', '2000-02-29', 2], ['s', 'x', 0]], { typed: true }), { version: 2 });
        for (const [img, typesWanted] of [
          [v1img, ['TYPE string', 'TYPE string', 'TYPE string']],
          [v2img, ['TYPE number', 'TYPE date', 'TYPE string']],
        ] as const) {
          const r = await loadImage(binOf('v2'), img, dir);
          expect(r.port, r.stderr).to.be.a('number');
          const conn = await LineConn.open(r.port!);
          const keys = img === v1img ? ['a', 'b', 'c\t'] : ['n', 'd', 's'];
          const types = [];
          for (const k of keys) types.push(await conn.request(`TYPE ${k}`));
          expect(types).to.deep.equal(typesWanted);
          if (img === v1img) expect(await conn.request('GET b')).to.equal('VALUE two words');
          conn.close();
          r.proc.kill('SIGTERM');
          const exit = await new Promise<number | null>((res) => r.proc.once('exit', (c) => res(c)));
          expect(exit, r.stderr).to.equal(0); // under ASan this includes the leak check at exit
        }
      });

      // Each corrupt image and the message its loader must give (after "kv-v2: dsu: error: ").
      const payload = kvPayload(good);
      const full = image(payload);
      const header = full.length - payload.length;
      const cases: [string, Buffer, RegExp, string?][] = [
        ['empty file', Buffer.alloc(0), /^truncated image: 0 bytes/],
        ['cut inside the header', full.subarray(0, header - 3), /^truncated image/],
        ['cut inside the payload', full.subarray(0, header + 9), /^truncated image: the header announces \d+ payload bytes, the file holds 9$/],
        ['one byte short', full.subarray(0, full.length - 1), /^truncated image/],
        ['bytes appended', Buffer.concat([full, Buffer.from('xx')]), /^corrupt image: the header announces/],
        ['bad magic', image(payload, { magic: 'MVRDSU\n\n' }), /^not a state image \(bad magic\)$/],
        ['unknown format', image(payload, { format: 2 }), /^image format 2, this library reads format 1$/],
        ['another program', image(payload, { program: 'redis' }), /^image of program 'redis', this is 'kv'$/],
        ['a payload byte flipped', (() => { const b = Buffer.from(full); b[header + 14]! ^= 0x20; return b; })(), /^corrupt image: checksum mismatch$/],
        ['a future version', image(payload, { version: 3 }), /^cannot load the state of version 3: this is kv version 2; it loads the state of versions 1 and 2$/],
        // Valid checksums over payloads that lie: only bounds checks stand between them and a crash.
        ['a huge entry count', image(kvPayload(good, { count: 1n << 60n })), /^cannot load the state of version 1: corrupt image: a count of 1152921504606846976 items/],
        ['a truncated header', image(Buffer.alloc(0), { program: 'x'.repeat(200) }).subarray(0, 100), /^truncated image header \(100 bytes\)$/],
        ['a count one too high', image(kvPayload([['k1', 'x'.repeat(40)], ['k2', 'y'.repeat(40)]], { count: 3n })), /^cannot load the state of version 1: truncated image: .* needs 8 bytes at offset \d+, 0 left$/],
        ['a huge key length', image(Buffer.concat([u32(NO_FD), u64(1), u64(1n << 62n), Buffer.from('abcdefghijklmnop')])), /truncated image: a byte string needs 4611686018427387904 bytes/],
        ['bytes left over', image(kvPayload(good, { tail: Buffer.concat([connSection(), u32(7)]) })), /^cannot load the state of version 1: 4 bytes left unread/],
        // The connection section (after the entries).
        ['a connection section cut after the epoll fd', image(kvPayload(good, { tail: u32(7) })), /^cannot load the state of version 1: truncated image: a u32 needs 4 bytes at offset \d+, 0 left$/],
        ['a connection section cut inside a connection', image(kvPayload(good, { tail: connSection({ conns: [{ input: 'GET a'.padEnd(25, 'x') }] }).subarray(0, -10) })), /truncated image: a byte string needs 25 bytes at offset \d+, 23 left$/],
        ['a huge connection count', image(kvPayload(good, { tail: connSection({ count: 1n << 40n }) })), /corrupt image: a count of 1099511627776 items of at least 28 bytes each/],
        ['a connection count one too high', image(kvPayload(good, { tail: connSection({ count: 2n, conns: [{ fd: 9 }] }) })), /corrupt image: a count of 2 items of at least 28 bytes each at offset \d+, but only 28 bytes left$/],
        ['two connections on one descriptor', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9 }, { fd: 10 }, { fd: 9, input: 'x' }] }) })), /two connections on descriptor 9$/],
        ['unknown connection flags', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, flags: 8 }] }) })), /connection on descriptor 9 \(flags 0x8, .*\): unknown flags$/],
        ['eof without pending output', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, flags: 2 }] }) })), /finished but still open without pending output$/],
        ['pending output while waiting for input', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, output: 'OK\n' }] }) })), /pending output while not waiting to write$/],
        ['an unexecuted request while waiting for input', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, input: 'GET a\n' }] }) })), /a complete request left unexecuted$/],
        ['more input than its buffer', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, input: 'x'.repeat(IN_INITIAL + 1) }] }) })), /more input than its buffer holds$/],
        ['an input buffer over the line limit', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, inCap: 2 << 20 }] }) })), /an input buffer capacity the server never uses$/],
        ['an input buffer of an odd size', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, inCap: 1000 }] }) })), /an input buffer capacity the server never uses$/],
        ['pending output over the limit', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 9, flags: 1, output: 'x'.repeat(2 << 20) }] }) })), /more pending output than the server ever buffers$/],
        ['a connection on the signalfd', image(kvPayload(good, { tail: connSection({ sfd: 9, conns: [{ fd: 9 }] }) })), /connection 0 on descriptor 9: out of range, or the listening socket, epoll or signalfd$/],
        ['a connection descriptor out of range', image(kvPayload(good, { tail: connSection({ conns: [{ fd: 0xfffffffe }] }) })), /connection 0 on descriptor 4294967294: out of range/],
        ['epoll and signalfd on one descriptor', image(kvPayload(good, { tail: connSection({ epfd: 6, sfd: 6 }) })), /epoll descriptor 6 and signalfd 6 named by the image: out of range or not distinct$/],
        ['an unknown type', image(kvPayload([['a', '1', 7]], { typed: true }), { version: 2 }), /entry 0 has type 7/],
        ['a key with a space', image(kvPayload([['a b', '1']])), /an entry that no request can store/],
        ['a key stored twice', image(kvPayload([['a', '1'], ['a', '2']])), /a key stored twice/],
        ['an empty program name', (() => { const b = Buffer.from(full); b.writeUInt32LE(0, 16); return b; })(), /^corrupt image header: program name of 0 bytes$/],
        ['a listening fd that is not one', image(kvPayload(good, { lfd: 0 })), /descriptor 0 named by the image is not a listening socket/],
      ];
      for (const [name, img, message] of cases) {
        it(`refuses ${name} with a message and exit status ${EXIT_LOAD} (${build})`, async () => {
          // Leak checking is off here: the loader exits on purpose with the store half built.
          const r = await loadImage(binOf('v2'), img, dir, { ASAN_OPTIONS: 'detect_leaks=0' });
          expect(r.port, 'it must not serve').to.equal(undefined);
          expect({ code: r.code, signal: r.signal }).to.deep.equal({ code: EXIT_LOAD, signal: null });
          const m = /^kv-v2(?:-san)?: dsu: error: (.*)\n$/.exec(r.stderr);
          expect(m, r.stderr).to.not.equal(null);
          expect(m![1]).to.match(message);
          // The same message, on the requester's channel.
          expect(r.report.endsWith('\n') && parseReport(r.report.slice(0, -1)), r.report).to.deep.equal({ kind: 'failed', pid: String(r.proc.pid), stage: 'load', error: m![1] });
        });
      }
    }

    it('reports a load failure on the requester\'s channel (MVR_DSU_REPORT_FD)', async () => {
      const file = join(dir, 'bad-image');
      writeFileSync(file, image(kvPayload(good), { program: 'other' }));
      const fd = openSync(file, 'r');
      const proc = spawn(BIN.v1, ['--port', '0'], { stdio: ['ignore', 'ignore', 'pipe', fd, 'pipe'], env: { ...process.env, [MVR_ENV_DSU_STATE_FD]: '3', [MVR_ENV_DSU_REPORT_FD]: '4' } });
      closeSync(fd);
      let rep = '';
      (proc.stdio[4] as Socket).setEncoding('latin1');
      (proc.stdio[4] as Socket).on('data', (d: string) => (rep += d));
      // 'close': exited, and the report channel has ended (all of it read).
      const code = await new Promise<number | null>((res) => proc.once('close', (c) => res(c)));
      expect(code).to.equal(EXIT_LOAD);
      expect(rep).to.equal(`failed pid=${proc.pid} stage=load error=image%20of%20program%20'other',%20this%20is%20'kv'\n`);
    });

    it('kv-v1 refuses a future version with a clear message (ASan+UBSan)', async () => {
      const r = await loadImage(san.v1, image(kvPayload(good), { version: 9 }), dir, { ASAN_OPTIONS: 'detect_leaks=0' });
      expect(r.code).to.equal(EXIT_LOAD);
      expect(r.stderr).to.equal('kv-v1-san: dsu: error: cannot load the state of version 9: this is kv version 1; it loads the state of versions 1 and 2\n');
    });

    it('kv-v1 refuses a corrupt connection section too (ASan+UBSan)', async () => {
      const img = image(kvPayload([['n', '1', 1]], { typed: true, tail: connSection({ conns: [{ fd: 8 }, { fd: 8 }] }) }), { version: 2 });
      const r = await loadImage(san.v1, img, dir, { ASAN_OPTIONS: 'detect_leaks=0' });
      expect(r.code).to.equal(EXIT_LOAD);
      expect(r.stderr).to.equal('kv-v1-san: dsu: error: cannot load the state of version 2: two connections on descriptor 8\n');
      expect(r.report).to.equal(`failed pid=${r.proc.pid} stage=load error=cannot%20load%20the%20state%20of%20version%202:%20two%20connections%20on%20descriptor%208\n`);
    });

    it('runs a whole handoff under ASan+UBSan, old and new version', async () => {
      const old = await start(san.v1);
      await loadKeys(old.port, 2000);
      old.update([san.v2, '--port', '0']);
      const loaded = await old.waitReport((r) => r.kind !== 'forked');
      expect(loaded).to.include({ kind: 'loaded', entries: '2000' });
      expect(await old.stop()).to.deep.equal({ code: 0, signal: null });
      const { mismatches } = await checkKeys(old.port, 2000);
      expect(mismatches).to.deep.equal([]);
      expect(old.stderr()).to.equal('');
    });
  });
});
