// The native mvrc verify (the compiled rule module driven over the traces, compiler/traces/native.ts)
// against the reference interpreter (verifyStreams): on the same traces and rules they give the
// same findings — kind, message, the follower and leader lines, rule, leftover count — and the
// same counts and rules used. Cases: the verify tests' kv runs and rule files, leader-only runs
// longer than a matcher step, expected divergences, threads; then random traces and rule sets.
import { expect } from 'chai';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { loadProgram } from '../compiler/check/program.ts';
import type { Program } from '../compiler/check/program-types.ts';
import { buildAutomaton } from '../compiler/lower/automaton.ts';
import { syscallByName } from '../compiler/syscalls/lookup.ts';
import { verifyStreamsNative } from '../compiler/traces/native.ts';
import { TraceStream, verifyStreams, type StreamVerifyResult } from '../compiler/traces/stream.ts';
import { buildVerifier } from '../codegen-c/verify-build.ts';
import { REPO, tempDir } from './helpers/cli.ts';

interface Ev {
  name: string;
  args: (number | string)[];
  ret?: number;
  bufs?: Record<number, string>;
  noret?: boolean;
}
const read = (data: string, fd = 5): Ev => ({ name: 'read', args: [fd, 4096, 16384], ret: Buffer.byteLength(data), bufs: { 1: data } });
const write = (data: string, fd = 5): Ev => ({ name: 'write', args: [fd, 8192, Buffer.byteLength(data)], ret: Buffer.byteLength(data), bufs: { 1: data } });
const close = (fd = 5): Ev => ({ name: 'close', args: [fd], ret: 0 });
const exit = (): Ev => ({ name: 'exit_group', args: [0], noret: true });
const getpid = (): Ev => ({ name: 'getpid', args: [], ret: 7 });

