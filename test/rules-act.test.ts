// Every rule acts: each std file (stdlib-rules/) and each example of docs/language.md §7 is run
// with mvrc verify's engine on a pair of small strace traces — an old version and a new one that
// makes other calls — which diverge without the rule and are reconciled with it, the rule itself
// deciding at least one call. The traces also hold calls each version executes on its own (mmap,
// rt_sigaction, rseq...): verify leaves them out, as the runtime does, so they need no rule. The
// two §7 examples with C blocks, which verify cannot evaluate, run through the generated C module.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { loadProgram } from '../compiler/check/program.ts';
import { parseStraceTrace } from '../compiler/traces/strace.ts';
import { verifyTraces, type VerifyResult } from '../compiler/traces/verify.ts';
import { runInterpreterText, leaderLine as L, followerLine as F } from '../codegen-c/harness/driver.ts';
import { runHarness } from '../codegen-c/harness/build.ts';
import { harnessFor, loadRules, nr, removeScratchDirs } from '../codegen-c/harness/testing.ts';
import { tempDir } from './helpers/cli.ts';

const dir = tempDir('mvrc-rules-act-');

/** strace -f lines of one process: `PID line` each. */
const strace = (pid: number, lines: string[]): string => lines.map((l) => `${pid}  ${l}\n`).join('');

interface Run {
  result: VerifyResult;
  /** `FILE:LINE` of each rule that decided a call (`default` for the default match). */
  used: string[];
}

