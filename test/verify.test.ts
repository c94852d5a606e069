// mvrc verify: rules checked against two recorded runs. The kv example (kv-v1 answers a typed
// `PUT-number k 1` with `ERROR unknown command`, kv-v2 with `OK`) as JSON-lines traces written
// here; then two real runs recorded with strace.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { loadProgram } from '../compiler/check/program.ts';
import { syscallByName } from '../compiler/syscalls/lookup.ts';
import { parseJsonTrace } from '../compiler/traces/trace.ts';
import { verifyTraces } from '../compiler/traces/verify.ts';
import { TraceStream, verifyStreams } from '../compiler/traces/stream.ts';
import fc from 'fast-check';
import { mvrc, REPO, tempDir, type CliResult } from './helpers/cli.ts';

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

/** A JSON-lines trace (docs/traces.md): header, the events of thread 0, the end line. */
function traceText(events: Ev[], command = ['./kv']): string {
  const lines = [JSON.stringify({ mvrcTrace: 1, command, arch: 'x86_64' })];
  events.forEach((e, i) => {
    const o: Record<string, unknown> = { thread: 0, i, nr: syscallByName(e.name)!.nr, name: e.name, args: e.args };
    if (e.ret !== undefined) o.ret = e.ret;
    if (e.noret) o.noret = true;
    if (e.bufs) o.bufs = Object.fromEntries(Object.entries(e.bufs).map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
    lines.push(JSON.stringify(o));
  });
  lines.push(JSON.stringify({ end: true, status: 0 }));
  return lines.join('\n') + '\n';
}

/** A JSON-lines trace of several threads: [thread, event] in file order, indexed per thread. */
function threadsText(events: [number, Ev][]): string {
  const lines = [JSON.stringify({ mvrcTrace: 1, command: ['./prog'], arch: 'x86_64' })];
  const next = new Map<number, number>();
  for (const [thread, e] of events) {
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

/** A main thread that starts a worker (ring 1) which writes `line`, joins it and exits. */
function twoThreads(line: string, extra: [number, Ev][] = []): [number, Ev][] {
  const clone3: Ev = { name: 'clone3', args: [0x7ffd0000, 88], noret: true };
  return [[0, write('main\n', 1)], [0, clone3], [1, write(line, 1)], [1, { name: 'exit', args: [0], noret: true }], ...extra, [0, exit()]];
}

// kv-v1, leading: a plain PUT, then a typed PUT it does not know.
const LEADER = [read('PUT k v\n'), write('OK\n'), read('PUT-number k 1\n'), write('ERROR unknown command\n'), close(), exit()];
// kv-v2 run on its own: it knows the typed PUT.
const FOLLOWER_NATIVE = [read('PUT k v\n'), write('OK\n'), read('PUT-number k 1\n'), write('OK\n'), close(), exit()];
// kv-v2 as it runs under forward.mvr: the typed request reaches it as an unknown command.
const FOLLOWER_UNDER_RULES = [read('PUT k v\n'), write('OK\n'), read('bad-cmd\n'), write('ERROR unknown command\n'), close(), exit()];

function noStackTrace(r: CliResult): void {
  expect(r.signal, 'killed by a signal (timeout?)').to.equal(null);
  expect(r.stderr).not.to.match(/\n\s+at .+:\d+:\d+\)?\n/);
  expect(r.stderr).not.to.match(/internal error/);
}

/** Writes a file into `dir` and returns its name (the CLI runs in `dir`). */
function putIn(dir: string): (name: string, text: string) => string {
  return (name, text) => {
    writeFileSync(join(dir, name), text);
    return name;
  };
}

describe('mvrc verify', function () {
  this.timeout(60_000);
  const dir = tempDir('mvrc-verify-');
  const put = putIn(dir);
  const none = put('none.mvr', '// no rules: the default match only\n');
  const forward = join(REPO, 'examples/kv/forward.mvr');
  const leader = put('leader.jsonl', traceText(LEADER));
  const native = put('native.jsonl', traceText(FOLLOWER_NATIVE));
  const underRules = put('under-rules.jsonl', traceText(FOLLOWER_UNDER_RULES));
  const verify = (rules: string, l: string, f: string, ...more: string[]): CliResult => {
    const r = mvrc(['verify', rules, '--leader-trace', l, '--follower-trace', f, ...more], { cwd: dir });
    noStackTrace(r);
    return r;
  };

  it('verifies identical traces with the default match (exit 0, one summary line)', () => {
    const r = verify(none, leader, put('copy.jsonl', traceText(LEADER)));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('verified: 6 follower calls against 6 leader events in 1 thread pair; rules used: default\n');
    expect(r.stderr).to.equal('');
  });

  it('reports a changed write as a divergence at the follower trace line, with the leader event beside it', () => {
    const r = verify(none, leader, native);
    expect(r.status).to.equal(1);
    expect(r.stdout).to.equal('');
    // event 3 of the follower is line 5 of its file (the header is line 1)
    expect(r.stderr).to.match(/^native\.jsonl:5:1: error MVR4101: divergence: .*follower call 3: write\(5, "OK\\n", 3\) = 3 vs leader event 3: write\(5, "ERROR unknown command\\n", 22\) = 22/m);
    expect(r.stderr).to.match(/^leader\.jsonl:5:1: note: leader event 3: write\(5, "ERROR unknown command\\n", 22\)/m);
    expect(r.stderr).to.contain('1 error generated');
  });

  it('reconciles the typed request with forward.mvr, and names the rule that did it', () => {
    const r = verify(forward, leader, underRules);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`verified: 6 follower calls against 6 leader events in 1 thread pair; rules used: default, ${forward}:18\n`);
    const program = loadProgram([forward]);
    const parse = (t: string) => parseJsonTrace({ path: 't', text: t }, new DiagnosticBag());
    const result = verifyTraces(program, parse(traceText(LEADER)), parse(traceText(FOLLOWER_UNDER_RULES)));
    expect(result.findings).to.deep.equal([]);
    expect(result.rulesUsed).to.deep.equal([-1, 0]);
  });

  it('says so when the follower trace shows other data than the rules give it', () => {
    // kv-v2 recorded on its own read the typed request; under forward.mvr it would read bad-cmd
    const r = verify(forward, leader, native);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^native\.jsonl:4:1: error MVR4105: the follower trace was not recorded under these rules: the rules give the follower "bad-cmd\\n" but its trace shows it received "PUT-number k 1\\n"/m);
    expect(r.stderr).not.to.contain('MVR4101');
  });

  it('leaves calls local to the process unmatched, as the runtime does', () => {
    // the new version allocates and sets handlers differently: no divergence
    const mmap: Ev = { name: 'mmap', args: [0, 65536, 3, 0x22, -1, 0], ret: 0x7f0000000000 };
    const sigaction: Ev = { name: 'rt_sigaction', args: [15, 0x1000, 0, 8], ret: 0 };
    const f = [LEADER[0]!, mmap, sigaction, ...LEADER.slice(1, 3), mmap, ...LEADER.slice(3)];
    const r = verify(none, leader, put('local.jsonl', traceText(f)));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('verified: 6 follower calls against 6 leader events in 1 thread pair; rules used: default\n');
  });

  it('reports leader events the follower never made (MVR4102), at the first of them', () => {
    const r = verify(none, leader, put('short.jsonl', traceText(LEADER.slice(0, 4))));
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^leader\.jsonl:6:1: error MVR4102: 2 leader event\(s\) remain that the follower never made, from leader event 4: close\(5\) = 0/m);
    expect(r.stderr).to.match(/^short\.jsonl:5:1: note: the follower's last call: write\(5, "ERROR unknown command\\n", 22\)/m);
  });

  it('maps a run of leader-only events longer than one matcher step (64) to nothing, before the next call and at the end', () => {
    // The old version logs 100 lines to stderr before it exits, and 100 more after its last
    // event; the new one logs nothing.
    const logs = (from: number) => Array.from({ length: 100 }, (_, i) => write(`log ${from + i}\n`, 2));
    const chatty = put('chatty.jsonl', traceText([...LEADER.slice(0, -1), ...logs(0), exit(), ...logs(100)]));
    const rules = put('quiet.mvr', 'write(2, _, _) => nothing\n');
    const r = verify(rules, chatty, put('quiet.jsonl', traceText(LEADER)));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^verified: 6 follower calls against 206 leader events in 1 thread pair;/);
  });

  it('runs a C guard in the compiled rules; the interpreter (--interpreter) cannot: MVR4103 names the rule and the follower call', () => {
    const rules = put('cguard.mvr', 'write(_, _, _) {{ return 1; }} => write(_, _, _)\n');
    const r = verify(rules, leader, put('copy2.jsonl', traceText(LEADER)));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^verified: 6 follower calls against 6 leader events in 1 thread pair; rules used: default, cguard\.mvr:1\n$/);
    // a guard that refuses: the default match decides, and the writes differ
    const refusing = put('cguard0.mvr', 'write(5, _, _) {{ return 0; }} => write(5, _, _)\n');
    expect(verify(refusing, leader, native).stderr).to.match(/^native\.jsonl:5:1: error MVR4101: /m);
    const i = verify(rules, leader, 'copy2.jsonl', '--interpreter');
    expect(i.status).to.equal(1);
    expect(i.stderr).to.match(/^copy2\.jsonl:3:1: error MVR4103: rule 0 \(cguard\.mvr:1:1\) has a C guard, which the reference interpreter cannot evaluate, at follower call 1: write\(5, "OK\\n", 3\)/m);
    expect(i.stderr).to.match(/^cguard\.mvr:1:1: note: rule 0: /m);
  });

  it('without a C compiler, falls back to the reference interpreter (same verdicts; C blocks: MVR4103)', () => {
    const env = { CC: join(dir, 'no-such-cc') };
    const same = mvrc(['verify', none, '--leader-trace', leader, '--follower-trace', 'copy2.jsonl'], { cwd: dir, env });
    expect(same.status, same.stderr).to.equal(0);
    expect(same.stdout).to.equal('verified: 6 follower calls against 6 leader events in 1 thread pair; rules used: default\n');
    const diverging = mvrc(['verify', none, '--leader-trace', leader, '--follower-trace', native], { cwd: dir, env });
    expect(diverging.stderr).to.match(/^native\.jsonl:5:1: error MVR4101: /m);
    const c = mvrc(['verify', 'cguard.mvr', '--leader-trace', leader, '--follower-trace', 'copy2.jsonl'], { cwd: dir, env });
    expect(c.status).to.equal(1);
    expect(c.stderr).to.match(/error MVR4103: rule 0 \(cguard\.mvr:1:1\) has a C guard/);
  });

  it('reports a C error in a rule block at its .mvr line (MVR5001), as build does', () => {
    const rules = put('cbad.mvr', 'write(_, _, _) {{ return nope; }} => write(_, _, _)\n');
    const r = verify(rules, leader, 'copy2.jsonl');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^cbad\.mvr:1:\d+: error MVR5001: C compiler: .*nope/m);
  });

  it('stops at an expected divergence with a note and exit 0', () => {
    const rules = put('diverge.mvr', 'read(_, s, _) if (s.startsWith("PUT-")) => diverge "typed commands have no v1 meaning"\n');
    const r = verify(rules, leader, native);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/^native\.jsonl:4:1: note MVR4104: expected divergence: typed commands have no v1 meaning/m);
    expect(r.stdout).to.equal('verified: 3 follower calls against 6 leader events in 1 thread pair up to an expected divergence; rules used: default, diverge.mvr:1\n');
  });

  it('writes findings as JSON and SARIF, located in the trace files', () => {
    const j = verify(none, leader, native, '--format', 'json');
    expect(j.status).to.equal(1);
    const d = (JSON.parse(j.stdout) as { diagnostics: { code: string; file: string; line: number; related: { file: string; line: number }[] }[] }).diagnostics;
    expect(d.map((x) => [x.code, x.file, x.line])).to.deep.equal([['MVR4101', 'native.jsonl', 5]]);
    expect(d[0]!.related.map((x) => [x.file, x.line])).to.deep.equal([['leader.jsonl', 5]]);
    const s = verify(none, leader, native, '--format', 'sarif');
    const result = (JSON.parse(s.stdout) as { runs: { results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] }).runs[0]!.results[0]!;
    expect(result.ruleId).to.equal('MVR4101');
    expect(result.locations[0]!.physicalLocation.artifactLocation.uri).to.equal('native.jsonl');
    expect(result.locations[0]!.physicalLocation.region.startLine).to.equal(5);
  });

  it('reports rule errors as check does, and bad trace lines, with exit 1; usage errors with exit 2', () => {
    const bad = put('bad.mvr', 'raed(_,_,_) => nothing\n');
    const r1 = verify(bad, leader, native);
    expect(r1.status).to.equal(1);
    expect(r1.stderr).to.match(/^bad\.mvr:1:1: error MVR2001: unknown syscall or group 'raed'/m);
    const broken = put('broken.jsonl', traceText(LEADER).replace(/\n/, '\nnot json\n'));
    const r2 = verify(none, broken, native);
    expect(r2.status).to.equal(1);
    expect(r2.stderr).to.match(/^broken\.jsonl:2:1: error MVR9006: line 2 of the trace cannot be read: it is not JSON/m);
    expect(r2.stderr).not.to.contain('MVR4101');
    const r3 = verify(none, 'missing.jsonl', native);
    expect(r3.status).to.equal(2);
    expect(r3.stderr).to.contain("cannot read 'missing.jsonl'");
    mkdirSync(join(dir, 'a-dir'), { recursive: true });
    const r5 = verify(none, 'a-dir', native);
    expect(r5.status).to.equal(2);
    expect(r5.stderr).to.match(/^a-dir: error MVR9009: 'a-dir' is a directory, not a trace/m);
    writeFileSync(join(dir, 'binary.jsonl'), Buffer.from([0x7b, 0x00, 0xff, 0x0a]));
    const r6 = verify(none, leader, 'binary.jsonl');
    expect(r6.status).to.equal(1);
    expect(r6.stderr).to.match(/^binary\.jsonl: error MVR9010: 'binary\.jsonl' is not a trace: it contains NUL or invalid UTF-8 bytes/m);
    const r4 = mvrc(['verify', none, '--leader-trace', leader], { cwd: dir });
    expect(r4.status).to.equal(2);
    expect(r4.stderr).to.match(/missing --follower-trace[\s\S]*Usage: mvrc verify/);
    noStackTrace(r4);
  });
});

