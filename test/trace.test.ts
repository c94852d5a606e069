// Trace readers (compiler/traces/trace.ts, compiler/traces/strace.ts): mvrc's JSON lines and strace
// output become the same events; every bad line is reported at its line, and reading goes on.
import { expect } from 'chai';
import fc from 'fast-check';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { LineMap } from '../compiler/core/span.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJsonTrace, readTraceFile, threadEvents, traceThreads, type Trace } from '../compiler/traces/trace.ts';
import { mvrc, tempDir } from './helpers/cli.ts';
import { parseStraceTrace, scalarValue, symbolicValue } from '../compiler/traces/strace.ts';
import { syscallByName } from '../compiler/syscalls/lookup.ts';

const nr = (name: string): number => syscallByName(name)!.nr;
const text = (b: Uint8Array | null | undefined): string | null => (b ? Buffer.from(b).toString('latin1') : null);

function readJson(t: string): { trace: Trace; diags: DiagnosticBag } {
  const diags = new DiagnosticBag();
  return { trace: parseJsonTrace({ path: 'a.jsonl', text: t }, diags), diags };
}
function readStrace(t: string): { trace: Trace; diags: DiagnosticBag } {
  const diags = new DiagnosticBag();
  return { trace: parseStraceTrace({ path: 's.txt', text: t }, diags), diags };
}
/** Each diagnostic as `CODE line:col`, in the order reported. */
function where(t: string, diags: DiagnosticBag): string[] {
  const m = new LineMap(t);
  return diags.items.map((d) => {
    const p = m.position(d.span.offset);
    return `${d.code} ${p.line}:${p.column}`;
  });
}

describe('JSON-lines trace reader', () => {
  it('reads header, events of two threads, buffers, signals and the end line', () => {
    const t = [
      '{"mvrcTrace":1,"command":["./kv-v1","--port","0"],"arch":"x86_64"}',
      '{"thread":0,"i":0,"nr":0,"name":"read","args":[5,140736,4096,0,0,0],"ret":3,"bufs":{"1":"474554"}}',
      '{"thread":1,"i":0,"name":"getpid","args":[],"ret":77}',
      '{"thread":0,"before":1,"signal":2}',
      '{"thread":0,"i":1,"name":"write","args":[5,0,"9007199254740993"],"ret":-32,"bufs":{"1":"4f4b0a"},"truncated":true}',
      '{"thread":0,"i":2,"name":"exit_group","args":[0],"noret":true}',
      '{"end":true,"status":0}',
    ].join('\n');
    const { trace, diags } = readJson(t);
    expect(diags.items).to.deep.equal([]);
    expect(trace.command).to.deep.equal(['./kv-v1', '--port', '0']);
    expect(trace.events.map((e) => [e.thread, e.index, e.name])).to.deep.equal([
      [0, 0n, 'read'],
      [1, 0n, 'getpid'],
      [0, 1n, 'write'],
      [0, 2n, 'exit_group'],
    ]);
    const [read, , write, exit] = trace.events;
    expect(read!.nr).to.equal(0);
    expect(text(read!.bufs[1])).to.equal('GET');
    expect(read!.ret).to.equal(3n);
    expect(write!.args[2]).to.equal(9007199254740993n); // beyond 2^53: exact
    expect(write!.ret).to.equal(-32n);
    expect(write!.truncated).to.equal(true);
    expect(exit!.noRet).to.equal(true);
    expect(trace.signals).to.deep.equal([{ thread: 0, before: 1n, signal: 2, span: trace.signals[0]!.span }]);
    expect(threadEvents(trace).map((e) => e.name)).to.deep.equal(['read', 'write', 'exit_group']);
    // each event keeps the span of its own line
    expect(new LineMap(t).position(write!.span.offset).line).to.equal(5);
  });

  it('reports every bad line at its line and column, and keeps reading', () => {
    const t = [
      '{"mvrcTrace":1}',
      '{"thread":0,"i":0,"name":"read","args":[0,0,1],"ret":1}',
      'not json at all',
      '[1,2,3]',
      '{"thread":0,"i":1,"name":"raed","args":[0,0,1],"ret":1}',
      '{"thread":0,"i":5,"name":"read","args":[0,0,1],"ret":1}',
      '{"thread":0,"i":1,"name":"read","args":[0,0,1],"ret":1,"bufs":{"1":"zz"}}',
      '{"thread":0,"i":1,"name":"read","args":[0,0,"x"],"ret":1}',
      '{"thread":0,"i":1,"name":"write","args":[1,0,2],"ret":2,"bufs":{"1":"6869"}}',
    ].join('\n');
    const { trace, diags } = readJson(t);
    expect(where(t, diags)).to.deep.equal(['MVR9006 3:1', 'MVR9006 4:1', 'MVR9007 5:1', 'MVR9006 6:1', 'MVR9006 7:1', 'MVR9006 8:1']);
    expect(diags.items[2]!.message).to.contain("'raed'");
    expect(diags.items[3]!.message).to.contain('out of order');
    // the good lines around the bad ones are events 0 and 1
    expect(trace.events.map((e) => `${e.name}#${e.index}`)).to.deep.equal(['read#0', 'write#1']);
  });
});