/** Checks the rule text (no errors allowed) and verifies the follower trace against the leader's. */
function verify(rules: string, leader: string, follower: string): Run {
  const file = join(dir, `rules-${Math.random().toString(36).slice(2)}.mvr`);
  writeFileSync(file, rules);
  const program = loadProgram([file]);
  expect(program.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`), 'the rules check').to.deep.equal([]);
  const bag = new DiagnosticBag();
  const l = parseStraceTrace({ path: 'leader.strace', text: leader }, bag);
  const f = parseStraceTrace({ path: 'follower.strace', text: follower }, bag);
  expect(bag.items.map((d) => `${d.code} ${d.message}`), 'the traces parse').to.deep.equal([]);
  const result = verifyTraces(program, l, f);
  const used = result.rulesUsed.map((id) => {
    if (id < 0) return 'default';
    const r = program.rules[id]!;
    const name = r.file.startsWith(dir) ? 'rules' : r.file.replace(/^.*stdlib-rules\//, 'std/').replace(/\.mvr$/, '');
    return `${name}:${program.sources.get(r.file)!.slice(0, r.ast.span.offset).split('\n').length}`;
  });
  return { result, used };
}

/** Without the rule the traces diverge; with it they verify, and the rule decided a call. */
function actsOn(rules: string, leader: string, follower: string, expectUsed: string[]): void {
  const without = verify('', leader, follower);
  expect(without.result.findings.map((x) => x.kind), 'without the rule').to.include.members(['divergence']);
  const withRule = verify(rules, leader, follower);
  expect(withRule.result.findings.map((x) => `${x.kind}: ${x.message}`), 'with the rule').to.deep.equal([]);
  expect(withRule.used).to.include.members(expectUsed);
}

// The old version, native: answers one request and exits.
const NATIVE = strace(100, ['read(0, "GET a\\n", 64) = 6', 'write(1, "A\\n", 2) = 2', 'exit_group(0) = ?']);

describe('every rule acts: std files', () => {
  it('std/asan: the ASan run-time’s own queries are executed; its memory and signal calls need no rule', () => {
    const follower = strace(200, [
      'mmap(NULL, 17592186048512, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = 0x7fff7000',
      'getrlimit(RLIMIT_STACK, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0',
      'sched_getaffinity(0, 128, [0 1]) = 8',
      'readlink("/proc/self/exe", "/srv/app-asan", 4096) = 13',
      'sigaltstack({ss_sp=0x7f0000, ss_flags=0, ss_size=32768}, NULL) = 0',
      'rt_sigaction(SIGSEGV, {sa_handler=0x4a5b10, sa_mask=[], sa_flags=SA_RESTORER|SA_ONSTACK|SA_SIGINFO, sa_restorer=0x7f1234}, NULL, 8) = 0',
      'rt_sigprocmask(SIG_BLOCK, [INT], [], 8) = 0',
      'prctl(PR_GET_DUMPABLE) = 1',
      'getpid() = 200',
      'read(0, "GET a\\n", 64) = 6',
      'madvise(0x7fff7000, 4096, MADV_DONTNEED) = 0',
      'gettid() = 200',
      'write(1, "A\\n", 2) = 2',
      'munmap(0x7fff7000, 4096) = 0',
      'exit_group(0) = ?',
    ]);
    actsOn('import "std/asan"\n', NATIVE, follower, ['std/asan:16', 'std/asan:17', 'std/asan:18', 'std/asan:19', 'std/asan:20', 'default']);
  });

  it('std/asan: the ASan run-time’s clock read at start-up', () => {
    const follower = strace(200, [
      'clock_gettime(CLOCK_MONOTONIC, {tv_sec=5, tv_nsec=1}) = 0',
      'read(0, "GET a\\n", 64) = 6',
      'write(1, "A\\n", 2) = 2',
      'exit_group(0) = ?',
    ]);
    actsOn('import "std/asan"\n', NATIVE, follower, ['std/asan:27', 'default']);
  });

  it('std/libc: a getrlimit or getrandom only one C library makes; rseq, set_robust_list, prlimit64 need no rule', () => {
    const oldLibc = strace(100, [
      'getrlimit(RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4096}) = 0',
      'getrandom("\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08", 8, GRND_NONBLOCK) = 8',
      'read(0, "GET a\\n", 64) = 6',
      'write(1, "A\\n", 2) = 2',
      'exit_group(0) = ?',
    ]);
    const newLibc = strace(200, [
      'rseq(0x7f0000, 0x20, 0, 0x53053053) = 0',
      'set_robust_list(0x7f0010, 24) = 0',
      'prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=1024, rlim_max=4096}) = 0',
      'read(0, "GET a\\n", 64) = 6',
      'getrandom("\\x11\\x12\\x13\\x14", 4, 0) = 4',
      'getrlimit(RLIMIT_STACK, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0',
      'write(1, "A\\n", 2) = 2',
      'exit_group(0) = ?',
    ]);
    actsOn('import "std/libc"\n', oldLibc, newLibc, ['std/libc:18', 'std/libc:19', 'std/libc:22', 'std/libc:23']);
  });

  it('std/libc: malloc\'s one read of /proc/sys/vm/overcommit_memory, made by the leader only', () => {
    const trim = ['openat(AT_FDCWD, "/proc/sys/vm/overcommit_memory", O_RDONLY|O_CLOEXEC) = 5', 'read(5, "0", 1) = 1', 'close(5) = 0'];
    const serve = ['read(0, "GET a\\n", 64) = 6', 'write(1, "A\\n", 2) = 2', 'exit_group(0) = ?'];
    actsOn('import "std/libc"\n', strace(100, [serve[0]!, ...trim, ...serve.slice(1)]), NATIVE, ['std/libc:32', 'default']);
    // Another file opened by the leader only is still a divergence.
    const other = strace(100, [serve[0]!, 'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 5', 'read(5, "r", 1) = 1', 'close(5) = 0', ...serve.slice(1)]);
    expect(verify('import "std/libc"\n', other, NATIVE).result.findings.map((x) => x.kind)).to.include('divergence');
  });

  it('std/valgrind: the queries of a program under valgrind are executed; its memory and signal calls need no rule', () => {
    const follower = strace(200, [
      'brk(NULL) = 0x4000000',
      'mmap(0x4000000, 65536, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = 0x4000000',
      'mprotect(0x4000000, 4096, PROT_READ) = 0',
      'getrlimit(RLIMIT_DATA, {rlim_cur=RLIM64_INFINITY, rlim_max=RLIM64_INFINITY}) = 0',
      'readlink("/proc/self/exe", "/srv/app", 4096) = 8',
      'rt_sigprocmask(SIG_SETMASK, ~[], [], 8) = 0',
      'getpid() = 200',
      'read(0, "GET a\\n", 64) = 6',
      'gettid() = 200',
      'mremap(0x4000000, 65536, 131072, MREMAP_MAYMOVE) = 0x5000000',
      'write(1, "A\\n", 2) = 2',
      'munmap(0x5000000, 131072) = 0',
      'exit_group(0) = ?',
    ]);
    actsOn('import "std/valgrind"\n', NATIVE, follower, ['std/valgrind:17', 'std/valgrind:18', 'std/valgrind:19', 'std/valgrind:20']);
  });

  it('std/time: clock reads only one version makes, and a wait whose timeout differs', () => {
    const leader = strace(100, [
      'epoll_wait(3, [{events=EPOLLIN, data={u32=5, u64=5}}], 128, 1000) = 1',
      'clock_gettime(CLOCK_MONOTONIC, {tv_sec=10, tv_nsec=0}) = 0',
      'read(5, "GET a\\n", 64) = 6',
      'write(5, "A\\n", 2) = 2',
      'exit_group(0) = ?',
    ]);
    const follower = strace(200, [
      'epoll_wait(3, [{events=EPOLLIN, data={u32=5, u64=5}}], 128, 999) = 1',
      'read(5, "GET a\\n", 64) = 6',
      'gettimeofday({tv_sec=10, tv_usec=0}, NULL) = 0',
      'time(NULL) = 10',
      'write(5, "A\\n", 2) = 2',
      'exit_group(0) = ?',
    ]);
    actsOn('import "std/time"\n', leader, follower, ['std/time:12', 'std/time:13', 'std/time:16', 'std/time:23']);
  });

  // Redis's INFO reply as both versions write it: another pid, run id and memory figures, so
  // another length too. Only an INFO reply may differ: a GET's bulk reply is still compared.
  describe('std/redis', () => {
    const info = (pid: number, runId: string, mem: number): string => {
      const text = `# Server\r\nredis_version:7.0.15\r\nprocess_id:${pid}\r\nrun_id:${runId}\r\n\r\n# Memory\r\nused_memory:${mem}\r\n`;
      return `$${text.length}\r\n${text}\r\n`;
    };
    const esc = (x: string): string => x.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
    const session = (pid: number, reply: string, value: string): string =>
      strace(pid, [
        'read(8, "*1\\r\\n$4\\r\\nINFO\\r\\n", 16384) = 14',
        `write(8, "${esc(reply)}", ${reply.length}) = ${reply.length}`,
        'read(8, "*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\na\\r\\n", 16384) = 22',
        `write(8, "$${value.length}\\r\\n${value}\\r\\n", ${value.length + 4 + String(value.length).length}) = ${value.length + 4 + String(value.length).length}`,
        'exit_group(0) = ?',
      ]);
    const leader = session(100, info(100, 'f2461c38c25c64feb76d396121077209048e6d20', 941624), 'v1');

    it('lets the follower\'s INFO reply differ (pid, run id, memory figures, length)', () => {
      const follower = session(200, info(2001, '0bd3d6a0e5a3c0a97b31d2b5e3a1b1e62fb9b2c7', 1041880), 'v1');
      actsOn('import "std/redis"\n', leader, follower, ['std/redis:18', 'default']);
    });

    it('still catches a GET reply that differs (and an INFO reply where the leader wrote another reply)', () => {
      const get = session(200, info(2001, '0bd3d6a0e5a3c0a97b31d2b5e3a1b1e62fb9b2c7', 1041880), 'v2');
      const r = verify('import "std/redis"\n', leader, get);
      expect(r.result.findings.map((x) => x.kind)).to.deep.equal(['divergence']);
      const notInfo = session(200, '+OK\r\n', 'v1');
      expect(verify('import "std/redis"\n', leader, notInfo).result.findings.map((x) => x.kind)).to.deep.equal(['divergence']);
    });
  });
});