describe('mvrc verify: threads and child processes, paired by creation order', function () {
  this.timeout(60_000);
  const dir = tempDir('mvrc-verify-threads-');
  const put = putIn(dir);
  const none = put('none.mvr', '// the default match only\n');
  const verify = (l: string, f: string, rules = none): CliResult => {
    const r = mvrc(['verify', rules, '--leader-trace', l, '--follower-trace', f], { cwd: dir });
    noStackTrace(r);
    return r;
  };
  const a = put('a.jsonl', threadsText(twoThreads('worker\n')));

  it('verifies identical two-thread runs, counting calls over both pairs', () => {
    const r = verify(a, put('b.jsonl', threadsText(twoThreads('worker\n'))));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('verified: 5 follower calls against 5 leader events in 2 thread pairs; rules used: default\n');
    const parse = (t: string) => parseJsonTrace({ path: 't', text: t }, new DiagnosticBag());
    const result = verifyTraces(loadProgram([join(dir, none)]), parse(threadsText(twoThreads('worker\n'))), parse(threadsText(twoThreads('worker\n'))));
    expect([result.findings, result.threadPairs, result.followerCalls]).to.deep.equal([[], 2, 5]);
  });

  it("reports a divergence in thread 1 at thread 1's line, naming the pair; the main thread still verifies", () => {
    const r = verify(a, put('c.jsonl', threadsText(twoThreads('worker v2\n'))));
    expect(r.status).to.equal(1);
    // line 1 header, 2 main write, 3 clone3, 4 the worker's write
    expect(r.stderr).to.match(/^c\.jsonl:4:1: error MVR4101: divergence: .*follower call 0 of thread 1: write\(1, "worker v2\\n", 10\) = 10 vs leader event 0 of thread 1: write\(1, "worker\\n", 7\) = 7/m);
    expect(r.stderr).to.match(/^a\.jsonl:4:1: note: leader event 0 of thread 1: /m);
    expect(r.stderr).to.contain('1 error generated');
    // the rule that maps the worker's line reconciles the pair
    const rules = put('worker.mvr', 'write(1, "worker\\n", _) => write(1, "worker v2\\n", n) -> do { ret = n; }\n');
    const ok = verify(a, 'c.jsonl', rules);
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout).to.equal('verified: 5 follower calls against 5 leader events in 2 thread pairs; rules used: default, worker.mvr:1\n');
  });

  it('a thread the follower started and the leader did not is MVR4106 at its first line', () => {
    const extra: [number, Ev][] = [[2, write('extra\n', 1)], [2, { name: 'exit', args: [0], noret: true }]];
    const r = verify(a, put('d.jsonl', threadsText(twoThreads('worker\n', extra))));
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^d\.jsonl:6:1: error MVR4106: the follower started thread 2, which the leader did not; its first call: write\(1, "extra\\n", 6\) = 6 \(threads and child processes are paired by creation order\)/m);
    // and the other way round
    const r2 = verify('d.jsonl', a);
    expect(r2.status).to.equal(1);
    expect(r2.stderr).to.match(/^d\.jsonl:6:1: error MVR4106: the leader started thread 2, which the follower did not; its first event: write/m);
  });

  it('strace output: pids are paired by the order of the clone calls that created them', () => {
    const hx = (t: string): string => `"${[...Buffer.from(t)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}"`;
    // The main process forks two children; the second child's first line comes before the first
    // child's (and before its own fork returned): creation order is the order of the fork calls.
    const strace = (main: number, c1: number, c2: number, text1: string): string =>
      [
        `${main}  execve("./p", ["./p"], 0x7ffc8a5e0f18 /* 20 vars */) = 0`,
        `${main}  write(1, ${hx('main\n')}, 5) = 5`,
        `${main}  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0000000a10) = ${c1}`,
        `${main}  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0000000a10 <unfinished ...>`,
        `${c2}  write(1, ${hx('two\n')}, 4) = 4`,
        `${main}  <... clone resumed>) = ${c2}`,
        `${c1}  write(1, ${hx(text1)}, ${text1.length}) = ${text1.length}`,
        `${c1}  exit_group(0) = ?`,
        `${c1}  +++ exited with 0 +++`,
        `${c2}  exit_group(0) = ?`,
        `${c2}  +++ exited with 0 +++`,
        `${main}  wait4(-1, NULL, 0, NULL) = ${c1}`,
        `${main}  exit_group(0) = ?`,
        `${main}  +++ exited with 0 +++`,
      ].join('\n') + '\n';
    put('a.strace', strace(4242, 4243, 4244, 'one\n'));
    const same = verify('a.strace', put('b.strace', strace(5151, 5152, 5153, 'one\n')));
    expect(same.status, same.stderr).to.equal(0);
    expect(same.stdout).to.equal('verified: 9 follower calls against 9 leader events in 3 thread pairs; rules used: default\n');
    const diff = verify('a.strace', put('c.strace', strace(5151, 5152, 5153, 'uno\n')));
    expect(diff.status).to.equal(1);
    expect(diff.stderr).to.match(/^c\.strace:7:1: error MVR4101: divergence: .*follower call 0 of thread 1 \(pid 5152\): write\(1, "uno\\n", 4\) = 4 vs leader event 0 of thread 1 \(pid 4243\): write\(1, "one\\n", 4\) = 4/m);
    // a child that execs another program: what the new image does is not compared (not recorded)
    const exec = (t: string, after: string): string =>
      t.replace(/^(\d+)  exit_group\(0\) = \?\n(\1  \+\+\+ exited with 0 \+\+\+\n)(?=[\s\S]*wait4)/m, (_all, pid: string, exited: string) =>
        `${pid}  execve("/bin/x", ["x"], 0x7ffc8a5e0f18 /* 20 vars */) = 0\n${pid}  write(1, ${hx(after)}, ${after.length}) = ${after.length}\n${pid}  exit_group(0) = ?\n${exited}`);
    put('e.strace', exec(strace(4242, 4243, 4244, 'one\n'), 'new image\n'));
    const execed = verify('e.strace', put('f.strace', exec(strace(5151, 5152, 5153, 'one\n'), 'other image!\n')));
    expect(execed.status, execed.stderr).to.equal(0);
    expect(readFileSync(join(dir, 'f.strace'), 'utf8')).to.contain('5152  execve("/bin/x"');
  });
});

