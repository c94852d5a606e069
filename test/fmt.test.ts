// The canonical printer (`mvrc fmt`): layout, comment preservation, idempotency.
import { expect } from 'chai';
import type { MvrFile, Rule } from '../compiler/syntax/ast.ts';
import { DiagnosticBag } from '../compiler/core/diagnostics.ts';
import { PRINT_WIDTH, printFile, printRule } from '../compiler/syntax/printer.ts';
import { parseSource } from '../grammar/index.ts';

function parse(text: string): MvrFile {
  const bag = new DiagnosticBag();
  const file = parseSource({ path: 'fmt.mvr', text }, bag);
  expect(bag.items.map((d) => `${d.code} ${d.message}`), text).to.deep.equal([]);
  return file;
}

/** Formats text, checking on the way that formatting again changes nothing. */
function fmt(text: string): string {
  const once = printFile(parse(text));
  expect(printFile(parse(once)), 'not idempotent').to.equal(once);
  return once;
}

const SECTION7 = `open(_,_,_) => dup(_), lseek(_,_,_)
rt_sigaction(_,_) as segv, rt_sigaction(_,_) as ill, rt_sigaction(_,_) as bus,
  rt_sigaction(_,_) as fpe => ill, rt_sigaction(_,_), bus, fpe, segv
group calls = { read(_,_,_), write(_,_,_) }
calls as self => gettid(), write(_,_,_), rt_sigprocmask(_), self, rt_sigprocmask(_), gettid(), read(_,_,_)
nothing => rt_sigaction(15,_,_)
write(_,_,_) => write(_,_,count) -> (ret) { $(ret) = $(count); }
begin => mprotect(_), mprotect(_) *, munmap(_)
read(_,_,_), write(_,"500 Unknown command",_) => read(_,"FOOBAR\\r\\n",8), write(_,"500 Unknown command",_)
read(fd,s,n) {{ return strncmp(s, "put(", 4) == 0; }}
  => read(fd,ss,n) {{ /* build ss from s */ }} {{ ret += 7; }}
read(fd, s, _) if (s.startsWith("PUT-") && !s.startsWith("PUT-string ")) as r => r(fd, "bad-cmd\\n", 8)
`;

describe('fmt: canonical layout', () => {
  it('formats the §7 examples (one item per line, ", ", breaks after => and commas past 100 columns)', () => {
    expect(fmt(SECTION7)).to.equal(`open(_, _, _) => dup(_), lseek(_, _, _)
rt_sigaction(_, _) as segv, rt_sigaction(_, _) as ill, rt_sigaction(_, _) as bus,
    rt_sigaction(_, _) as fpe =>
    ill, rt_sigaction(_, _), bus, fpe, segv
group calls = { read(_, _, _), write(_, _, _) }
calls as self =>
    gettid(), write(_, _, _), rt_sigprocmask(_), self, rt_sigprocmask(_), gettid(), read(_, _, _)
nothing => rt_sigaction(15, _, _)
write(_, _, _) => write(_, _, count) -> (ret) { $(ret) = $(count); }
begin => mprotect(_), mprotect(_) *, munmap(_)
read(_, _, _), write(_, "500 Unknown command", _) =>
    read(_, "FOOBAR\\r\\n", 8), write(_, "500 Unknown command", _)
read(fd, s, n) {{ return strncmp(s, "put(", 4) == 0; }} =>
    read(fd, ss, n) {{ /* build ss from s */ }} {{ ret += 7; }}
read(fd, s, _) if (s.startsWith("PUT-") && !s.startsWith("PUT-string ")) as r =>
    r(fd, "bad-cmd\\n", 8)
`);
  });

  it('no line is longer than 100 columns when the elements fit', () => {
    const long = `a(_) => ${Array.from({ length: 30 }, (_, i) => `call${i}(fd, "x", ${i})`).join(', ')}`;
    const out = fmt(long);
    for (const line of out.trimEnd().split('\n')) expect(line.length).to.be.at.most(PRINT_WIDTH);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).to.equal('a(_) =>');
    expect(lines.slice(1).every((l) => l.startsWith('    call'))).to.equal(true);
    expect(lines.length).to.be.greaterThan(3);
  });

  it('a rule of exactly 100 columns stays on one line; 101 columns breaks', () => {
    const pad = (n: number): string => `a => ${'b'.repeat(n - 5)}`;
    expect(fmt(pad(100))).to.equal(`${pad(100)}\n`);
    expect(fmt(`x(_) => ${'c'.repeat(101 - 8)}`)).to.equal(`x(_) =>\n    ${'c'.repeat(93)}\n`);
  });

  it('a long group breaks after its "{" and lists members with a 4-space indent', () => {
    const members = Array.from({ length: 12 }, (_, i) => `member_number_${i}(_, _)`);
    const out = fmt(`group g = { ${members.join(',')} }`);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).to.equal('group g = {');
    expect(lines[lines.length - 1]).to.equal('}');
    expect(lines.slice(1, -1).every((l) => l.startsWith('    ') && l.length <= PRINT_WIDTH)).to.equal(true);
    expect(lines.slice(1, -1).map((l) => l.trim()).join(' ')).to.equal(members.join(', '));
  });

  it('C blocks and typed blocks are printed verbatim, even over several lines', () => {
    const text = 'write(_,_,_) => write(_,_,n) {\n  if (n > 0) {\n      n--;   /* keep */\n  }\n} -> do {   ret = n;\n}\n';
    expect(fmt(text)).to.equal('write(_, _, _) => write(_, _, n) {\n  if (n > 0) {\n      n--;   /* keep */\n  }\n} -> do {   ret = n;\n}\n');
    expect(fmt('a(s)   if (  s.length>3  ) => b')).to.equal('a(s) if (  s.length>3  ) => b\n');
  });

  it('keeps the spelling of literals; callbacks use "->" except the slides {{ }} {{ }} form', () => {
    expect(fmt('a("\\x41b", 0x1F, 017, -0o7) => b')).to.equal('a("\\x41b", 0x1F, 017, -0o7) => b\n');
    expect(fmt('a => b { g } -> { c }, d {{ g }} {{ c }}, e {{ g }} -> (r) {{ c }}')).to.equal('a => b { g } -> { c }, d {{ g }} {{ c }}, e {{ g }} -> (r) {{ c }}\n');
    expect(fmt('a => b -> {{ c }}')).to.equal('a => b -> {{ c }}\n');
  });

  it('@name, diverge, includes and imports', () => {
    expect(fmt('@q   read(_,"QUIT",_)=>diverge   "no QUIT"\n#include   <sys/types.h>\n#include "x.h"\nimport   "std/redis"')).to.equal(
      '@q read(_, "QUIT", _) => diverge "no QUIT"\n#include <sys/types.h>\n#include "x.h"\nimport "std/redis"\n',
    );
  });

  it('import paths keep non-ASCII characters and escape the rest', () => {
    expect(fmt('import "r\u00e8gles/caf\u00e9"\nimport "a\\"b\\x01"')).to.equal('import "r\u00e8gles/caf\u00e9"\nimport "a\\"b\\x01"\n');
  });

  it('keeps at most one blank line between items, none at the start, one newline at the end', () => {
    expect(fmt('\n\n\na => b\n\n\n\nc => d\ne => f\n\n\n')).to.equal('a => b\n\nc => d\ne => f\n');
    expect(fmt('a => b c => d')).to.equal('a => b\nc => d\n');
    expect(fmt('')).to.equal('');
    expect(fmt('\n\n  \n')).to.equal('');
  });

  it('printRule gives the rule on one line without comments', () => {
    const file = parse('@n open(_,_,_) /* x */ =>\n   dup(_), // y\n  lseek(_,_,_)');
    expect(printRule(file.items[0] as Rule)).to.equal('@n open(_, _, _) => dup(_), lseek(_, _, _)');
  });
});