describe('every rule acts: the examples of docs/language.md §7', () => {
  it('open(_,_,_) => dup(_), lseek(_,_,_)', () => {
    const leader = strace(100, ['open("/etc/motd", O_RDONLY) = 3', 'write(1, "ok\\n", 3) = 3', 'exit_group(0) = ?']);
    const follower = strace(200, ['dup(0) = 3', 'lseek(3, 0, SEEK_SET) = 0', 'write(1, "ok\\n", 3) = 3', 'exit_group(0) = ?']);
    actsOn('open(_,_,_) => dup(_), lseek(_,_,_)\n', leader, follower, ['rules:1']);
  });

  it('two socket options set in the other order (labels)', () => {
    const opts = (a: string, b: string) => [`setsockopt(3, ${a}, [1], 4) = 0`, `setsockopt(3, ${b}, [1], 4) = 0`];
    const leader = strace(100, [...opts('1, 2', '6, 1'), 'write(1, "ok\\n", 3) = 3', 'exit_group(0) = ?']);
    const follower = strace(200, [...opts('6, 1', '1, 2'), 'write(1, "ok\\n", 3) = 3', 'exit_group(0) = ?']);
    actsOn('setsockopt(fd,1,2,_,_) as reuse, setsockopt(fd,6,1,_,_) as nodelay => nodelay, reuse\n', leader, follower, ['rules:1']);
  });

  it('a group labelled self, given back amid extra calls', () => {
    const leader = strace(100, ['read(0, "GET a\\n", 64) = 6', 'exit_group(0) = ?']);
    // the extra write and read are emulated: success with the requested count
    const follower = strace(200, ['gettid() = 200', 'write(2, "log\\n", 4) = 4', 'read(0, "GET a\\n", 64) = 6', 'gettid() = 200', 'read(7, "", 16) = 16', 'exit_group(0) = ?']);
    actsOn('group calls = { read(_,_,_), write(_,_,_) }\ncalls as self => gettid(), write(_,_,_), self, gettid(), read(_,_,_)\n', leader, follower, ['rules:2']);
  });

  it('nothing => getrlimit(7,_): an extra limit query (and only that one)', () => {
    const follower = (resource: string) =>
      strace(200, ['read(0, "GET a\\n", 64) = 6', `getrlimit(${resource}, {rlim_cur=1024, rlim_max=4096}) = 0`, 'write(1, "A\\n", 2) = 2', 'exit_group(0) = ?']);
    const rules = 'nothing => getrlimit(7,_)\n';
    actsOn(rules, NATIVE, follower('RLIMIT_NOFILE'), ['rules:1']);
    // the literal is a test: another limit is not allowed
    expect(verify(rules, NATIVE, follower('RLIMIT_STACK')).result.findings.map((x) => x.kind)).to.deep.equal(['divergence']);
  });

  it('begin => getrlimit(_), getrlimit(_) *, readlink("/proc/self/exe",_,_): a start-up prefix', () => {
    const follower = strace(200, [
      'getrlimit(RLIMIT_STACK, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0',
      'mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f2a1c000000',
      'getrlimit(RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4096}) = 0',
      'getrlimit(RLIMIT_AS, {rlim_cur=RLIM64_INFINITY, rlim_max=RLIM64_INFINITY}) = 0',
      'readlink("/proc/self/exe", "/srv/app", 4096) = 8',
      'read(0, "GET a\\n", 64) = 6',
      'write(1, "A\\n", 2) = 2',
      'exit_group(0) = ?',
    ]);
    actsOn('begin => getrlimit(_), getrlimit(_) *, readlink("/proc/self/exe",_,_)\n', NATIVE, follower, ['rules:1', 'default']);
  });

  // The old version answers SITE with 500; the new one knows it. Under the rule it reads FOOBAR
  // instead and answers 500 too: recorded that way, it verifies; the new version's own run
  // (answering 200) diverges without the rule.
  it('read(_,_,_), write(_,"500 Unknown command",_) => read(_,"FOOBAR\\r\\n",8), write(...)', () => {
    const rules = 'read(_,_,_), write(_,"500 Unknown command",_) => read(_,"FOOBAR\\r\\n",8), write(_,"500 Unknown command",_)\n';
    const leader = strace(100, ['read(0, "SITE X\\r\\n", 64) = 8', 'write(1, "500 Unknown command", 19) = 19', 'exit_group(0) = ?']);
    const native = strace(200, ['read(0, "SITE X\\r\\n", 64) = 8', 'write(1, "200 OK", 6) = 6', 'exit_group(0) = ?']);
    const underRules = strace(200, ['read(0, "FOOBAR\\r\\n", 64) = 8', 'write(1, "500 Unknown command", 19) = 19', 'exit_group(0) = ?']);
    expect(verify('', leader, native).result.findings.map((x) => x.kind)).to.deep.equal(['divergence']);
    const run = verify(rules, leader, underRules);
    expect(run.result.findings).to.deep.equal([]);
    expect(run.used).to.include('rules:1');
  });

  it('read(fd, s, _) if (s.startsWith("PUT-") && ...) as r => r(fd, "bad-cmd\\n", 8)', () => {
    const rules = 'read(fd, s, _) if (s.startsWith("PUT-") && !s.startsWith("PUT-string ")) as r => r(fd, "bad-cmd\\n", 8)\n';
    const leader = strace(100, ['read(5, "PUT-number k 1\\n", 4096) = 15', 'write(5, "ERROR unknown command\\n", 22) = 22', 'exit_group(0) = ?']);
    const native = strace(200, ['read(5, "PUT-number k 1\\n", 4096) = 15', 'write(5, "OK\\n", 3) = 3', 'exit_group(0) = ?']);
    const underRules = strace(200, ['read(5, "bad-cmd\\n", 4096) = 8', 'write(5, "ERROR unknown command\\n", 22) = 22', 'exit_group(0) = ?']);
    expect(verify('', leader, native).result.findings.map((x) => x.kind)).to.deep.equal(['divergence']);
    const run = verify(rules, leader, underRules);
    expect(run.result.findings).to.deep.equal([]);
    expect(run.used).to.include('rules:1');
  });

  describe('the examples with C blocks, through the generated C module', function () {
    this.timeout(120_000);
    after(removeScratchDirs);

    /** The generated module's and the interpreter's decisions on one stream (they must agree). */
    function decide(rules: string, stream: string[]): string {
      const { program, automaton, dir: d } = loadRules(rules);
      const input = ['R', ...stream].join('\n') + '\n';
      const out = runHarness(harnessFor(program, automaton, d), input);
      if (!/\{\{|\{ \$/.test(rules)) expect(runInterpreterText(automaton, input)).to.equal(out);
      return out;
    }

    it('write(_,_,_) => write(_,_,count) -> (ret) { $(ret) = $(count); }', () => {
      const stream = [L({ nr: nr('write'), args: [1, 0, 6], ret: 6, bufs: { 1: 'hello\n' } }), F({ nr: nr('write'), args: [1, 0, 3], bufs: { 1: 'hi\n' } }), 'E', 'X'];
      expect(decide('', stream)).to.match(/^reset\ndiverge /);
      // the follower's shorter write is matched, and told it wrote its own count
      expect(decide('write(_,_,_) => write(_,_,count) -> (ret) { $(ret) = $(count); }\n', stream)).to.equal('reset\nok r=0 f=match ev=0 ret=3 L=0:m\nfin ok\n');
    });

    it('read(fd,s,n) {{ strncmp(s, "put(", 4) == 0 }} => read(fd,ss,n) {{ ... }} {{ ret += 7; }}', () => {
      const rules = 'read(fd,s,n) {{ return strncmp(s, "put(", 4) == 0; }}\n  => read(fd,ss,n) {{ /* build ss from s */ }} {{ ret += 7; }}\n';
      const read = (data: string) => [L({ nr: nr('read'), args: [5, 0, 64], ret: data.length, bufs: { 1: data } }), F({ nr: nr('read'), args: [5, 0, 64], caps: { 1: 64 } })];
      const stream = [...read('put(k)'), ...read('get(k)'), 'E', 'X'];
      const put = '707574286b29'; // put(k)
      const get = '676574286b29'; // get(k)
      expect(decide('', stream)).to.equal(`reset\nok r=D f=match ev=0 ret=6 out=1:${put} L=0:m\nok r=D f=match ev=1 ret=6 out=1:${get} L=1:m\nfin ok\n`);
      // a put( request: the rule applies and its callback adds 7; a get( request takes the default
      expect(decide('#include <string.h>\n' + rules, stream)).to.equal(`reset\nok r=0 f=match ev=0 ret=13 out=1:${put} L=0:m\nok r=D f=match ev=1 ret=6 out=1:${get} L=1:m\nfin ok\n`);
    });
  });
});
