// The example key-value servers (examples/kv), run natively: their protocol, their handling of
// partial, pipelined and concurrent input, and the property the update example rests on —
// kv-v2 answers every v1 request exactly as kv-v1 does, through the same reads and writes — and
// the meaning of its rule files (forward.mvr, backward.mvr) through the reference interpreter,
// with the real servers answering. (Running them under `mvrc run` is test/runtime-kv.test.ts.)
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAutomaton } from '../compiler/lower/automaton.ts';
import { Interpreter, type FollowerCall, type LeaderEvent, type StepResult } from '../compiler/semantics/interpreter.ts';
import { loadProgram } from '../compiler/check/program.ts';
import { checkKeys, LineConn, loadKeys, runLoad, startKv, type KvServer } from '../examples/kv/client.ts';
import { serverHasRead } from './helpers/kv.ts';

const KV_DIR = fileURLToPath(new URL('../examples/kv/', import.meta.url));
const BIN = { v1: join(KV_DIR, 'kv-v1'), v2: join(KV_DIR, 'kv-v2') };

/** Connects, writes `chunks` (with a short pause between them, so that they tend to arrive as
 *  separate packets: pacing only, the answer must be the same however they arrive), half-closes,
 *  and returns every byte the server sent until it closed the connection (as latin1: one char per
 *  byte). */
function exchange(port: number, chunks: string[], pauseMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.once('connect', async () => {
      for (const c of chunks) {
        s.write(c, 'latin1');
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
      s.end();
    });
  });
}

