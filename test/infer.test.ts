// mvrc infer: rules suggested from two traces must check clean and reconcile the traces they came
// from (compiler/traces/infer.ts, compiler/cli/infer.ts, docs/traces.md "mvrc infer").
import { expect } from 'chai';
import fc from 'fast-check';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { alignSequences, canonical, checkRuleText, comparedTrace, inferRules, suggestRules, suggestRulesFor } from '../compiler/traces/infer.ts';
import { parseJsonTrace, type Trace } from '../compiler/traces/trace.ts';
import { parseStraceTrace } from '../compiler/traces/strace.ts';
import { verifyTraces } from '../compiler/traces/verify.ts';
import { mvrc, tempDir } from './helpers/cli.ts';

// ---- traces written by hand ---------------------------------------------------------------------

interface Ev {
  name: string;
  args?: (number | string)[];
  ret?: number;
  bufs?: Record<number, string>;
  thread?: number;
}

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

/** mvrc's JSON-lines format (docs/traces.md). */
function jsonTrace(events: readonly Ev[], command = ['./prog']): string {
  const lines = [JSON.stringify({ mvrcTrace: 1, command, arch: 'x86_64' })];
  const next = new Map<number, number>();
  for (const e of events) {
    const thread = e.thread ?? 0;
    const i = next.get(thread) ?? 0;
    next.set(thread, i + 1);
    const bufs = e.bufs ? Object.fromEntries(Object.entries(e.bufs).map(([k, v]) => [k, hex(v)])) : undefined;
    lines.push(JSON.stringify({ thread, i, name: e.name, args: e.args ?? [], ret: e.ret ?? 0, ...(bufs ? { bufs } : {}) }));
  }
  lines.push(JSON.stringify({ end: true, status: 0 }));
  return `${lines.join('\n')}\n`;
}

// Pointers differ between the versions (they are never compared); `p` tells them apart.
const read = (fd: number, data: string, cap = 4096, p = 0x7ffd1000): Ev => ({ name: 'read', args: [fd, p, cap], ret: data.length, bufs: { 1: data } });
const write = (fd: number, data: string, p = 0x5555a000): Ev => ({ name: 'write', args: [fd, p, data.length], ret: data.length, bufs: { 1: data } });
const getpid = (): Ev => ({ name: 'getpid', ret: 4242 });
const accept4 = (fd: number): Ev => ({ name: 'accept4', args: [3, 0, 0, 0x80800], ret: fd });
const close = (fd: number): Ev => ({ name: 'close', args: [fd], ret: 0 });
// Local calls: not recorded by the runtime, present in strace output; infer ignores them.
const mmap = (p: number): Ev => ({ name: 'mmap', args: [0, 8192, 3, 34, -1, 0], ret: p });
const futex = (): Ev => ({ name: 'futex', args: [0x1000, 129, 1, 0, 0, 0], ret: 0 });

/** One kv connection: `PUT-number k 1` (v1: unknown command; v2: stored), then PING. */
function kvSession(fd: number, v: 1 | 2, p: number): Ev[] {
  return [
    accept4(fd),
    read(fd, 'PUT-number k 1\n', 4096, p),
    ...(v === 2 ? [mmap(0x7f0000 + p)] : []),
    write(fd, v === 1 ? 'ERROR unknown command\n' : 'OK\n', p + 8),
    read(fd, 'PING\n', 4096, p),
    write(fd, 'PONG\n', p + 8),
    read(fd, '', 4096, p),
    close(fd),
  ];
}

function kvTraces(sessions: number[]): { v1: Ev[]; v2: Ev[] } {
  const v1: Ev[] = [mmap(0x7f1000), futex()];
  const v2: Ev[] = [mmap(0x7f9000), mmap(0x7fa000)];
  for (const fd of sessions) {
    v1.push(...kvSession(fd, 1, 0x1000 * fd));
    v2.push(...kvSession(fd, 2, 0x2000 * fd));
  }
  return { v1, v2 };
}

/** A pair the inferred rules cannot reconcile (found by a search over small traces). */
const UNRECONCILED = {
  leader: [read(0, 'x\n', 64), write(1, 'a\n'), read(0, 'x\n', 64), write(1, 'a\n')],
  follower: [write(2, 'a\n'), read(0, 'x\n', 64), write(1, 'a\n')],
};

function traceFile(path: string): Trace {
  return parseStraceTrace({ path, text: readFileSync(path, 'utf8') }, new DiagnosticBag());
}

function traceOf(events: readonly Ev[], path: string): Trace {
  const diags = new DiagnosticBag();
  const t = parseJsonTrace({ path, text: jsonTrace(events) }, diags);
  expect(diags.items, 'test trace').to.deep.equal([]);
  return t;
}

/** The rules of a rule file, one per line, without comments. */
function ruleLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('//'));
}

/** How many rules a rule file holds (rules longer than a line are broken over several). */
function ruleCount(text: string): number {
  return checkRuleText(text).rules.length;
}