describe('fmt: comments', () => {
  it('leading comments stay before their item, trailing comments on its line', () => {
    const text = '// about a\n/* block\n   over lines */\na => b   // trailing a\n\n// about c\nc => d /* t1 */ /* t2 */\n// the end\n';
    expect(fmt(text)).to.equal('// about a\n/* block\n   over lines */\na => b // trailing a\n\n// about c\nc => d /* t1 */ /* t2 */\n// the end\n');
  });

  it('comments inside a rule stay after the element they follow', () => {
    const text = 'rt_sigaction(_,_) as segv, // first\n  rt_sigaction(_,_) as ill => ill, /* then */ segv';
    expect(fmt(text)).to.equal('rt_sigaction(_, _) as segv, // first\n    rt_sigaction(_, _) as ill =>\n    ill, /* then */ segv\n');
  });

  it('a comment inside a call moves after the call', () => {
    expect(fmt('a(_, /* fd */ _) => b')).to.equal('a(_, _) /* fd */ => b\n');
    expect(fmt('a => b(_, // why\n  _)\nc => d')).to.equal('a => b(_, _) // why\nc => d\n');
  });

  it('comments in a group and before the "=>" are kept', () => {
    const out = fmt('group g = { read(_,_,_), // reads\n write(_,_,_) /* writes */ }\na /* left */ => b');
    expect(out).to.equal('group g = {\n    read(_, _, _), // reads\n    write(_, _, _) /* writes */\n}\na /* left */ => b\n');
  });

  it('comments sharing a line with each other keep sharing it', () => {
    expect(fmt('/* a */ /* b */\n/* c */\nx => y')).to.equal('/* a */ /* b */\n/* c */\nx => y\n');
  });

  it('a file of comments only', () => {
    expect(fmt('// one\n\n\n/* two */   // three\n')).to.equal('// one\n\n/* two */ // three\n');
  });

  it('keeps every comment of a commented §7 file, in order', () => {
    const lines = SECTION7.trimEnd().split('\n');
    const commented = lines.map((l, i) => (i % 2 === 0 ? `// before ${i}\n${l} /* after ${i} */` : `${l} // end ${i}`)).join('\n');
    const src = parse(commented);
    const out = fmt(commented);
    expect(parse(out).comments.map((c) => c.text)).to.deep.equal(src.comments.map((c) => c.text));
    expect(src.comments).to.have.length(lines.length + Math.ceil(lines.length / 2));
  });
});

describe('fmt: idempotency', () => {
  it('is idempotent on the §7 examples, written in any spacing', () => {
    // (C blocks are verbatim, so the slides example is left as it is)
    const squeezed = SECTION7.split('\n')
      .map((l) => (l.includes('{{') ? l : l.replace(/, /g, ',').replace(/ => /g, '=>')))
      .join('\n');
    const spread = SECTION7.split('\n')
      .map((l) => (l.includes('{{') ? l : l.replace(/,/g, ' ,  ')))
      .join('\n\n');
    const a = fmt(SECTION7);
    expect(fmt(squeezed)).to.equal(a);
    expect(fmt(spread).replace(/\n\n/g, '\n')).to.equal(a);
  });
});