describe('examples/kv servers', function () {
  before(function () {
    this.timeout(120000);
    execFileSync('make', ['-C', KV_DIR, '--no-print-directory', '-s'], { stdio: ['ignore', 'ignore', 'inherit'] });
  });

  for (const version of ['v1', 'v2'] as const) {
    describe(`kv-${version} (native)`, function () {
      let kv: KvServer;
      let conn: LineConn;
      beforeEach(async () => {
        kv = await startKv(BIN[version]);
        conn = await LineConn.open(kv.port);
      });
      afterEach(async () => {
        conn.close();
        await kv.stop();
      });

      it('answers PUT with OK and GET with the stored value or NOTFOUND', async () => {
        expect(await conn.request('GET a')).to.equal('NOTFOUND');
        expect(await conn.request('PUT a 1')).to.equal('OK');
        expect(await conn.request('GET a')).to.equal('VALUE 1');
        expect(await conn.request('PUT a two words ')).to.equal('OK'); // the value is the rest of the line
        expect(await conn.request('GET a')).to.equal('VALUE two words ');
        expect(await conn.request('PUT e ')).to.equal('OK'); // an empty value is a value
        expect(await conn.request('GET e')).to.equal('VALUE ');
        expect(await conn.request('GET b')).to.equal('NOTFOUND');
      });

      it('shares one store between connections', async () => {
        const other = await LineConn.open(kv.port);
        try {
          expect(await conn.request('PUT shared x')).to.equal('OK');
          expect(await other.request('GET shared')).to.equal('VALUE x');
        } finally {
          other.close();
        }
      });

      it('answers malformed and unknown requests with ERROR unknown command', async () => {
        for (const line of ['', 'FOO', 'GET', 'GET ', 'GET a b', 'PUT', 'PUT a', 'PUT  a b', 'get a', 'put a b', 'DEL a', ' GET a']) {
          expect(await conn.request(line), JSON.stringify(line)).to.equal('ERROR unknown command');
        }
        // The connection stays usable after errors.
        expect(await conn.request('PUT k v')).to.equal('OK');
        expect(await conn.request('GET k')).to.equal('VALUE v');
      });

      it('accepts CRLF line ends and answers with LF', async () => {
        await conn.send('PUT c v\r\nGET c\r\nGET nope\r\n');
        expect([await conn.nextLine(), await conn.nextLine(), await conn.nextLine()]).to.deep.equal(['OK', 'VALUE v', 'NOTFOUND']);
      });

      it('waits for the end of a line split across packets', async () => {
        // Each piece is read and acted on by the server before the next is sent (serverHasRead),
        // so "nothing answered" is checked after the server has had its chance to answer.
        const probe = await LineConn.open(kv.port);
        try {
          await conn.send('PU');
          await serverHasRead(probe);
          expect(conn.pending(), 'answered before the newline').to.equal('');
          await conn.send('T split va');
          await serverHasRead(probe);
          expect(conn.pending(), 'answered before the newline').to.equal('');
          await conn.send('lue\nGET spl');
          expect(await conn.nextLine()).to.equal('OK');
          await serverHasRead(probe);
          expect(conn.pending(), 'answered before the newline').to.equal('');
          await conn.send('it\n');
          expect(await conn.nextLine()).to.equal('VALUE value');
          await serverHasRead(probe);
          expect(conn.pending(), 'one answer per line').to.equal('');
        } finally {
          probe.close();
        }
      });

      it('answers 2,000 pipelined requests sent in one write, in order', async () => {
        let batch = '';
        for (let i = 0; i < 1000; i++) batch += `PUT p${i} v${i}\nGET p${i >> 1}\n`;
        await conn.send(batch);
        for (let i = 0; i < 1000; i++) {
          expect(await conn.nextLine()).to.equal('OK');
          expect(await conn.nextLine()).to.equal(`VALUE v${i >> 1}`);
        }
      });

      it('answers requests already sent when the client half-closes, then closes', async () => {
        const out = await exchange(kv.port, ['PUT h 1\nGET h\nGET', ' h\nGET x\nPUT partial'], 20);
        // The last, unterminated line is not a request and gets no answer.
        expect(out).to.equal('OK\nVALUE 1\nVALUE 1\nNOTFOUND\n');
      });

      it('keeps large values intact and refuses a line over 1 MiB, closing the connection', async () => {
        const big = 'x'.repeat(512 * 1024);
        expect(await conn.request(`PUT big ${big}`)).to.equal('OK');
        expect(await conn.request('GET big', 20000)).to.equal(`VALUE ${big}`);
        await conn.send('PUT huge ' + 'y'.repeat(1024 * 1024 + 16));
        expect(await conn.nextLine()).to.equal('ERROR line too long');
        expect(await conn.waitClosed()).to.equal(true);
        // The server itself carries on.
        const again = await LineConn.open(kv.port);
        expect(await again.request('GET big', 20000)).to.equal(`VALUE ${big}`);
        again.close();
      });

      it('exits with status 0 on SIGTERM, with clients still connected', async () => {
        expect(await conn.request('PUT a b')).to.equal('OK');
        expect(await kv.stop()).to.equal(0);
        expect(await conn.waitClosed()).to.equal(true);
        expect(kv.stderr()).to.equal('');
      });

      it('matches the model under 50 concurrent clients x 200 requests', async function () {
        this.timeout(60000);
        const res = await runLoad({ port: kv.port, clients: 50, requests: 200, seed: 7, keys: 16 });
        expect(res.errors).to.deep.equal([]);
        expect(res.mismatches).to.deep.equal([]);
        expect(res.answered).to.equal(50 * 200);
      });

      it('stores 100,000 keys (through table growth) and reads every one back', async function () {
        this.timeout(60000);
        const { loaded } = await loadKeys(kv.port, 100000);
        expect(loaded).to.equal(100000);
        const { checked, mismatches } = await checkKeys(kv.port, 100000);
        expect(mismatches).to.deep.equal([]);
        expect(checked).to.equal(100000);
      });
    });
  }

  describe('kv-v2 typed values (native)', function () {
    let kv: KvServer;
    let conn: LineConn;
    before(async () => {
      kv = await startKv(BIN.v2);
      conn = await LineConn.open(kv.port);
    });
    after(async () => {
      conn.close();
      await kv.stop();
    });

    it('stores typed values, reports their type, and plain PUT stores a string', async () => {
      const cases: [string, string, string][] = [
        ['PUT-number n -12.50', 'VALUE -12.50', 'TYPE number'],
        ['PUT-number n 7', 'VALUE 7', 'TYPE number'],
        ['PUT-date d 2024-02-29', 'VALUE 2024-02-29', 'TYPE date'],
        ['PUT-date d 2000-02-29', 'VALUE 2000-02-29', 'TYPE date'],
        ['PUT-string s has spaces', 'VALUE has spaces', 'TYPE string'],
        ['PUT n plain', 'VALUE plain', 'TYPE string'], // a plain PUT over a number makes it a string
      ];
      for (const [put, get, type] of cases) {
        const key = put.split(' ')[1]!;
        expect(await conn.request(put), put).to.equal('OK');
        expect(await conn.request(`GET ${key}`), put).to.equal(get);
        expect(await conn.request(`TYPE ${key}`), put).to.equal(type);
      }
      expect(await conn.request('TYPE missing')).to.equal('NOTFOUND');
    });

    it('refuses bad types and values with ERROR bad value, leaving the old value', async () => {
      expect(await conn.request('PUT-number keep 1')).to.equal('OK');
      for (const line of [
        'PUT-int keep 1',
        'PUT-Number keep 1',
        'PUT- keep 1',
        'PUT-number keep x',
        'PUT-number keep 1.',
        'PUT-number keep .5',
        'PUT-number keep 1e3',
        'PUT-number keep ',
        'PUT-date keep 2023-02-29', // not a leap year
        'PUT-date keep 1900-02-29', // divisible by 100, not by 400
        'PUT-date keep 2024-04-31',
        'PUT-date keep 2024-13-01',
        'PUT-date keep 2024-1-01',
      ]) {
        expect(await conn.request(line), line).to.equal('ERROR bad value');
      }
      expect(await conn.request('GET keep')).to.equal('VALUE 1');
      expect(await conn.request('TYPE keep')).to.equal('TYPE number');
    });

    it('treats typed requests without key or value, and TYPE without key, as unknown commands', async () => {
      for (const line of ['PUT-number', 'PUT-number k', 'PUT-number  1', 'TYPE', 'TYPE ', 'TYPE a b', 'type a']) {
        expect(await conn.request(line), line).to.equal('ERROR unknown command');
      }
    });

    it('matches the typed model under 20 concurrent clients x 200 requests', async function () {
      this.timeout(60000);
      const res = await runLoad({ port: kv.port, clients: 20, requests: 200, seed: 11, typed: true, keys: 8 });
      expect(res.errors).to.deep.equal([]);
      expect(res.mismatches).to.deep.equal([]);
      expect(res.answered).to.equal(20 * 200);
    });
  });

  describe('kv-v1 answers typed requests as unknown commands (what forward.mvr relies on)', function () {
    it('matches the v1 model of typed traffic', async function () {
      this.timeout(60000);
      const kv = await startKv(BIN.v1);
      try {
        const res = await runLoad({ port: kv.port, clients: 10, requests: 200, seed: 3, typed: true, expect: 'v1' });
        expect(res.errors).to.deep.equal([]);
        expect(res.mismatches).to.deep.equal([]);
      } finally {
        await kv.stop();
      }
    });
  });

  // ---- v2 is a compatible update of v1 ----

  /** A random request line that means something (or nothing) to v1: never a v2-only command. */
  const v1Line = fc.oneof(
    fc.constantFrom('PUT', 'GET', 'PUT ', 'GET ', '', '\r', 'PUTX a b', 'TYPE', 'GET a b', 'PUT  a b'),
    fc.tuple(fc.constantFrom('PUT ', 'GET '), fc.constantFrom('a', 'b', 'key', 'k\t1'), fc.constantFrom('', ' ', ' v', ' two words', ' \r')).map(([c, k, v]) => c + k + v),
    // arbitrary bytes except newline: binary keys and values, stray commands
    fc.string({ unit: fc.integer({ min: 0, max: 255 }).filter((b) => b !== 10).map((b) => String.fromCharCode(b)), maxLength: 20 }),
  ).filter((l) => !l.startsWith('PUT-') && !l.startsWith('TYPE '));

  describe('examples/kv rule files', function () {
    it('check clean: no errors and no warnings', function () {
      this.timeout(60000);
      const cli = fileURLToPath(new URL('../compiler/cli/main.ts', import.meta.url));
      const r = spawnSync(process.execPath, ['--import', 'tsx', cli, 'check', join(KV_DIR, 'forward.mvr'), join(KV_DIR, 'backward.mvr')], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      expect(r.stderr + r.stdout).to.not.match(/: (warning|error) MVR\d+/);
      expect(r.status).to.equal(0);
    });
  });

  // The rules' meaning, through the reference interpreter, with the real servers producing the
  // answers: for one request, the leader reads it and writes its answer; the follower's read is
  // decided by the rules; the follower's answer (the real server's answer to what it was given)
  // must then be accepted as the leader's write.
  describe('examples/kv rule files reconcile the two versions (reference interpreter)', function () {
    const READ = 0; // x86-64 syscall numbers
    const WRITE = 1;
    const FD = 6n;
    const CAP = 16384; // the servers' first read size
    const bytes = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, 'latin1'));
    const text = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('latin1');

    function matcher(file: string): Interpreter {
      const program = loadProgram([join(KV_DIR, file)]);
      expect(program.diagnostics.filter((d) => d.severity === 'error')).to.deep.equal([]);
      return new Interpreter(buildAutomaton(program));
    }

    /** One request through a leader-follower pair: returns the follower's read result, and the
     *  result of its write of `followerAnswer(bytes it read)`. */
    async function exchangeOne(m: Interpreter, first: bigint, request: string, leaderAnswer: string, followerAnswer: (input: string) => Promise<string>) {
      const events: LeaderEvent[] = [
        { index: first, nr: READ, args: [FD, 0n, BigInt(CAP), 0n, 0n, 0n], ret: BigInt(request.length), bufs: [null, bytes(request), null, null, null, null] },
        { index: first + 1n, nr: WRITE, args: [FD, 0n, BigInt(leaderAnswer.length), 0n, 0n, 0n], ret: BigInt(leaderAnswer.length), bufs: [null, bytes(leaderAnswer), null, null, null, null] },
      ];
      const view = { get: (i: bigint) => ({ event: events.find((e) => e.index === i) ?? null, eof: false }) };
      const readCall: FollowerCall = { nr: READ, args: [FD, 0n, BigInt(CAP), 0n, 0n, 0n], bufs: [null, null, null, null, null, null], caps: [0, CAP, 0, 0, 0, 0] };
      const read = m.step(view, readCall);
      if (read.status !== 'ok') return { read, write: null as StepResult | null, given: '' };
      const given = text(read.out[1]).slice(0, Number(read.ret));
      const answer = await followerAnswer(given);
      const writeCall: FollowerCall = { nr: WRITE, args: [FD, 0n, BigInt(answer.length), 0n, 0n, 0n], bufs: [null, bytes(answer), null, null, null, null], caps: [0, 0, 0, 0, 0, 0] };
      return { read, write: m.step(view, writeCall), given };
    }

    let v1: KvServer;
    let v2: KvServer;
    let c1: LineConn;
    let c2: LineConn;
    before(async () => {
      [v1, v2] = await Promise.all([startKv(BIN.v1), startKv(BIN.v2)]);
      [c1, c2] = await Promise.all([LineConn.open(v1.port), LineConn.open(v2.port)]);
    });
    after(async () => {
      c1.close();
      c2.close();
      await Promise.all([v1.stop(), v2.stop()]);
    });
    /** A server's complete answer to the bytes of one read (each line answered). */
    const answer = async (c: LineConn, input: string): Promise<string> => {
      await c.send(input);
      let out = '';
      for (let i = 0; i < input.split('\n').length - 1; i++) out += (await c.nextLine()) + '\n';
      return out;
    };

    it('forward.mvr: kv-v2 following kv-v1 answers typed requests byte for byte as kv-v1', async () => {
      const m = matcher('forward.mvr');
      let index = 0n;
      const requests = ['PUT-number n 5\n', 'PUT-date d 2024-02-29\n', 'PUT-string s x y\n', 'PUT-bogus k v\n', 'PUT-number k\n', 'TYPE n\n', 'TYPE n\r\n'];
      for (const request of [...requests, 'PUT a 1\n', 'GET n\n', 'GET a\n']) {
        const leaderAnswer = await answer(c1, request);
        const r = await exchangeOne(m, index, request, leaderAnswer, (given) => answer(c2, given));
        index += 2n;
        expect(r.read.status, request).to.equal('ok');
        expect(r.write?.status, `${request}: follower given ${JSON.stringify(r.given)}`).to.equal('ok');
        expect(r.write?.followerAction, request).to.equal('match');
        if (requests.includes(request)) expect(r.given, request).to.not.equal(request); // rewritten
        else expect(r.given, request).to.equal(request); // v1 requests: the default rule
      }
      // The follower's store was kept equal to the leader's: the typed PUTs changed neither.
      for (const key of ['n', 'd', 's', 'k', 'a']) expect(await c2.request(`GET ${key}`)).to.equal(await c1.request(`GET ${key}`));
    });

    it('backward.mvr: kv-v1 following kv-v2 takes PUT-string as PUT and retires on what it cannot express', async () => {
      const m = matcher('backward.mvr');
      let index = 0n;
      for (const request of ['PUT-string k hello world\n', 'PUT-string k2 \n', 'PUT-string k3\n', 'PUT a 1\n', 'GET k\n']) {
        const leaderAnswer = await answer(c2, request);
        const r = await exchangeOne(m, index, request, leaderAnswer, (given) => answer(c1, given));
        index += 2n;
        expect(r.read.status, request).to.equal('ok');
        expect(r.write?.status, `${request}: follower given ${JSON.stringify(r.given)}`).to.equal('ok');
        expect(r.write?.followerAction, request).to.equal('match');
      }
      for (const key of ['k', 'k2', 'k3', 'a']) expect(await c1.request(`GET ${key}`), key).to.equal(await c2.request(`GET ${key}`));
      // Requests v1 cannot express end the old follower as an expected divergence.
      for (const request of ['PUT-number n 5\n', 'PUT-date d 2024-01-01\n', 'PUT-bogus k v\n', 'TYPE k\n']) {
        const fresh = matcher('backward.mvr');
        const r = await exchangeOne(fresh, 0n, request, await answer(c2, request), async () => '');
        expect(r.read.status, request).to.equal('expected_diverge');
      }
    });

    it('without the forward rule, the same traffic diverges (the rule is needed)', async () => {
      const empty = loadProgram(['(none)'], { readFile: () => Buffer.from('') });
      const m = new Interpreter(buildAutomaton(empty));
      const request = 'PUT-number z 1\n';
      const r = await exchangeOne(m, 0n, request, await answer(c1, request), (given) => answer(c2, given));
      expect(r.read.status).to.equal('ok');
      expect(r.write?.status).to.equal('diverge');
    });
  });

  describe('kv-v2 answers every v1 request exactly as kv-v1', function () {
    let v1: KvServer;
    let v2: KvServer;
    before(async () => {
      [v1, v2] = await Promise.all([startKv(BIN.v1), startKv(BIN.v2)]);
    });
    after(async () => {
      await Promise.all([v1.stop(), v2.stop()]);
    });

    it('gives byte-identical answer streams for random v1 traffic, split at random points', async function () {
      this.timeout(60000);
      let compared = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(v1Line, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { maxLength: 5 }), async (lines, cuts) => {
          const stream = lines.map((l) => l + '\n').join('');
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks: string[] = [];
          let prev = 0;
          for (const p of [...points, stream.length]) {
            chunks.push(stream.slice(prev, p));
            prev = p;
          }
          // The same traffic goes to both servers, so their stores stay identical across runs.
          const [a, b] = await Promise.all([exchange(v1.port, chunks, 2), exchange(v2.port, chunks, 2)]);
          expect(b).to.equal(a);
          expect(a.split('\n').length - 1).to.equal(lines.length);
          compared += lines.length;
        }),
        { numRuns: 60, seed: 20260101 },
      );
      expect(compared).to.be.greaterThan(60);
    });

    it('makes the same reads and writes for the same v1 requests (strace)', async function () {
      this.timeout(60000);
      if (spawnSync('strace', ['-V']).status !== 0) this.skip(); // scripts/install-deps.sh installs it
      const dir = mkdtempSync(join(tmpdir(), 'kv-strace-'));
      try {
        const trace = async (bin: string): Promise<string[]> => {
          const out = join(dir, `${bin.endsWith('v1') ? 'v1' : 'v2'}.trace`);
          const kv = await startKv('strace', ['-o', out, '-xx', '-s', '256', '-e', 'trace=read,write,accept4,epoll_ctl,close,shutdown', bin, '--port', '0']);
          const c = await LineConn.open(kv.port);
          for (const line of ['PUT a 1', 'GET a', 'GET b', 'BOGUS', 'PUT a two words', 'GET a', 'TYPE', 'GET a b']) await c.request(line);
          await c.send('PUT p 1\nGET p\nGET q\n'); // pipelined: one read, one write
          for (let i = 0; i < 3; i++) await c.nextLine();
          c.close();
          await c.waitClosed();
          // SIGTERM goes to the server itself (strace's child); strace then exits with its status.
          const child = Number(readFileSync(`/proc/${kv.proc.pid}/task/${kv.proc.pid}/children`, 'utf8').trim());
          const exited = new Promise((r) => kv.proc.once('exit', r));
          process.kill(child, 'SIGTERM');
          expect(await exited).to.equal(0);
          // Start-up (the dynamic loader reading shared libraries) is the same binary code either
          // way; compare from the first accepted connection on.
          const lines = readFileSync(out, 'latin1').split('\n');
          const first = lines.findIndex((l) => l.startsWith('accept4(') && !l.includes('EAGAIN'));
          expect(first).to.be.greaterThan(0);
          return lines.slice(first).filter((l) => l.trim() !== '');
        };
        const a = await trace(BIN.v1);
        const b = await trace(BIN.v2);
        expect(a.filter((l) => l.startsWith('read(') || l.startsWith('write(')).length).to.be.at.least(18);
        expect(b).to.deep.equal(a);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