describe('mvrc verify streams its traces', function () {
  this.timeout(120_000);
  const dir = tempDir('mvrc-verify-stream-');
  const put = putIn(dir);
  const none = put('none.mvr', '// the default match only\n');
  const program = loadProgram([join(dir, none)]);
  const open = (name: string): TraceStream => TraceStream.open(join(dir, name), new DiagnosticBag(), name)!;
  /** A server answering n requests on fd 5. */
  const serve = (n: number, answer = (i: number): string => `OK ${i}\n`): Ev[] => {
    const out: Ev[] = [];
    for (let i = 0; i < n; i++) out.push(read(`GET k${i}\n`), write(answer(i)));
    return [...out, close(), exit()];
  };

  it('a divergence early in a large trace is found without reading the rest of either trace', () => {
    const n = 100_000;
    put('big-a.jsonl', traceText(serve(n)));
    put('big-b.jsonl', traceText(serve(n, (i) => (i === 2 ? 'ERR\n' : `OK ${i}\n`))));
    const [l, f] = [open('big-a.jsonl'), open('big-b.jsonl')];
    const r = verifyStreams(program, l, f);
    expect(r.findings.map((x) => [x.kind, x.follower?.index])).to.deep.equal([['divergence', 5n]]);
    expect(r.complete).to.equal(false);
    // about one chunk (1 MiB) of each file: not a quarter of their 400,000 events
    expect(l.eventsRead + f.eventsRead).to.be.below(n);
    l.close();
    f.close();
    // the CLI says the same, at the follower's line (header: line 1, event 5: line 7)
    const cli = mvrc(['verify', none, '--leader-trace', 'big-a.jsonl', '--follower-trace', 'big-b.jsonl'], { cwd: dir });
    expect(cli.status).to.equal(1);
    expect(cli.stderr).to.match(/^big-b\.jsonl:7:1: error MVR4101: .*write\(5, "ERR\\n", 4\) = 4 vs leader event 5: write\(5, "OK 2\\n", 5\) = 5/m);
  });

  it('holds a bounded number of events whatever the length of the traces', () => {
    const held = (n: number): number => {
      put(`same-${n}.jsonl`, traceText(serve(n)));
      const r = verifyStreams(program, open(`same-${n}.jsonl`), open(`same-${n}.jsonl`));
      expect([r.findings.length, r.followerCalls, r.complete]).to.deep.equal([0, 2 * n + 2, true]);
      return r.peakHeld;
    };
    const small = held(10_000);
    const large = held(100_000);
    // the events of about one chunk of each file, not of the whole trace
    expect(large).to.be.below(40_000);
    expect(large).to.be.at.most(small * 2);
  });

  it('--keep-going reports the first finding of every thread pair; by default verify stops at the first', () => {
    const a = put('kg-a.jsonl', threadsText(twoThreads('worker\n')));
    const main = (line: string): [number, Ev][] => twoThreads('worker v2\n').map(([t, e]) => (t === 0 && e.name === 'write' ? [t, write(line, 1)] : [t, e]));
    const b = put('kg-b.jsonl', threadsText(main('main v2\n')));
    const first = mvrc(['verify', none, '--leader-trace', a, '--follower-trace', b], { cwd: dir });
    expect(first.status).to.equal(1);
    expect(first.stderr.match(/error MVR4101/g)).to.have.length(1);
    const all = mvrc(['verify', none, '--leader-trace', a, '--follower-trace', b, '--keep-going'], { cwd: dir });
    expect(all.status).to.equal(1);
    expect(all.stderr.match(/error MVR4101/g)).to.have.length(2);
    expect(all.stderr).to.match(/follower call 0 of thread 0: write\(1, "main v2\\n"/);
    expect(all.stderr).to.match(/follower call 0 of thread 1: write\(1, "worker v2\\n"/);
  });

  it('property: the stream gives the findings verifyTraces gives on the whole traces', () => {
    const evs = fc.array(
      fc.oneof(
        fc.constantFrom('a', 'b', 'cc').map((d) => read(d)),
        fc.constantFrom('x', 'yy').map((d) => write(d)),
        fc.constant(close()),
        fc.constant<Ev>({ name: 'getpid', args: [], ret: 7 }),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(evs, evs, fc.boolean(), (le, fe, keep) => {
        const [lt, ft] = [traceText([...le, exit()]), traceText([...fe, exit()])];
        put('p-l.jsonl', lt);
        put('p-f.jsonl', ft);
        const parse = (t: string) => parseJsonTrace({ path: 't', text: t }, new DiagnosticBag());
        const whole = verifyTraces(program, parse(lt), parse(ft));
        const streamed = verifyStreams(program, open('p-l.jsonl'), open('p-f.jsonl'), { keepGoing: keep });
        const key = (r: typeof whole) => r.findings.map((x) => [x.kind, x.message, x.follower?.span.offset, x.leader?.span.offset, x.count]);
        expect(key(streamed)).to.deep.equal(key(whole));
        expect(streamed.followerCalls).to.equal(whole.followerCalls);
      }),
      { numRuns: 150 },
    );
  });
});

describe('mvrc verify on real strace recordings', function () {
  this.timeout(120_000);
  const hasStrace = spawnSync('strace', ['-V']).status === 0;
  const hasCc = spawnSync('cc', ['--version']).status === 0;
  const dir = tempDir('mvrc-verify-strace-');

  before(function () {
    if (!hasStrace || !hasCc) {
      console.log(`      (skipped: ${!hasStrace ? 'strace' : 'cc'} is not installed; bash scripts/install-deps.sh installs it)`);
      this.skip();
    }
  });

  /** Builds SUB/PROG printing `text`, runs it under strace, returns the trace file's name. */
  function record(sub: string, prog: string, text: string, traceName: string): string {
    const d = join(dir, sub);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'greet.c'), `#include <string.h>\n#include <unistd.h>\nint main(void) { const char *s = ${JSON.stringify(text)}; return write(1, s, strlen(s)) < 0; }\n`);
    const cc = spawnSync('cc', ['-O1', '-o', prog, 'greet.c'], { cwd: d, encoding: 'utf8' });
    expect(cc.status, cc.stderr).to.equal(0);
    const st = spawnSync('strace', ['-f', '-s', '4096', '-xx', '-o', join(dir, traceName), `./${prog}`], { cwd: d, encoding: 'utf8' });
    expect(st.status, st.stderr).to.equal(0);
    expect(st.stdout).to.equal(text);
    return traceName;
  }

  it('verifies two runs of the same program, and finds the divergence at the write of another text', () => {
    writeFileSync(join(dir, 'none.mvr'), '// the default match only\n');
    // two builds under other names: the programs' own execve (which the runtime never sees) differs
    const a = record('v1', 'greet-v1', 'hello\n', 'a.strace');
    const b = record('v1', 'greet-v1', 'hello\n', 'b.strace');
    const c = record('v2', 'greet-v2', 'goodbye\n', 'c.strace');
    const same = mvrc(['verify', 'none.mvr', '--leader-trace', a, '--follower-trace', b], { cwd: dir });
    expect(same.status, same.stderr).to.equal(0);
    expect(same.stdout).to.match(/^verified: (\d+) follower calls against \1 leader events in 1 thread pair; rules used: default\n$/);

    const diff = mvrc(['verify', 'none.mvr', '--leader-trace', a, '--follower-trace', c], { cwd: dir });
    expect(diff.status).to.equal(1);
    const lines = readFileSync(join(dir, c), 'utf8').split('\n');
    const writeLine = lines.findIndex((l) => / write\(1, /.test(l)) + 1;
    expect(writeLine).to.be.greaterThan(1);
    expect(diff.stderr).to.match(new RegExp(`^c\\.strace:${writeLine}:1: error MVR4101: divergence: .*write\\(1, "goodbye\\\\n", 8\\) = 8 vs leader event \\d+: write\\(1, "hello\\\\n", 6\\) = 6`, 'm'));
    expect(diff.stderr).to.contain('1 error generated');
  });
});