function errorsOf(text: string): string[] {
  return checkRuleText(text).diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`);
}

/** Errors and warnings (notes, e.g. MVR4003 "will be emulated", are expected). */
function problemsOf(text: string): string[] {
  return checkRuleText(text).diagnostics.filter((d) => d.severity !== 'note').map((d) => `${d.code} ${d.message}`);
}

// ---- the algorithm ------------------------------------------------------------------------------

describe('mvrc infer: rules from two traces', () => {
  it('kv: v1 answers ERROR to PUT-number, v2 answers OK: one rule that reconciles them', () => {
    const { v1, v2 } = kvTraces([5]);
    const s = suggestRules(traceOf(v1, 'v1.jsonl'), traceOf(v2, 'v2.jsonl'))!;
    expect(s.status).to.equal('verified');
    expect(s.inference.hunks).to.have.length(1);
    expect(ruleLines(s.text)).to.deep.equal(['write(fd, "ERROR unknown command\\n", _) => write(fd, "OK\\n", n) -> do { ret = n; }']);
    expect(errorsOf(s.text)).to.deep.equal([]);
    // Without the rule, the traces do not reconcile: the rule is what makes them verify.
    const empty = checkRuleText('');
    expect(verifyTraces(empty, comparedTrace(traceOf(v1, 'v1.jsonl')), comparedTrace(traceOf(v2, 'v2.jsonl'))).findings).to.not.deep.equal([]);
  });

  it('says where each hunk is in both trace files, and which traces the rules come from', () => {
    const { v1, v2 } = kvTraces([5]);
    const s = suggestRules(traceOf(v1, 'v1.jsonl'), traceOf(v2, 'v2.jsonl'))!;
    // Line 1 is the header, then mmap, futex, accept4, read: the write is line 6 of v1; in v2 (two
    // mmaps, accept4, read, mmap) line 7.
    expect(s.text).to.contain('// v1.jsonl:6 => v2.jsonl:7\nwrite(fd');
    expect(s.text).to.match(/leader \(old version\): +v1\.jsonl/);
    expect(s.text).to.match(/follower \(new version\): +v2\.jsonl/);
    expect(canonical(s.text)).to.equal(s.text);
  });

  it('a hunk repeated on several connections gives one rule, listing every place', () => {
    const { v1, v2 } = kvTraces([5, 6, 7]);
    const s = suggestRules(traceOf(v1, 'a'), traceOf(v2, 'b'))!;
    expect(s.status).to.equal('verified');
    expect(s.inference.hunks).to.have.length(3);
    expect(ruleCount(s.text)).to.equal(1);
    expect(s.text).to.match(/\/\/ a:\d+ => b:\d+; a:\d+ => b:\d+; a:\d+ => b:\d+\n/);
  });

  it('an extra getpid in the new version: nothing => getpid()', () => {
    const base = [read(0, 'x\n'), write(1, 'y\n')];
    const s = suggestRules(traceOf(base, 'a'), traceOf([base[0]!, getpid(), base[1]!], 'b'))!;
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal(['nothing => getpid()']);
  });

  it('a getpid the new version no longer makes: getpid() => nothing', () => {
    const base = [read(0, 'x\n'), write(1, 'y\n')];
    const s = suggestRules(traceOf([base[0]!, getpid(), base[1]!], 'a'), traceOf(base, 'b'))!;
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal(['getpid() => nothing']);
  });

  it('an extra log write in the new version is a follower-only rule the checker accepts (emulated)', () => {
    const base = [read(4, 'GET a\n'), write(4, 'VALUE 1\n')];
    const v2 = [base[0]!, write(2, 'log: GET a\n'), base[1]!];
    const s = suggestRules(traceOf(base, 'a'), traceOf(v2, 'b'))!;
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal(['nothing => write(_, "log: GET a\\n", _)']);
    const notes = checkRuleText(s.text).diagnostics;
    expect(notes.filter((d) => d.severity !== 'note')).to.deep.equal([]);
    expect(notes.map((d) => d.code)).to.include('MVR4003'); // "will be emulated, not executed"
  });

  it('a call dropped in one place and replaced in another: both rules, and no warning', () => {
    // The mapping rule is tried before the default match, the leader-only rule after it: neither
    // hides the other, whatever a checker comparing them in file order might think (MVR4001).
    const a = [write(1, 'a'), write(1, 'X'), write(1, 'b'), write(1, 'X'), write(1, 'c')];
    const b = [write(1, 'a'), write(1, 'b'), getpid(), write(1, 'c')];
    const s = suggestRules(traceOf(a, 'a'), traceOf(b, 'b'))!;
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal(['write(_, "X", _) => getpid()', 'write(_, "X", _) => nothing']);
    expect(problemsOf(s.text)).to.deep.equal([]);
  });

  it('follower-only hunks that start alike are written one rule per call', () => {
    // `nothing => close(3), getpid()` and `nothing => close(3), write(...)` would conflict (MVR4002).
    const a = [write(1, 'a'), write(1, 'b'), write(1, 'c')];
    const b = [write(1, 'a'), close(3), getpid(), write(1, 'b'), close(3), write(2, 'log'), write(1, 'c')];
    const s = suggestRules(traceOf(a, 'a'), traceOf(b, 'b'))!;
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal(['nothing => close(_)', 'nothing => getpid()', 'nothing => write(_, "log", _)']);
  });

  it('escapes non-printable bytes as \\xNN', () => {
    const s = suggestRules(traceOf([write(1, 'a\x01\xff"\\\n')], 'a'), traceOf([write(1, 'b\x00\n')], 'b'))!;
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal(['write(fd, "a\\x01\\xff\\"\\\\\\n", _) => write(fd, "b\\x00\\n", n) -> do { ret = n; }']);
  });

  it('a follower-only read is emulated with the bytes and result its trace shows (protocol data: a socket)', () => {
    const base = [write(1, 'start\n'), write(1, 'end\n')];
    const v2 = [base[0]!, { name: 'socket', args: [1, 1, 0], ret: 7 }, read(7, 'port=1\n', 512), base[1]!];
    const s = suggestRules(traceOf(base, 'a'), traceOf(v2, 'b'))!;
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal(['nothing => socket(1, 1, 0), read(_, "port=1\\n", 512)']);
  });

  it('file contents are never copied into rules: redacted to _ with a note, the result kept', () => {
    const base = [write(1, 'start\n'), write(1, 'end\n')];
    const v2 = [base[0]!, { name: 'openat', args: [-100, 0x1000, 0, 0], ret: 7, bufs: { 1: '/etc/kv.conf' } }, read(7, 'port=1\n', 512), base[1]!];
    const s = suggestRules(traceOf(base, 'a'), traceOf(v2, 'b'))!;
    expect(s.status).to.equal('verified');
    // openat's mode means nothing without O_CREAT: `_`.
    expect(ruleLines(s.text)).to.deep.equal(['nothing => openat(_, "/etc/kv.conf", 0, _) -> do { ret = 7; }, read(_, _, 512) -> do { ret = 7; }']);
    expect(s.text).to.contain('// note: the contents of /etc/kv.conf are redacted to _ (file contents read from the system are never copied into rules)');
    expect(s.text).not.to.contain('port=1');
  });

  it('identical traces (local calls aside): no rules', () => {
    const { v1 } = kvTraces([5]);
    const v1b = v1.map((e) => (e.name === 'futex' ? mmap(0x10) : e));
    const s = suggestRules(traceOf(v1, 'a'), traceOf(v1b, 'b'))!;
    expect(s.status).to.equal('identical');
    expect(ruleLines(s.text)).to.deep.equal([]);
    expect(s.text).to.contain('No differences');
  });

  it('a leader-only hunk longer than a rule can be (70 calls) is written one rule per call, and verifies', () => {
    const many = Array.from({ length: 70 }, (_, i) => write(2, `debug ${i}\n`));
    const s = suggestRules(traceOf([write(1, 'a\n'), ...many, write(1, 'b\n')], 'a'), traceOf([write(1, 'a\n'), write(1, 'b\n')], 'b'))!;
    expect(s.status, s.text).to.equal('verified');
    expect(errorsOf(s.text)).to.deep.equal([]);
  });

  it('rules that cannot reconcile the traces are still written, marked NOT VERIFIED', () => {
    // Outside the guaranteed class: the hunks' calls are also common calls, so the one-sided
    // rules fire at the wrong places.
    const s = suggestRules(traceOf(UNRECONCILED.leader, 'a'), traceOf(UNRECONCILED.follower, 'b'))!;
    expect(s.status).to.equal('unverified');
    expect(s.text).to.contain('NOT VERIFIED');
    expect(errorsOf(s.text)).to.deep.equal([]);
  });

  it('two threads: diffs each pair, the rules verify, and a hunk of thread 1 says so', () => {
    const exitT: Ev = { name: 'exit', args: [0] };
    const run = (worker: string, log: boolean): Ev[] => [
      write(1, 'main\n'),
      { name: 'clone3', args: [0x7000, 88], ret: 0 },
      { ...write(1, worker), thread: 1 },
      ...(log ? [{ ...write(2, 'started\n'), thread: 1 }] : []),
      { ...exitT, thread: 1 },
      write(1, 'done\n'),
    ];
    const s = suggestRules(traceOf(run('worker v1\n', false), 'a'), traceOf(run('worker v2\n', true), 'b'))!;
    expect(s.status, s.text).to.equal('verified');
    expect(s.inference.threadPairs).to.equal(2);
    expect(ruleLines(s.text)).to.deep.equal(['write(fd, "worker v1\\n", _) => write(fd, "worker v2\\n", _), write(_, "started\\n", _)']);
    expect(s.text).to.contain('// a:4 => b:4-5 (thread 1)\n');
    expect(s.verdict.threadPairs).to.equal(2);
    // a hunk repeated in the main thread and in the worker: one rule, both places
    const both = (w: string): Ev[] => [write(1, w), { name: 'clone3', args: [0x7000, 88], ret: 0 }, { ...write(1, w), thread: 1 }, { ...exitT, thread: 1 }];
    const s2 = suggestRules(traceOf(both('x\n'), 'a'), traceOf(both('y\n'), 'b'))!;
    expect(s2.status, s2.text).to.equal('verified');
    expect(ruleCount(s2.text)).to.equal(1);
    expect(s2.text).to.contain('// a:2 => b:2; a:4 => b:4 (thread 1)\n');
  });

  it('a thread only the new version starts gets no rule: NOT VERIFIED, saying which thread', () => {
    const base: Ev[] = [write(1, 'main\n'), getpid()];
    const s = suggestRules(traceOf(base, 'a'), traceOf([...base, { ...write(1, 'extra\n'), thread: 1 }], 'b'))!;
    expect(s.status).to.equal('unverified');
    expect(s.text).to.contain('no rule for a: nothing => b:4 (thread 1): thread 1 exists in the follower trace only');
    expect(s.verdict.findings.map((f) => f.kind)).to.deep.equal(['unpaired-thread']);
    expect(errorsOf(s.text)).to.deep.equal([]);
  });

  // ---- properties ----------------------------------------------------------------------------

  it('alignment: pairs are increasing, pair equal keys, and as many as a longest common subsequence', () => {
    const seq = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 30 });
    fc.assert(
      fc.property(seq, seq, (a, b) => {
        const pairs = alignSequences(a, b)!;
        for (let k = 0; k < pairs.length; k++) {
          const [i, j] = pairs[k]!;
          expect(a[i]).to.equal(b[j]);
          if (k > 0) {
            expect(i).to.be.greaterThan(pairs[k - 1]![0]);
            expect(j).to.be.greaterThan(pairs[k - 1]![1]);
          }
        }
        const L: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
        for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) L[i]![j] = a[i] === b[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
        expect(pairs.length).to.equal(L[0]![0]);
      }),
      { numRuns: 300 },
    );
  });

  // A small alphabet: calls that are equal, or differ only in an fd, a count or the bytes.
  const alphabet: Ev[] = [getpid(), write(1, 'a\n'), write(1, 'b\n'), write(2, 'a\n'), read(0, 'x\n', 64), read(0, 'y\n', 128), close(3), mmap(0x5000)];
  const evs = fc.array(fc.nat(alphabet.length - 1), { maxLength: 12 }).map((ix) => ix.map((i) => alphabet[i]!));

  it('property: for any pair of traces, the rules check with no error or warning and are in canonical form', () => {
    let verified = 0;
    fc.assert(
      fc.property(evs, evs, (a, b) => {
        const s = suggestRules(traceOf(a, 'a'), traceOf(b, 'b'))!;
        expect(problemsOf(s.text), s.text).to.deep.equal([]);
        expect(canonical(s.text)).to.equal(s.text);
        if (s.status === 'verified') verified++;
        // The verdict reported is the verdict of the text written.
        const again = verifyTraces(checkRuleText(s.text), comparedTrace(traceOf(a, 'a')), comparedTrace(traceOf(b, 'b')));
        expect(again.findings.length === 0, s.text).to.equal(s.status !== 'unverified');
      }),
      { numRuns: 300 },
    );
    expect(verified).to.be.greaterThan(0);
  });

  // The guaranteed class (docs/traces.md): the events that differ (in hunks) are calls that no
  // common event is and that no other hunk has unless it is the same hunk again; at least one
  // common event between hunks; at most 63 leader events per hunk.
  it('property: traces in the guaranteed class always verify', () => {
    const common: Ev[] = [getpid(), write(1, 'c\n'), read(0, 'in\n', 64), close(3)];
    // Events unique to hunk type t: leader side L, follower side F.
    const leaderEv = (t: number, k: number): Ev => (k % 2 === 0 ? write(1, `t${t} L${k}\n`) : { name: 'openat', args: [-100, 0x2000, 0, 0], ret: 4, bufs: { 1: `/t${t}/L${k}` } });
    const followerEv = (t: number, k: number): Ev => (k % 3 === 0 ? write(1, `t${t} F${k} longer\n`) : k % 3 === 1 ? read(10 + t, `t${t} data${k}`, 64 + k) : write(2, `t${t} log${k}\n`));
    const part = fc.array(fc.nat(5), { maxLength: 4 });
    const hunkType = fc.tuple(part, part).filter(([l, f]) => l.length + f.length > 0);
    const gen = fc.record({
      types: fc.array(hunkType, { minLength: 1, maxLength: 4 }),
      segments: fc.array(fc.record({ commons: fc.array(fc.nat(common.length - 1), { minLength: 1, maxLength: 3 }), hunk: fc.option(fc.nat(3)) }), { maxLength: 8 }),
      lead: fc.array(fc.nat(common.length - 1), { maxLength: 2 }),
      noise: fc.array(fc.nat(7), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(gen, ({ types, segments, lead, noise }) => {
        const a: Ev[] = lead.map((i) => common[i]!);
        const b: Ev[] = lead.map((i) => common[i]!);
        const used = new Set<number>();
        for (const seg of segments) {
          if (seg.hunk !== null) {
            const t = seg.hunk % types.length;
            used.add(t);
            const [l, f] = types[t]!;
            a.push(...l.map((k) => leaderEv(t, k)));
            b.push(...f.map((k) => followerEv(t, k)));
          }
          for (const i of seg.commons) {
            a.push(common[i]!);
            b.push({ ...common[i]!, args: common[i]!.args?.map((x, j) => (j === 1 && common[i]!.name !== 'close' ? Number(x) + 0x100 : x)) });
          }
        }
        // Local calls anywhere in the follower: ignored.
        for (const n of noise) b.splice(n % (b.length + 1), 0, mmap(0x9000 + n));
        const s = suggestRules(traceOf(a, 'a'), traceOf(b, 'b'))!;
        expect(s.status, `${s.text}\n${JSON.stringify(s.verdict.findings.map((f) => f.message))}`).to.equal(used.size === 0 ? 'identical' : 'verified');
        // a hunk whose calls the matcher would pair across different objects (a write to stdout
        // with one to stderr) is written as a leader-only and a follower-only rule
        expect(ruleCount(s.text)).to.be.at.most(2 * used.size);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- the command --------------------------------------------------------------------------------

describe('mvrc infer: large traces', function () {
  this.timeout(120_000);
  it('infers from 150,000 events a side without overflowing the stack (a spread push did at ~140k)', () => {
    const evs: Ev[] = [];
    for (let i = 0; i < 75_000; i++) evs.push(read(5, `GET k${i % 100}\n`), write(5, `v${i % 100}\n`));
    const follower = [...evs];
    follower[1001] = write(5, 'changed\n');
    const inf = inferRules(traceOf(evs, 'big-a.jsonl'), traceOf(follower, 'big-b.jsonl'));
    expect(inf).to.not.equal(null);
    expect(inf!.leaderEvents.length).to.equal(150_000);
    expect(inf!.rules.map((r) => r.text)).to.deep.equal(['write(fd, "v0\\n", _) => write(fd, "changed\\n", n) -> do { ret = n; }']);
  });
  it('infers from traces that differ in more events than Myers\' diff is given (it refused past 4,000)', () => {
    const a: Ev[] = [];
    const b: Ev[] = [];
    for (let i = 0; i < 600; i++) {
      a.push(getpid());
      b.push(getpid());
      for (let k = 0; k < 9; k++) {
        a.push(write(1, 'old\n'));
        b.push(write(1, 'new line\n'));
      }
    }
    const s = suggestRules(traceOf(a, 'wide-a.jsonl'), traceOf(b, 'wide-b.jsonl'));
    expect(s.status).to.equal('verified');
    expect(s.inference.hunks).to.have.length(600);
    expect(ruleCount(s.text)).to.equal(1);
    expect(s.text).to.contain('// applies at 600 places:');
  });
});

describe('mvrc infer: several pairs of traces', function () {
  this.timeout(60_000);
  const dir = tempDir('mvrc-infer-pairs-');
  const run = (stamp: string): Ev[] => [write(2, `started at ${stamp}\n`), read(0, 'x\n', 64), write(1, 'hi\n')];
  const old: Ev[] = [read(0, 'x\n', 64), write(1, 'hi\n')];
  for (const [name, evs] of [['a1', old], ['b1', run('10:01')], ['a2', old], ['b2', run('10:02')], ['a3', old], ['b3', run('10:03')]] as const) writeFileSync(join(dir, `${name}.jsonl`), jsonTrace(evs));

  it('keeps what holds on all pairs: a literal that differs between them becomes _, and the rules verify a third pair', () => {
    const one = mvrc(['infer', 'a1.jsonl', 'b1.jsonl', '-o', 'one.mvr'], { cwd: dir });
    expect(one.status, one.stderr).to.equal(0);
    expect(readFileSync(join(dir, 'one.mvr'), 'utf8')).to.contain('"started at 10:01\\n"');
    const both = mvrc(['infer', 'a1.jsonl', 'b1.jsonl', 'a2.jsonl', 'b2.jsonl', '-o', 'both.mvr'], { cwd: dir });
    expect(both.status, both.stderr).to.equal(0);
    expect(both.stderr).to.contain('verified: the rules reconcile the traces of all 2 pairs');
    const text = readFileSync(join(dir, 'both.mvr'), 'utf8');
    expect(ruleLines(text)).to.deep.equal(['nothing => write(_, _, _)']);
    expect(text).to.contain('// applies at 2 places in 2 of the 2 pairs:');
    expect(text).to.contain('// note: values that differ between the pairs of traces are _');
    expect(text).to.match(/leader \(old version\): +a2\.jsonl/);
    // a run neither pair is: the merged rules hold on it, the first pair's alone do not
    const third = (rules: string) => mvrc(['verify', rules, '--leader-trace', 'a3.jsonl', '--follower-trace', 'b3.jsonl'], { cwd: dir });
    expect(third('both.mvr').status).to.equal(0);
    expect(third('one.mvr').status).to.equal(1);
  });

  it('never generalises a string of the left side: it says when a rule applies (write(fd, _, _) => ... would take every write)', () => {
    const lead = (port: string): Ev[] => [write(1, `listening on ${port}\n`), read(0, 'x\n', 64), write(1, 'hi\n')];
    const follow = (port: string): Ev[] => [write(1, `listening on ${port}\n`), read(0, 'x\n', 64), write(1, 'hi\n')];
    const pairs = [
      { leader: traceOf(lead('1001'), 'p1a'), follower: traceOf(follow('2001'), 'p1b') },
      { leader: traceOf(lead('1002'), 'p2a'), follower: traceOf(follow('2002'), 'p2b') },
    ];
    const s = suggestRulesFor(pairs);
    expect(s.status).to.equal('verified');
    expect(ruleLines(s.text)).to.deep.equal([
      'write(fd, "listening on 1001\\n", _) => write(fd, "listening on 2001\\n", _)',
      'write(fd, "listening on 1002\\n", _) => write(fd, "listening on 2002\\n", _)',
    ]);
  });

  it('traces come in pairs: an odd count is a usage error', () => {
    const r = mvrc(['infer', 'a1.jsonl', 'b1.jsonl', 'a2.jsonl'], { cwd: dir });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain('traces come in pairs');
  });

  it('warns when the traces have little in common (MVR9015: two different programs), not for two versions of one', async () => {
    const { run: inferRun } = await import('../compiler/cli/infer.ts');
    const ls: Ev[] = Array.from({ length: 30 }, (_, i) => write(1, `file${i}\n`));
    const cat: Ev[] = Array.from({ length: 30 }, (_, i) => read(0, `line ${i}\n`, 4096));
    writeFileSync(join(dir, 'ls.jsonl'), jsonTrace(ls, ['ls']));
    writeFileSync(join(dir, 'cat.jsonl'), jsonTrace(cat, ['cat']));
    const stderrOf = async (a: string, b: string): Promise<string> => {
      let err = '';
      await inferRun([a, b], { stdout: () => {}, stderr: (t) => void (err += t), cwd: dir, isTTY: false, env: {} });
      return err;
    };
    expect(await stderrOf('ls.jsonl', 'cat.jsonl')).to.match(/cat\.jsonl:1:1: warning MVR9015: the traces have little in common: 0 of the leader's 30 events and 0 of the follower's 30 calls/);
    const { v1, v2 } = kvTraces([5, 6, 7, 8, 9]);
    writeFileSync(join(dir, 'kv1.jsonl'), jsonTrace(v1, ['./kv']));
    writeFileSync(join(dir, 'kv2.jsonl'), jsonTrace(v2, ['./kv']));
    expect(await stderrOf('kv1.jsonl', 'kv2.jsonl')).not.to.contain('MVR9015');
  });

  it('shows progress on a terminal only (stderr), never in the rules or on a pipe', async () => {
    const { run: inferRun } = await import('../compiler/cli/infer.ts');
    const capture = async (isTTY: boolean): Promise<{ out: string; err: string }> => {
      let out = '';
      let err = '';
      await inferRun(['a1.jsonl', 'b1.jsonl', 'a2.jsonl', 'b2.jsonl'], { stdout: (t) => void (out += t), stderr: (t) => void (err += t), cwd: dir, isTTY, env: {} });
      return { out, err };
    };
    const tty = await capture(true);
    expect(tty.err).to.match(/\r\x1b\[Kmvrc infer: (reading|form \d\/4: aligning pair)/);
    expect(tty.out).not.to.contain('mvrc infer:');
    const pipe = await capture(false);
    expect(pipe.err).not.to.contain('\r');
    expect(pipe.err).not.to.contain('mvrc infer: reading');
  });
});

describe('mvrc infer: rules users can trust', function () {
  this.timeout(60_000);
  const dir = tempDir('mvrc-infer-trust-');
  const EXIT = 'exit_group(0) = ?\n+++ exited with 0 +++\n';
  const strace = (name: string, lines: string[]): string => {
    writeFileSync(join(dir, name), `execve("./p", ["./p"], 0x7ffc /* 3 vars */) = 0\n${lines.join('\n')}\n${EXIT}`);
    return name;
  };

  it('never copies the environment or a secret into the rules: redacted to _, with a note', () => {
    const a = strace('env-a.strace', ['write(1, "hi\\n", 3) = 3']);
    const b = strace('env-b.strace', [
      'openat(AT_FDCWD, "/proc/self/environ", O_RDONLY|O_CLOEXEC) = 3',
      'read(3, "HOME=/root\\x00SECRET=hunter2-xyz\\x00", 4096) = 29',
      'close(3) = 0',
      'write(1, "hi\\n", 3) = 3',
      'write(2, "token: hunter2-xyz\\n", 19) = 19',
    ]);
    const r = mvrc(['infer', a, b, '-o', 'env.mvr'], { cwd: dir });
    const rules = readFileSync(join(dir, 'env.mvr'), 'utf8');
    expect(rules).not.to.contain('hunter2');
    expect(rules).not.to.contain('HOME=');
    expect(rules).to.contain('// note: the environment read from /proc/self/environ is redacted to _ (environment contents are never copied into rules)');
    expect(rules).to.contain('// note: a value holding a secret the traces show (an environment variable, a key, a password) is redacted to _');
    expect(r.stdout + r.stderr).not.to.contain('hunter2');
    // what the program writes that is no secret is still copied
    const c = strace('env-c.strace', ['write(1, "hi\\n", 3) = 3', 'write(2, "token: none\\n", 12) = 12']);
    mvrc(['infer', a, c, '-o', 'plain.mvr'], { cwd: dir });
    expect(readFileSync(join(dir, 'plain.mvr'), 'utf8')).to.contain('"token: none\\n"');
  });

  it('pids, timeouts and strace\'s stand-ins for unknown constants become _', () => {
    const a = strace('v-a.strace', ['write(1, "hi\\n", 3) = 3']);
    const b = strace('v-b.strace', [
      'kill(4242, SIGTERM) = 0',
      'nanosleep({tv_sec=0, tv_nsec=250000000}, NULL) = 0',
      'ioctl(1, TCGETS, {c_iflag=ICRNL}) = 0',
      'fcntl(1, F_GETFL) = 0x2 (flags O_RDWR)',
      'epoll_wait(5, [], 64, 1234) = 0',
      'write(1, "hi\\n", 3) = 3',
    ]);
    const r = mvrc(['infer', a, b], { cwd: dir });
    expect(r.stdout).to.match(/kill\(_, 15\)/);
    expect(r.stdout).to.match(/epoll_wait\(_, _, 64, _\)/);
    expect(r.stdout).not.to.contain('4242');
    expect(r.stdout).not.to.contain('1234');
    expect(r.stdout).not.to.match(/\d{15,}/); // no 64-bit hash of a name
  });

  it('does not pair calls about different files: openat(locale-archive), openat(locale.alias) => openat("in1.txt") is no rule', () => {
    const a = strace('loc-a.strace', [
      'openat(AT_FDCWD, "/usr/lib/locale/locale-archive", O_RDONLY|O_CLOEXEC) = 3',
      'close(3) = 0',
      'openat(AT_FDCWD, "/usr/share/locale/locale.alias", O_RDONLY|O_CLOEXEC) = 3',
      'close(3) = 0',
      'write(1, "hi\\n", 3) = 3',
    ]);
    const b = strace('loc-b.strace', ['openat(AT_FDCWD, "in1.txt", O_RDONLY) = 3', 'close(3) = 0', 'write(1, "hi\\n", 3) = 3']);
    const r = mvrc(['infer', a, b], { cwd: dir });
    const lines = r.stdout.replace(/\n {4}/g, ' ').split('\n').filter((l) => l && !l.startsWith('//'));
    expect(lines.some((l) => /locale.*=>.*in1\.txt/.test(l)), r.stdout).to.equal(false);
    expect(lines.some((l) => /^nothing => openat\(_, "in1\.txt"/.test(l)), r.stdout).to.equal(true);
    expect(lines.some((l) => /locale-archive.*=> nothing/.test(l)), r.stdout).to.equal(true);
  });

  it('aligns reads by the file their descriptor was opened from, not by its number', () => {
    // v2 reads another file on descriptor 3 where v1 read its config: not the same call.
    const a = strace('fd-a.strace', ['openat(AT_FDCWD, "a.conf", O_RDONLY) = 3', 'read(3, "x=1\\n", 64) = 4', 'close(3) = 0', 'write(1, "hi\\n", 3) = 3']);
    const b = strace('fd-b.strace', ['openat(AT_FDCWD, "b.conf", O_RDONLY) = 3', 'read(3, "x=1\\n", 64) = 4', 'close(3) = 0', 'write(1, "hi\\n", 3) = 3']);
    const ta = traceFile(join(dir, a));
    const tb = traceFile(join(dir, b));
    const inf = inferRules(ta, tb)!;
    // the reads are in the hunk with their openat (one hunk), not aligned with each other
    expect(inf.hunks).to.have.length(2);
    expect(inf.hunks.map((h) => [h.leader.map((e) => e.name), h.follower.map((e) => e.name)])).to.deep.equal([
      [['openat', 'read', 'close'], []],
      [[], ['openat', 'read', 'close']],
    ]);
  });
});

describe('mvrc infer (CLI)', () => {
  const dir = tempDir('mvrc-infer-');
  const { v1, v2 } = kvTraces([5, 6]);
  writeFileSync(join(dir, 'v1.jsonl'), jsonTrace(v1, ['./kv-v1']));
  writeFileSync(join(dir, 'v2.jsonl'), jsonTrace(v2, ['./kv-v2']));

  it('-o writes the rule file; it verifies, and mvrc check and fmt --check accept it', () => {
    const r = mvrc(['infer', 'v1.jsonl', 'v2.jsonl', '-o', 'kv.mvr'], { cwd: dir });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/^inferred 1 rule from 2 differing hunks; verified: the rules reconcile the two traces \(written to kv\.mvr\)\n$/);
    const text = readFileSync(join(dir, 'kv.mvr'), 'utf8');
    expect(ruleLines(text)).to.deep.equal(['write(fd, "ERROR unknown command\\n", _) => write(fd, "OK\\n", n) -> do { ret = n; }']);
    expect(text).to.contain('./kv-v1');
    const c = mvrc(['check', 'kv.mvr'], { cwd: dir });
    expect(c.status, c.stderr).to.equal(0);
    expect(c.stderr).to.contain('1 rule, no errors');
    expect(mvrc(['fmt', '--check', 'kv.mvr'], { cwd: dir }).status).to.equal(0);
  });

  it('without -o the rules go to stdout', () => {
    const r = mvrc(['infer', 'v1.jsonl', 'v2.jsonl'], { cwd: dir });
    expect(r.status, r.stderr).to.equal(0);
    expect(ruleCount(r.stdout)).to.equal(1);
    expect(r.stderr).to.contain('verified: the rules reconcile the two traces');
  });

  it('identical traces: no differences, no rules, exit 0', () => {
    const r = mvrc(['infer', 'v1.jsonl', 'v1.jsonl'], { cwd: dir });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/^no differences: the default match reconciles the traces/);
    expect(ruleLines(r.stdout)).to.deep.equal([]);
  });

  it('rules that do not verify: exit 1, written anyway, with the finding', () => {
    writeFileSync(join(dir, 'long-a.jsonl'), jsonTrace(UNRECONCILED.leader));
    writeFileSync(join(dir, 'long-b.jsonl'), jsonTrace(UNRECONCILED.follower));
    const r = mvrc(['infer', 'long-a.jsonl', 'long-b.jsonl', '-o', 'long.mvr'], { cwd: dir });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('not verified: the rules do not reconcile the two traces');
    expect(r.stderr).to.match(/error MVR41\d\d/);
    expect(readFileSync(join(dir, 'long.mvr'), 'utf8')).to.contain('NOT VERIFIED');
    expect(r.stderr).not.to.contain('internal error');
  });

  it('reads strace output (strace -f -s 4096 -xx), local calls and all', () => {
    const xx = (t: string): string => `"${[...Buffer.from(t, 'latin1')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}"`;
    const strace = (reply: string, extra: string[]): string =>
      [
        `4711  execve("./kv", ["./kv"], 0x7ffc8a5e0f18 /* 20 vars */) = 0`,
        `4711  brk(NULL)                         = 0x55d0c1a2e000`,
        `4711  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f2a1c000000`,
        ...extra,
        `4711  read(5, ${xx('PUT-number k 1\n')}, 4096) = 15`,
        `4711  write(5, ${xx(reply)}, ${reply.length}) = ${reply.length}`,
        `4711  close(5)                          = 0`,
        `4711  exit_group(0)                     = ?`,
        `4711  +++ exited with 0 +++`,
      ].join('\n') + '\n';
    writeFileSync(join(dir, 'v1.strace'), strace('ERROR unknown command\n', []));
    writeFileSync(join(dir, 'v2.strace'), strace('OK\n', [`4711  getpid()                          = 4711`]));
    const r = mvrc(['infer', 'v1.strace', 'v2.strace'], { cwd: dir });
    expect(r.status, r.stderr).to.equal(0);
    expect(ruleLines(r.stdout)).to.deep.equal(['write(fd, "ERROR unknown command\\n", _) => write(fd, "OK\\n", n) -> do { ret = n; }', 'nothing => getpid()']);
    expect(r.stdout).to.contain('// v1.strace:5 => v2.strace:6\n');
    expect(r.stderr).to.contain('inferred 2 rules from 2 differing hunks; verified');
  });

  it('bad usage exits 2 with a message and the usage line', () => {
    for (const args of [['infer'], ['infer', 'v1.jsonl'], ['infer', 'a', 'b', 'c'], ['infer', '--bogus', 'a', 'b']]) {
      const r = mvrc(args, { cwd: dir });
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr).to.match(/^mvrc infer: error: .+\nUsage: mvrc infer /);
    }
    expect(mvrc(['infer', 'v1.jsonl'], { cwd: dir }).stderr).to.contain('two traces are needed');
  });

  it('an unreadable trace is a diagnostic (exit 2 when missing, 1 when not a trace)', () => {
    const missing = mvrc(['infer', 'nope.jsonl', 'v2.jsonl', '-o', 'x.mvr'], { cwd: dir });
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/nope\.jsonl.*error MVR9001/);
    expect(existsSync(join(dir, 'x.mvr'))).to.equal(false);
    mkdirSync(join(dir, 'adir'), { recursive: true });
    expect(mvrc(['infer', 'v1.jsonl', 'adir'], { cwd: dir }).status).to.equal(2);
    writeFileSync(join(dir, 'bad.jsonl'), '{"mvrcTrace":1}\n{"name":"write","args":[1,2,3],"ret":"x"}\n');
    const bad = mvrc(['infer', 'v1.jsonl', 'bad.jsonl'], { cwd: dir });
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/bad\.jsonl:2:1: error MVR9006/);
    expect(bad.stdout).to.equal('');
  });
});

// ---- values that differ between runs inside written bytes (compiler/traces/varying.ts) ----------

describe('mvrc infer: pids and times inside log lines', () => {
  const pidOf = (pid: number): Ev => ({ name: 'getpid', ret: pid });
  const log = (pid: number, time: string, tag: string, msg: string): Ev => write(1, `${pid}:${tag} 07 Dec 2026 ${time} ${msg}\n`);
  const run = (pid: number, times: string[], msgs: string[], last = msgs): Ev[] => [pidOf(pid), log(pid, times[0]!, 'C', msgs[0]!), pidOf(pid), log(pid, times[1]!, 'M', last[1]!), read(0, 'x\n'), write(1, 'done\n')];

  it('lines that differ in the pid and the time only: one rule comparing the tag and the message, verified on another run', () => {
    const msgs = ['# Server initialized', '* Ready to accept connections'];
    const a = traceOf((run(6060, ['18:02:39.860', '18:02:39.861'], msgs)), 'a.jsonl');
    const b = traceOf((run(6070, ['18:02:40.102', '18:02:40.105'], msgs)), 'b.jsonl');
    const s = suggestRules(a, b);
    expect(s.status, s.text).to.equal('verified');
    expect(ruleLines(s.text).join(' ')).to.not.match(/6060|6070|18:02/);
    expect(ruleCount(s.text)).to.equal(1);
    // another run of both versions (other pids, other times, a pid of another length): verified
    const c = traceOf((run(912, ['09:15:00.001', '09:15:00.002'], msgs)), 'c.jsonl');
    const d = traceOf((run(10001, ['09:15:01.500', '09:15:01.900'], msgs)), 'd.jsonl');
    expect(verifyTraces(s.program, comparedTrace(c), comparedTrace(d)).findings).to.deep.equal([]);
    // a follower whose message differs is not let through
    const e = traceOf((run(10001, ['09:15:01.500', '09:15:01.900'], msgs, ['', '* Ready to refuse connections'])), 'e.jsonl');
    expect(verifyTraces(s.program, comparedTrace(c), comparedTrace(e)).findings).to.have.length(1);
  });

  it("a log line only the new version writes, holding its pid: a guard on the text around the pid, verified on another run", () => {
    const v1 = (): Ev[] => [read(0, 'x\n'), write(1, 'done\n')];
    const v2 = (pid: number): Ev[] => [pidOf(pid), write(2, `v2 pid ${pid}\n`), read(0, 'x\n'), write(1, 'done\n')];
    const s = suggestRules(traceOf(v1(), 'a.jsonl'), traceOf(v2(6070), 'b.jsonl'));
    expect(s.status, s.text).to.equal('verified');
    expect(ruleLines(s.text).join(' ')).to.not.contain('6070');
    expect(verifyTraces(s.program, comparedTrace(traceOf(v1(), 'c.jsonl')), comparedTrace(traceOf(v2(10001), 'd.jsonl'))).findings).to.deep.equal([]);
    // another line there is not let through
    const other = traceOf([pidOf(10001), write(2, 'v2 uid 10001\n'), read(0, 'x\n'), write(1, 'done\n')], 'e.jsonl');
    expect(verifyTraces(s.program, comparedTrace(traceOf(v1(), 'c.jsonl')), comparedTrace(other)).findings).to.have.length(1);
  });

  it('a line that differs in another number (not a pid, not a time) keeps its literals', () => {
    const a = traceOf(([pidOf(6060), write(1, 'keys: 5\n'), write(1, 'done\n')]), 'a.jsonl');
    const b = traceOf(([pidOf(6070), write(1, 'keys: 6\n'), write(1, 'done\n')]), 'b.jsonl');
    const s = suggestRules(a, b);
    expect(ruleLines(s.text)).to.deep.equal(['write(fd, "keys: 5\\n", _) => write(fd, "keys: 6\\n", _)']);
  });
});