describe('JSON-lines trace reader: gathered data, message parts, capacities, meaning', () => {
  it('keeps a gathered write\'s data, a message\'s name and control data at their positions, and the capacities given', () => {
    const t = [
      '{"mvrcTrace":1,"command":["./srv"],"arch":"x86_64"}',
      `{"thread":0,"i":0,"nr":${nr('writev')},"args":[1,4096,3],"ret":12,"bufs":{"1":"${Buffer.from('hello world\n').toString('hex')}"}}`,
      `{"thread":0,"i":1,"nr":${nr('recvmsg')},"args":[3,4096,0],"ret":2,"bufs":{"1":"6869","3":"020000357f000001","4":"1400000000000000010000000100000005000000"},"caps":{"1":4096,"3":16,"4":24}}`,
      // A sockaddr_un with bytes after its path's NUL, an fd with garbage in its upper half.
      `{"thread":0,"i":2,"nr":${nr('connect')},"args":["${(0xdeadn << 32n) | 5n}",4096,110],"ret":-2,"bufs":{"1":"01002f78005858"}}`,
    ].join('\n');
    const { trace, diags } = readJson(t);
    expect(diags.items).to.deep.equal([]);
    const [w, r, c] = trace.events;
    expect(text(w!.bufs[1])).to.equal('hello world\n');
    expect(text(r!.bufs[1])).to.equal('hi');
    expect(r!.bufs[3]).to.deep.equal(Uint8Array.from([2, 0, 0, 0x35, 127, 0, 0, 1]));
    expect(r!.caps).to.deep.equal([null, 4096, null, 16, 24, null]);
    expect(c!.args[0]).to.equal(5n); // an int: the kernel reads the low half
    expect(c!.bufs[1]).to.deep.equal(Uint8Array.from([1, 0, 0x2f, 0x78])); // up to the path's NUL
  });

  it("reports 'caps' that are not positions and sizes", () => {
    const { diags } = readJson(`{"thread":0,"i":0,"nr":0,"args":[0,0,0],"ret":0,"caps":{"9":1}}\n`);
    expect(diags.items.map((d) => d.code)).to.deep.equal(['MVR9006']);
    expect(diags.items[0]!.message).to.contain("'caps'");
  });
});