/** A JSON-lines trace of [thread, event] in file order (docs/traces.md). */
function traceText(events: (Ev | [number, Ev])[]): string {
  const lines = [JSON.stringify({ mvrcTrace: 1, command: ['./kv'], arch: 'x86_64' })];
  const next = new Map<number, number>();
  for (const item of events) {
    const [thread, e] = Array.isArray(item) ? item : [0, item];
    const i = next.get(thread) ?? 0;
    next.set(thread, i + 1);
    const o: Record<string, unknown> = { thread, i, nr: syscallByName(e.name)!.nr, name: e.name, args: e.args };
    if (e.ret !== undefined) o.ret = e.ret;
    if (e.noret) o.noret = true;
    if (e.bufs) o.bufs = Object.fromEntries(Object.entries(e.bufs).map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
    lines.push(JSON.stringify(o));
  }
  lines.push(JSON.stringify({ end: true, status: 0 }));
  return lines.join('\n') + '\n';
}

const LEADER = [read('PUT k v\n'), write('OK\n'), read('PUT-number k 1\n'), write('ERROR unknown command\n'), close(), exit()];
const FOLLOWER_NATIVE = [read('PUT k v\n'), write('OK\n'), read('PUT-number k 1\n'), write('OK\n'), close(), exit()];
const FOLLOWER_UNDER_RULES = [read('PUT k v\n'), write('OK\n'), read('bad-cmd\n'), write('ERROR unknown command\n'), close(), exit()];
const logs = (from: number, n = 100): Ev[] => Array.from({ length: n }, (_, i) => write(`log ${from + i}\n`, 2));
const clone3: Ev = { name: 'clone3', args: [0x7ffd0000, 88], noret: true };
const twoThreads = (line: string, mainLine = 'main\n'): [number, Ev][] => [[0, write(mainLine, 1)], [0, clone3], [1, write(line, 1)], [1, { name: 'exit', args: [0], noret: true }], [0, exit()]];

describe('native mvrc verify gives the reference interpreter findings', function () {
  this.timeout(600_000);
  const dir = tempDir('mvrc-verify-native-');
  const put = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return name;
  };
  const programs = new Map<string, { program: Program; exe: string }>();
  const rules = (name: string, text: string): { program: Program; exe: string } => {
    const key = `${name}\n${text}`;
    let p = programs.get(key);
    if (!p) {
      put(name, text);
      const program = loadProgram([join(dir, name)], { cwd: dir });
      expect(program.diagnostics.filter((d) => d.severity === 'error'), text).to.deep.equal([]);
      const b = buildVerifier(program, buildAutomaton(program), { cwd: dir });
      expect(b.diagnostics, text).to.deep.equal([]);
      p = { program, exe: b.exe! };
      programs.set(key, p);
    }
    return p;
  };
  const open = (name: string): TraceStream => TraceStream.open(join(dir, name), new DiagnosticBag(), name)!;
  const key = (r: StreamVerifyResult) => ({
    findings: r.findings.map((x) => [x.kind, x.message, x.rule, x.follower?.span.offset, x.follower?.index, x.leader?.span.offset, x.leader?.index, x.count, x.pair?.index, x.ruleAt?.line]),
    followerCalls: r.followerCalls,
    leaderEvents: r.leaderEvents,
    threadPairs: r.threadPairs,
    rulesUsed: r.rulesUsed,
    complete: r.complete,
  });
  /** Both engines on one pair of traces; returns the (equal) verdict. */
  const both = async (r: { program: Program; exe: string }, l: string, f: string, keepGoing = false): Promise<ReturnType<typeof key>> => {
    const ref = verifyStreams(r.program, open(l), open(f), { keepGoing });
    const nat = await verifyStreamsNative(r.program, open(l), open(f), { keepGoing, exe: r.exe, reopen: (side) => open(side === 'leader' ? l : f) });
    expect(key(nat)).to.deep.equal(key(ref));
    return key(nat);
  };

  const none = (): { program: Program; exe: string } => rules('none.mvr', '// the default match only\n');
  const leader = put('leader.jsonl', traceText(LEADER));
  put('copy.jsonl', traceText(LEADER));
  put('native.jsonl', traceText(FOLLOWER_NATIVE));

  it('the kv runs: identical, diverging, reconciled by forward.mvr, not recorded under the rules', async () => {
    expect((await both(none(), leader, 'copy.jsonl')).findings).to.deep.equal([]);
    const div = await both(none(), leader, 'native.jsonl');
    expect(div.findings.map((x) => x[0])).to.deep.equal(['divergence']);
    const forward = { program: loadProgram([join(REPO, 'examples/kv/forward.mvr')], { cwd: REPO }), exe: '' };
    forward.exe = buildVerifier(forward.program, buildAutomaton(forward.program), { cwd: REPO }).exe!;
    expect((await both(forward, leader, put('under.jsonl', traceText(FOLLOWER_UNDER_RULES)))).findings).to.deep.equal([]);
    const stale = await both(forward, leader, 'native.jsonl');
    expect(stale.findings.map((x) => x[0])).to.deep.equal(['stale-follower']);
  });

  it('leader-only runs longer than a step, before the next call and at the end; leftover leader events', async () => {
    const chatty = put('chatty.jsonl', traceText([...LEADER.slice(0, -1), ...logs(0), exit(), ...logs(100)]));
    const quiet = rules('quiet.mvr', 'write(2, _, _) => nothing\n');
    const ok = await both(quiet, chatty, 'leader.jsonl');
    expect([ok.findings, ok.leaderEvents, ok.rulesUsed]).to.deep.equal([[], 206, [-1, 0]]);
    const left = await both(none(), chatty, 'leader.jsonl');
    expect(left.findings.map((x) => [x[0], x[7]])).to.deep.equal([['divergence', undefined]]);
    const leftover = await both(none(), leader, put('short.jsonl', traceText(LEADER.slice(0, 3))));
    expect(leftover.findings.map((x) => [x[0], x[7]])).to.deep.equal([['leftover', 3]]);
  });

  it('expected divergences, typed guards and callbacks, emulated calls', async () => {
    const diverge = rules('diverge.mvr', 'read(_, s, _) if (s.startsWith("PUT-")) => diverge "typed commands have no v1 meaning"\n');
    expect((await both(diverge, leader, 'native.jsonl')).findings.map((x) => x[0])).to.deep.equal(['expected-divergence']);
    const atEnd = rules('diverge-end.mvr', 'write(5, "ERROR unknown command\\n", _) => diverge "gone"\n');
    expect((await both(atEnd, leader, put('short.jsonl', traceText(LEADER.slice(0, 3))))).findings.map((x) => x[0])).to.deep.equal(['expected-divergence']);
    const typed = rules('typed.mvr', 'write(fd, s, n) if (s == "ERROR unknown command\\n") => write(fd, _, _) -> do { ret = 3; }\n');
    expect((await both(typed, leader, 'native.jsonl')).findings).to.deep.equal([]);
    const emul = rules('emul.mvr', 'nothing => getpid() -> do { ret = 7; }\n');
    expect((await both(emul, leader, put('pid.jsonl', traceText([getpid(), ...LEADER])))).findings).to.deep.equal([]);
    const wrongRet = rules('emul9.mvr', 'nothing => getpid() -> do { ret = 9; }\n');
    expect((await both(wrongRet, leader, 'pid.jsonl')).findings.map((x) => x[0])).to.deep.equal(['stale-follower']);
  });

  it('C guards and callbacks run (the interpreter cannot: it reports MVR4103)', async () => {
    const cg = rules('cguard.mvr', 'write(_, _, _) {{ return 1; }} => write(_, _, _)\n');
    const nat = await verifyStreamsNative(cg.program, open(leader), open('copy.jsonl'), { exe: cg.exe, reopen: (s) => open(s === 'leader' ? leader : 'copy.jsonl') });
    expect([nat.findings, nat.rulesUsed]).to.deep.equal([[], [-1, 0]]);
    expect(verifyStreams(cg.program, open(leader), open('copy.jsonl')).findings.map((x) => x.kind)).to.deep.equal(['c-block']);
    // a C callback that gives the follower the leader's reply length: the changed write verifies
    const cb = rules('ccb.mvr', 'write(5, "ERROR unknown command\\n", _) => write(5, "OK\\n", _) -> (ret) { $(ret) = 3; }\n');
    const r = await verifyStreamsNative(cb.program, open(leader), open('native.jsonl'), { exe: cb.exe, reopen: (s) => open(s === 'leader' ? leader : 'native.jsonl') });
    expect(r.findings).to.deep.equal([]);
    const cb2 = rules('ccb2.mvr', 'write(5, "ERROR unknown command\\n", _) => write(5, "OK\\n", _) -> (ret) { $(ret) = 4; }\n');
    const r2 = await verifyStreamsNative(cb2.program, open(leader), open('native.jsonl'), { exe: cb2.exe, reopen: (s) => open(s === 'leader' ? leader : 'native.jsonl') });
    expect(r2.findings.map((x) => [x.kind, x.message])).to.deep.equal([['stale-follower', 'the rules give the follower the result 4 but its trace shows 3']]);
  });

  it('threads: pairs by creation order, a finding per pair with --keep-going, unpaired threads', async () => {
    const a = put('t-a.jsonl', traceText(twoThreads('worker\n')));
    expect((await both(none(), a, put('t-same.jsonl', traceText(twoThreads('worker\n'))))).findings).to.deep.equal([]);
    const b = put('t-b.jsonl', traceText(twoThreads('worker v2\n', 'main v2\n')));
    expect((await both(none(), a, b)).findings).to.have.length(1);
    expect((await both(none(), a, b, true)).findings.map((x) => x[8])).to.deep.equal([0, 1]);
    const one = put('t-one.jsonl', traceText([[0, write('main\n', 1)], [0, clone3], [0, exit()]]));
    expect((await both(none(), one, a, true)).findings.map((x) => x[0])).to.deep.equal(['unpaired-thread']);
  });

  it('large traces: a finding far behind the last events sent (read again from the file), and one near the start', async () => {
    const serve = (n: number, answer = (i: number): string => `OK ${i}\n`): Ev[] => {
      const out: Ev[] = [];
      for (let i = 0; i < n; i++) out.push(read(`GET k${i}\n`), write(answer(i)));
      return out;
    };
    const big = put('big.jsonl', traceText([...serve(20_000), close(), exit()]));
    // the follower stops early: 39,900 leader events are left over, the first of them long sent
    const left = await both(none(), big, put('big-short.jsonl', traceText(serve(50))));
    expect(left.findings.map((x) => [x[0], x[6], x[7]])).to.deep.equal([['leftover', 100n, 39_902]]);
    const early = await both(none(), big, put('big-early.jsonl', traceText([...serve(20_000, (i) => (i === 3 ? 'ERR\n' : `OK ${i}\n`)), close(), exit()])));
    expect(early.findings.map((x) => [x[0], x[4]])).to.deep.equal([['divergence', 7n]]);
  });

  it('property: random traces and rule sets give the same verdicts', async () => {
    const ruleSets = [
      '// none\n',
      'write(_, "x", _) => write(_, "yy", _)\n',
      'read(_, "a", _) => nothing\nnothing => close(_)\n',
      'getpid() => diverge "pid"\n',
      'write(fd, s, _) if (s == "x") => write(fd, _, _) -> do { ret = 2; }\n',
      'read(_, _, _), read(_, _, _) => read(_, _, _)\n',
      'write(_, _, _) {{ return 1; }} => write(_, _, _)\n',
    ].map((t, i) => rules(`p${i}.mvr`, t));
    const evs = fc.array(
      fc.oneof(
        fc.constantFrom('a', 'b', 'cc').map((d) => read(d)),
        fc.constantFrom('x', 'yy').map((d) => write(d)),
        fc.constant(close()),
        fc.constant(getpid()),
      ),
      { maxLength: 12 },
    );
    await fc.assert(
      fc.asyncProperty(evs, evs, fc.nat(ruleSets.length - 1), fc.boolean(), async (le, fe, ri, keep) => {
        put('p-l.jsonl', traceText([...le, exit()]));
        put('p-f.jsonl', traceText([...fe, exit()]));
        const rs = ruleSets[ri]!;
        if (ri === ruleSets.length - 1) {
          // C guard: the interpreter cannot run it; compare with the same rule as a typed guard
          const typed = rules('p-typed.mvr', 'write(_, _, _) if (true) => write(_, _, _)\n');
          const ref = verifyStreams(typed.program, open('p-l.jsonl'), open('p-f.jsonl'), { keepGoing: keep });
          const nat = await verifyStreamsNative(rs.program, open('p-l.jsonl'), open('p-f.jsonl'), { keepGoing: keep, exe: rs.exe, reopen: (s) => open(s === 'leader' ? 'p-l.jsonl' : 'p-f.jsonl') });
          const k = (r: StreamVerifyResult) => ({ ...key(r), findings: key(r).findings.map((x) => [x[0], String(x[1]).replace(/p-typed\.mvr|p6\.mvr/, 'F'), ...x.slice(2)]) });
          expect(k(nat)).to.deep.equal(k(ref));
          return;
        }
        await both(rs, 'p-l.jsonl', 'p-f.jsonl', keep);
      }),
      { numRuns: 120 },
    );
  });
});