describe('strace trace reader', () => {
  it('reads memory by its type: iovec data, msghdr parts, sockaddrs, structures, signal sets, per-command arguments', () => {
    const hx = (s: string): string => [...Buffer.from(s, 'latin1')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    const t = [
      `10 writev(1, [{iov_base="${hx('hel')}", iov_len=3}, {iov_base="${hx('lo\n')}", iov_len=3}], 2) = 6`,
      `10 readv(3, [{iov_base="${hx('ab')}", iov_len=2}, {iov_base="${hx('c')}", iov_len=14}], 2) = 3`,
      `10 sendmsg(4, {msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("${hx('10.0.0.1')}")}, msg_namelen=16, msg_iov=[{iov_base="${hx('q')}", iov_len=1}], msg_iovlen=1, msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[7]}], msg_controllen=24, msg_flags=0}, MSG_NOSIGNAL) = 1`,
      `10 connect(5, {sa_family=AF_UNIX, sun_path=@"${hx('mvr')}"}, 6) = -1 ECONNREFUSED (Connection refused)`,
      `10 fcntl(5, F_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=100}) = 0`,
      '10 rt_sigprocmask(SIG_BLOCK, [INT TERM], NULL, 8) = 0',
      '10 setsockopt(5, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=5}, 8) = 0',
      '10 accept4(3, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, [128 => 28], SOCK_CLOEXEC) = 6',
    ].join('\n');
    const { trace, diags } = readStrace(t);
    expect(diags.items.map((d) => d.message)).to.deep.equal([]);
    const [wv, rv, sm, cn, fc, mask, so, ac] = trace.events;
    expect(text(wv!.bufs[1])).to.equal('hello\n');
    expect(text(rv!.bufs[1])).to.equal('abc');
    expect(rv!.caps?.[1]).to.equal(16);
    expect(text(sm!.bufs[1])).to.equal('q');
    expect(sm!.bufs[3]).to.deep.equal(Uint8Array.from([2, 0, 0, 53, 10, 0, 0, 1]));
    expect(sm!.bufs[4]).to.deep.equal(Uint8Array.from([20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]));
    expect(cn!.bufs[1]).to.deep.equal(Uint8Array.from([1, 0, 0, ...Buffer.from('mvr')]));
    expect(fc!.bufs[2]!.length).to.equal(28); // flock without its trailing padding
    expect(new DataView(fc!.bufs[2]!.buffer, fc!.bufs[2]!.byteOffset).getInt16(0, true)).to.equal(1);
    expect(mask!.bufs[1]).to.deep.equal(Uint8Array.from([0x02, 0x40, 0, 0, 0, 0, 0, 0]));
    expect(so!.bufs[3]).to.deep.equal(Uint8Array.from([1, 0, 0, 0, 5, 0, 0, 0]));
    expect(ac!.bufs[1]!.subarray(0, 4)).to.deep.equal(Uint8Array.from([10, 0, 0, 80]));
    expect(ac!.bufs[1]![23]).to.equal(1);
    expect(ac!.bufs[2]).to.deep.equal(Uint8Array.from([28, 0, 0, 0])); // the value after =>
  });


  it('reads pid prefixes, errors, flags, -xx strings, truncation and exits', () => {
    const t = [
      '4242  execve("\\x2e\\x2f\\x70", ["\\x2e\\x2f\\x70", "\\x68\\x69"], 0x7ffc6c1b6d98 /* 20 vars */) = 0',
      '4242  openat(AT_FDCWD, "\\x2f\\x65\\x74\\x63\\x2f\\x78", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)',
      '4242  openat(AT_FDCWD, "/etc/y", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3',
      '4242  socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 4',
      '4242  epoll_create1(EPOLL_CLOEXEC)      = 5',
      '4242  read(3, "\\x68\\x65\\x6c\\x6c\\x6f"..., 4096) = 4096',
      '4242  write(1, "a\\tb\\n\\"q\\"\\\\", 8) = 8',
      '4242  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f007c40c000',
      '4242  read(3, 0x7ffd00001000, 10) = -1 EAGAIN (Resource temporarily unavailable)',
      '4242  exit_group(0)                     = ?',
      '4242  +++ exited with 0 +++',
    ].join('\n');
    const { trace, diags } = readStrace(t);
    expect(diags.items).to.deep.equal([]);
    const ev = trace.events;
    expect(ev.map((e) => e.name)).to.deep.equal(['execve', 'openat', 'openat', 'socket', 'epoll_create1', 'read', 'write', 'mmap', 'read', 'exit_group']);
    expect(ev.every((e) => e.thread === 4242)).to.equal(true);
    expect(ev.map((e) => e.index)).to.deep.equal([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    expect(text(ev[0]!.bufs[0])).to.equal('./p');
    expect(ev[1]!.args[0]).to.equal(-100n); // AT_FDCWD
    expect(text(ev[1]!.bufs[1])).to.equal('/etc/x');
    expect(ev[1]!.args[2]).to.equal(0o2000000n); // O_RDONLY|O_CLOEXEC
    expect(ev[1]!.ret).to.equal(-2n); // -ENOENT
    expect(ev[2]!.args[2]).to.equal(0o1101n); // O_WRONLY|O_CREAT|O_TRUNC
    expect(ev[2]!.args[3]).to.equal(0o644n); // octal mode
    expect(ev[3]!.args.slice(0, 3)).to.deep.equal([2n, 0o4001n, 6n]);
    expect(ev[4]!.args[0]).to.equal(0o2000000n);
    expect(text(ev[5]!.bufs[1])).to.equal('hello');
    expect(ev[5]!.truncated).to.equal(true);
    expect(text(ev[6]!.bufs[1])).to.equal('a\tb\n"q"\\');
    expect(ev[6]!.truncated).to.equal(false);
    expect(ev[7]!.args.slice(0, 6)).to.deep.equal([0n, 8192n, 3n, 0x22n, -1n, 0n]);
    expect(ev[7]!.ret).to.equal(0x7f007c40c000n);
    expect(ev[8]!.ret).to.equal(-11n);
    expect(ev[8]!.bufs[1]).to.equal(null); // a failed read returned no bytes
    expect(ev[9]!.noRet).to.equal(true);
  });

  it('joins unfinished and resumed calls per pid and places signals before the next event', () => {
    const t = [
      '100   write(1, "\\x61", 1)              = 1',
      '100   clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0000000a10) = 101',
      '100   wait4(-1,  <unfinished ...>',
      '[pid   101] write(1, "\\x62", 1)       = 1',
      '101   exit_group(0)                     = ?',
      '101   +++ exited with 0 +++',
      '100   <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 101',
      '100   --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---',
      '100   read(0,  <unfinished ...>',
      '100   +++ killed by SIGKILL +++',
    ].join('\n');
    const { trace, diags } = readStrace(t);
    expect(diags.items).to.deep.equal([]);
    const main = threadEvents(trace);
    expect(main.map((e) => `${e.name}#${e.index}`)).to.deep.equal(['write#0', 'clone#1', 'wait4#2', 'read#3']);
    expect(threadEvents(trace, 101).map((e) => `${e.name}#${e.index}`)).to.deep.equal(['write#0', 'exit_group#1']);
    const clone = main[1]!;
    expect(clone.args[0]).to.equal(0x200000n | 0x1000000n | 17n); // flags, in the kernel's order
    expect(clone.args[3]).to.equal(0x7f0000000a10n); // child_tidptr
    const wait4 = main[2]!;
    expect(wait4.ret).to.equal(101n);
    expect(wait4.args[0]).to.equal(-1n);
    // the resumed call keeps the line where it started
    expect(new LineMap(t).position(wait4.span.offset).line).to.equal(3);
    expect(trace.signals.map((s) => [s.thread, s.before, s.signal])).to.deep.equal([[100, 3n, 17]]);
    // a call never resumed (its process was killed) did not return
    expect(main[3]!.noRet).to.equal(true);
  });

  it('gives the threads in creation order: the order in which their creating calls started', () => {
    const t = [
      '100   clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x7f1, parent_tid=0x7f1, exit_signal=0, stack=0x7f0, stack_size=0x7fff00, tls=0x7f2} => {parent_tid=[101]}, 88) = 101',
      '100   fork( <unfinished ...>',
      '102   write(1, "\\x62", 1) = 1', // the fork's child runs before the fork returns
      '101   write(1, "\\x61", 1) = 1',
      '100   <... fork resumed>) = 102',
      '100   vfork() = 103', // not paired by the runtime, nor its descendants
      '103   fork() = 104',
      '104   write(1, "\\x63", 1) = 1',
      '103   write(1, "\\x63", 1) = 1',
      '100   clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 105', // posix_spawn
      '105   write(1, "\\x64", 1) = 1',
      '106   write(1, "\\x65", 1) = 1', // a pid whose creation the trace does not show: last
      '100   exit_group(0) = ?',
    ].join('\n');
    const { trace, diags } = readStrace(t);
    expect(diags.items).to.deep.equal([]);
    expect(traceThreads(trace).map((x) => x.id)).to.deep.equal([100, 101, 102, 106]);
    expect(traceThreads(trace)[1]!.creator?.name).to.equal('clone3');
    // mvrc traces: the ring number is the creation order (a ring without events keeps its place)
    const j = readJson(['{"mvrcTrace":1}', '{"thread":2,"i":0,"name":"getpid","args":[],"ret":1}', '{"thread":0,"i":0,"name":"getpid","args":[],"ret":1}'].join('\n'));
    expect(traceThreads(j.trace).map((x) => x.id)).to.deep.equal([0, 1, 2]);
    expect(traceThreads(readJson('{"mvrcTrace":1}').trace).map((x) => x.id)).to.deep.equal([0]);
  });

  it('reports unknown syscalls and unreadable lines at their lines, and goes on', () => {
    const t = [
      'write(1, "\\x61", 1) = 1',
      'frobnicate(1, 2) = 0',
      'this is not strace output',
      'write(1, "unterminated, 1) = 1',
      'write(1, "b", 1) = banana',
      '<... read resumed>"x", 1) = 1',
      'syscall_0x1ff(0x1, 0x2) = -1 ENOSYS (Function not implemented)',
      'write(1, "\\x63", 1) = 1',
    ].join('\n');
    const { trace, diags } = readStrace(t);
    expect(where(t, diags)).to.deep.equal(['MVR9007 2:1', 'MVR9006 3:1', 'MVR9006 4:1', 'MVR9006 5:1', 'MVR9006 6:1']);
    expect(diags.items[0]!.message).to.contain("'frobnicate'");
    expect(trace.events.map((e) => e.nr)).to.deep.equal([nr('write'), 0x1ff, nr('write')]);
    expect(trace.events.map((e) => e.index)).to.deep.equal([0n, 1n, 2n]);
    expect(trace.events[1]!.ret).to.equal(-38n);
  });

  it('gives a symbol it does not know the same value in every trace, and another symbol another value', () => {
    expect(scalarValue('O_RDONLY|O_CLOEXEC')).to.equal(0o2000000n);
    expect(scalarValue('0x10|O_NONBLOCK')).to.equal(0o4020n);
    expect(scalarValue('FROB_X|O_CLOEXEC')).to.equal(symbolicValue('FROB_X|O_CLOEXEC'));
    expect(scalarValue('FROB_X')).not.to.equal(scalarValue('FROB_Y'));
    // far from any real flag set
    expect(scalarValue('FROB_X') & (1n << 62n)).to.equal(1n << 62n);
    const a = readStrace('fcntl(3, F_SETFL, FROB_X) = 0\n').trace.events[0]!;
    const b = readStrace('1 fcntl(3, F_SETFL, FROB_X) = 0\n').trace.events[0]!;
    expect(a.args).to.deep.equal(b.args);
  });
});

describe('trace readers on arbitrary input', () => {
  // Lines made of the pieces real traces have, shuffled: the readers must report, never throw,
  // and every diagnostic must point inside the text.
  const piece = fc.constantFrom(
    '{', '}', '"thread":', '"i":', '"nr":', '"args":[', ']', '"bufs":{"1":"', '"', ',', '0', '1', '-1', '99999999999999999999',
    '4242  ', '[pid 7] ', 'read(', 'write(', 'openat(', 'AT_FDCWD', 'O_RDONLY|O_CLOEXEC', '"\\x68\\x69"', '"ab"...', ') = ', '-1 ENOENT (x)',
    ' <unfinished ...>', '<... read resumed>', '--- SIGINT {si_signo=SIGINT} ---', '+++ exited with 0 +++', '{st_mode=S_IFREG}', '[1, 2]', '?', '\n', ' ', 'NULL',
  );
  const text = fc.oneof(fc.array(piece, { maxLength: 40 }).map((a) => a.join('')), fc.string({ maxLength: 200 }));
  for (const [name, read] of [['JSON lines', readJson], ['strace', readStrace]] as const) {
    it(`${name}: never throws, and every diagnostic lies within the text`, () => {
      fc.assert(
        fc.property(text, (t) => {
          const { trace, diags } = read(t);
          for (const d of diags.items) expect(d.span.offset + d.span.length).to.be.at.most(t.length);
          for (const e of trace.events) expect(e.args).to.have.length(6);
        }),
        { numRuns: 400 },
      );
    });
  }
});

describe('trace readers: linear time, -y, cut buffers, cut traces, other command lines', function () {
  // The old reader matched a backtracking pattern over every line (looking for strace's
  // "attached" message): one 1 MB line took over 300 s and a 10 MB trace 83 s. The timeout is only
  // a hang detector; bench/trace-bench.mjs times the reader.
  this.timeout(120_000);
  const dir = tempDir('mvrc-trace-shape-');
  const put = (name: string, t: string): string => {
    writeFileSync(join(dir, name), t);
    return join(dir, name);
  };
  const codes = (d: DiagnosticBag): string[] => d.items.map((x) => x.code);
  const read = async (name: string, t: string): Promise<{ trace: Trace | undefined; diags: DiagnosticBag }> => {
    const diags = new DiagnosticBag();
    const trace = await readTraceFile(put(name, t), diags, name);
    return { trace, diags };
  };
  const EXIT = '+++ exited with 0 +++\n';

  it('reads a 1 MB line, and a 10 MB trace of long lines cut by strace messages', () => {
    const big = 'a'.repeat(1 << 20);
    const { trace, diags } = readStrace(`write(1, "${big}", ${big.length}) = ${big.length}\n${EXIT}`);
    expect(codes(diags)).to.deep.equal([]);
    expect(trace.events[0]!.bufs[1]!.length).to.equal(1 << 20);
    // 1 MB of spaces and parentheses: what made the old patterns backtrack, read as one bad line
    const odd = readStrace(`write(1, ${' ()'.repeat(350_000)}\n`);
    expect(codes(odd.diags)).to.deep.equal(['MVR9006']);
    // the same 1 MB line without its closing quote: a bad line
    const bad = readStrace(`write(1, "${big}, 5) = 5\n`);
    expect(codes(bad.diags)).to.deep.equal(['MVR9006']);
    // 10 MB: 640 lines of 16 KB of -xx bytes, strace's "attached" message cutting some calls
    const hx = '\\x61'.repeat(4096);
    const lines: string[] = [];
    for (let i = 0; i < 640; i++) lines.push(i % 16 === 0 ? `write(1, "${hx}", 4096strace: Process 9${i} attached\n) = 4096` : `write(1, "${hx}", 4096) = 4096`);
    const many = readStrace(lines.join('\n') + '\n' + EXIT);
    expect(codes(many.diags)).to.deep.equal([]);
    expect(many.trace.events.length).to.equal(640);
    expect(many.trace.events.every((e) => e.ret === 4096n && e.bufs[1]!.length === 4096 && e.bufs[1]![0] === 0x61)).to.equal(true);
  });

  it('reads -y and -yy annotations: the descriptor is the number, what it names is kept', () => {
    const { trace, diags } = readStrace(
      [
        'openat(AT_FDCWD</home/u>, "/tmp/a, b (1)", O_RDONLY) = 3</tmp/a, b (1)>',
        'read(3</tmp/a, b (1)>, "x", 1) = 1',
        'connect(4<TCP:[127.0.0.1:40000->127.0.0.1:80]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        'write(1</dev/pts/0<char 136:0>>, "ok", 2) = 2',
        'dup2(3</tmp/a, b (1)>, 5</tmp/c>) = 5</tmp/a, b (1)>',
        'poll([{fd=3</tmp/a, b (1)>, events=POLLIN}], 1, 0) = 1 ([{fd=3, revents=POLLIN}])',
        EXIT,
      ].join('\n'),
    );
    expect(codes(diags)).to.deep.equal([]);
    const [open, rd, conn, wr, dup, poll] = trace.events;
    expect(open!.args[0]).to.equal(BigInt.asIntN(64, -100n));
    expect(text(open!.bufs[1])).to.equal('/tmp/a, b (1)');
    expect(open!.ret).to.equal(3n);
    expect(open!.fdPaths?.[0]).to.equal('/home/u');
    expect(open!.fdPaths?.[6]).to.equal('/tmp/a, b (1)');
    expect([rd!.args[0], rd!.ret, text(rd!.bufs[1])]).to.deep.equal([3n, 1n, 'x']);
    expect(rd!.fdPaths?.[0]).to.equal('/tmp/a, b (1)');
    expect([conn!.args[0], conn!.args[2], conn!.fdPaths?.[0]]).to.deep.equal([4n, 16n, 'TCP:[127.0.0.1:40000->127.0.0.1:80]']);
    expect([wr!.args[0], wr!.fdPaths?.[0]]).to.deep.equal([1n, '/dev/pts/0<char 136:0>']);
    expect([dup!.args[0], dup!.args[1], dup!.ret]).to.deep.equal([3n, 5n, 5n]);
    expect(poll!.bufs[0]?.[0]).to.equal(3); // the pollfd's fd, read from `fd=3</tmp/a, b (1)>`
    // without -y the same calls read the same
    const plain = readStrace('openat(AT_FDCWD, "/tmp/a, b (1)", O_RDONLY) = 3\nread(3, "x", 1) = 1\npoll([{fd=3, events=POLLIN}], 1, 0) = 1 ([{fd=3, revents=POLLIN}])\n');
    expect(plain.trace.events.map((e) => [e.ret, text(e.bufs[0]), text(e.bufs[1])])).to.deep.equal([open, rd, poll].map((e) => [e!.ret, text(e!.bufs[0]), text(e!.bufs[1])]));
    expect(plain.trace.events.slice(0, 2).map((e) => e.args[0])).to.deep.equal([open!.args[0], rd!.args[0]]);
  });

  it('reports buffers cut by strace -s (MVR9011) at the first cut line, counting them; none when nothing is cut', async () => {
    const cut = await read('cut.strace', `execve("./p", ["./p"], 0x7ffc /* 1 var */) = 0\nwrite(1, "hello wo"..., 12) = 12\nwrite(1, "hi\\n", 3) = 3\nwrite(1, "second c"..., 20) = 20\n${EXIT}`);
    expect(codes(cut.diags)).to.deep.equal(['MVR9011']);
    expect(cut.diags.items[0]!.message).to.contain('line 2: a buffer of write is cut at 8 bytes (strace -s 8), as on 2 line(s)');
    expect(cut.trace!.events[1]!.truncated).to.equal(true);
    const whole = await read('whole.strace', `execve("./p", ["./p"], 0x7ffc /* 1 var */) = 0\nwrite(1, "hello world\\n", 12) = 12\n${EXIT}`);
    expect(codes(whole.diags)).to.deep.equal([]);
    // mvrc record marks a cut buffer "truncated"
    const j = '{"mvrcTrace":1,"command":["./p"]}\n{"thread":0,"i":0,"name":"write","args":[1,0,9],"ret":9,"bufs":{"1":"6869"},"truncated":true}\n{"end":true,"status":0}\n';
    expect(codes((await read('cut.jsonl', j)).diags)).to.deep.equal(['MVR9011']);
  });

  it('reports a trace cut in the middle of a line or before the exit (MVR9012), and not a whole one', async () => {
    const head = 'execve("./p", ["./p"], 0x7ffc /* 1 var */) = 0\nwrite(1, "hi\\n", 3) = 3\n';
    const mid = await read('mid.strace', head + 'write(1, "hi\\n", 3');
    expect(codes(mid.diags)).to.include('MVR9012');
    expect(mid.diags.items.find((d) => d.code === 'MVR9012')!.message).to.contain('last line (line 3) has no newline');
    const noExit = await read('noexit.strace', head);
    expect(codes(noExit.diags)).to.deep.equal(['MVR9012']);
    expect(noExit.diags.items[0]!.message).to.contain("without the program's exit");
    expect(codes((await read('whole2.strace', head + 'exit_group(0) = ?\n' + EXIT)).diags)).to.deep.equal([]);
    expect(codes((await read('killed.strace', head + '+++ killed by SIGKILL +++\n')).diags)).to.deep.equal([]);
    // mvrc JSON lines: the end line is the exit
    const j = '{"mvrcTrace":1,"command":["./p"]}\n{"thread":0,"i":0,"name":"getpid","args":[],"ret":7}\n';
    expect(codes((await read('a.jsonl', j)).diags)).to.deep.equal(['MVR9012']);
    expect(codes((await read('b.jsonl', j + '{"end":true,"status":0}\n')).diags)).to.deep.equal([]);
  });

  it('warns when the two traces ran different command lines (MVR9013), not when only the program differs', () => {
    const t = (argv: string[]): string => `execve("${argv[0]}", [${argv.map((a) => JSON.stringify(a)).join(', ')}], 0x7ffc /* 1 var */) = 0\nwrite(1, "hi\\n", 3) = 3\nexit_group(0) = ?\n${EXIT}`;
    put('rules.mvr', '');
    put('v1.strace', t(['./kv-v1', '--port', '0']));
    put('v2.strace', t(['./kv-v2', '--port', '0']));
    put('bb.strace', t(['/bin/busybox', 'kv-v2', '--port', '0']));
    put('ls.strace', t(['/bin/ls', '-l']));
    for (const same of ['v2.strace', 'bb.strace']) {
      const r = mvrc(['verify', 'rules.mvr', '--leader-trace', 'v1.strace', '--follower-trace', same], { cwd: dir });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).not.to.contain('MVR9013');
    }
    const other = mvrc(['verify', 'rules.mvr', '--leader-trace', 'v1.strace', '--follower-trace', 'ls.strace'], { cwd: dir });
    expect(other.stderr).to.match(/^ls\.strace:1:1: warning MVR9013: the traces ran different command lines: the leader \(v1\.strace\) ran "\.\/kv-v1" "--port" "0", the follower "\/bin\/ls" "-l"/m);
    const inf = mvrc(['infer', 'v1.strace', 'ls.strace'], { cwd: dir });
    expect(inf.stderr).to.contain('warning MVR9013');
  });

  it('a difference hidden by a cut is reported with the cut (MVR9011), not verified silently', () => {
    put('empty.mvr', '');
    const t = (s: string): string => `execve("./p", ["./p"], 0x7ffc /* 1 var */) = 0\nwrite(1, "${s}"..., 12) = 12\nexit_group(0) = ?\n${EXIT}`;
    put('c1.strace', t('hello wo'));
    put('c2.strace', t('hello wo'));
    const r = mvrc(['verify', 'empty.mvr', '--leader-trace', 'c1.strace', '--follower-trace', 'c2.strace'], { cwd: dir });
    expect(r.stderr).to.match(/^c2\.strace:2:1: warning MVR9011: line 2: a buffer of write is cut at 8 bytes/m);
  });
});
