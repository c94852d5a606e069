// Unit tests of the program loader and checker on the resolved Program (what the back end relies
// on), plus fast-check properties: loadProgram never throws, on random text and on mutated files.
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_SOURCE_BYTES } from '../compiler/core/source-io.ts';
import { defaultStdlibDir, loadProgram } from '../compiler/check/program.ts';
import type { Program, ResolvedRhsItem, ResolvedRule } from '../compiler/check/program-types.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stdlibDir = path.join(repoRoot, 'stdlib-rules');
const ROOT = '/virtual';

/** Loads in-memory files (paths relative to ROOT); the first one is the entry. */
function load(files: Record<string, string | Buffer>, entries?: string[]): Program {
  const readFile = (p: string): Buffer => {
    if (p.startsWith(stdlibDir + path.sep)) return readFileSync(p);
    const rel = path.relative(ROOT, p);
    const content = files[rel];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return typeof content === 'string' ? Buffer.from(content) : content;
  };
  return loadProgram(entries ?? [Object.keys(files)[0]!], { cwd: ROOT, stdlibDir, readFile });
}

function check(text: string): Program {
  return load({ 'main.mvr': text });
}

function codes(p: Program): string[] {
  return p.diagnostics.map((d) => d.code);
}

function rhsItems(r: ResolvedRule): ResolvedRhsItem[] {
  if (r.rhs.kind !== 'seq') throw new Error('expected a right-hand sequence');
  return r.rhs.items;
}

function lhsItems(r: ResolvedRule) {
  if (r.lhs.kind !== 'seq') throw new Error('expected a left-hand sequence');
  return r.lhs.items;
}

describe('checker: resolved program', () => {
  it('gives each variable the kind of its parameter and the side that binds it', () => {
    const p = check('read(fd, s, n) => read(fd, ss, n) {{ return ss != s; }}\n');
    expect(codes(p)).to.deep.equal([]);
    const v = p.rules[0]!.variables;
    expect(v.get('fd')).to.deep.equal({ name: 'fd', kind: 'fd', side: 'leader' });
    expect(v.get('s')).to.deep.equal({ name: 's', kind: 'out_bytes', side: 'leader' });
    expect(v.get('n')).to.deep.equal({ name: 'n', kind: 'size', side: 'leader' });
    expect(v.get('ss')).to.deep.equal({ name: 'ss', kind: 'out_bytes', side: 'follower' });
  });

  it('pads abbreviated argument lists with wildcards to the arity', () => {
    const p = check('nothing => getrlimit(7)\n');
    const [item] = rhsItems(p.rules[0]!);
    expect(item!.kind).to.equal('call');
    if (item!.kind !== 'call') return;
    const alt = item!.alternatives[0]!;
    expect(alt.syscall.name).to.equal('getrlimit');
    expect(alt.args).to.have.length(alt.syscall.arity);
    expect(alt.args[0]).to.deep.equal({ kind: 'int', value: 7n });
    expect(alt.args.slice(1).every((a) => a.kind === 'any')).to.equal(true);
  });

  it('keeps string literals as bytes', () => {
    const p = check('write(_, "a\\r\\n", _) => nothing\n');
    const alt = lhsItems(p.rules[0]!)[0]!.alternatives[0]!;
    expect(alt.args[1]).to.deep.equal({ kind: 'bytes', value: new Uint8Array([97, 13, 10]) });
  });

  it('expands a group into one alternative per member, even when used before its definition', () => {
    const p = check('io as x => getpid(), x\ngroup io = { read(_,_,_), write(fd,_,_) }\n');
    expect(codes(p)).to.deep.equal([]);
    const alts = lhsItems(p.rules[0]!)[0]!.alternatives;
    expect(alts.map((a) => a.syscall.name)).to.deep.equal(['read', 'write']);
    expect(alts[1]!.args[0]).to.deep.equal({ kind: 'var', name: 'fd', varKind: 'fd' });
  });

  it('resolves right-hand labels to the index of their left item', () => {
    const p = check(
      'getrlimit(_,_) as a, getrlimit(_,_) as b, getrlimit(_,_) as c,\n' +
        '  getrlimit(_,_) as d => b, getrlimit(_,_), c, d, a\n',
    );
    expect(codes(p)).to.deep.equal([]);
    const items = rhsItems(p.rules[0]!);
    expect(items.map((i) => (i.kind === 'label' ? i.lhsIndex : i.kind))).to.deep.equal([1, 'call', 2, 3, 0]);
  });

  it('resolves a replayed label with argument patterns padded to the labelled syscall', () => {
    const p = check('read(fd, s, _) as r => r(fd, "bad\\n")\n');
    const [item] = rhsItems(p.rules[0]!);
    expect(item!.kind).to.equal('label');
    if (item!.kind !== 'label') return;
    expect(item!.args!.map((a) => a.kind)).to.deep.equal(['var', 'bytes', 'any']);
  });

  it('a label wins over a syscall of the same name on the right side (with a warning)', () => {
    const p = check('read(_,_,_) as read => read\n');
    expect(codes(p)).to.deep.equal(['MVR2011']);
    expect(rhsItems(p.rules[0]!)[0]!.kind).to.equal('label');
  });

  it('puts imported rules where the import is written, each file once', () => {
    const p = load({
      'main.mvr': 'nothing => getpid()\nimport "a.mvr"\nnothing => gettid()\nimport "b.mvr"\n',
      'a.mvr': 'import "b.mvr"\nnothing => getppid()\n',
      'b.mvr': 'nothing => getpgrp()\n',
    });
    expect(codes(p)).to.deep.equal([]);
    const order = p.rules.map((r) => `${r.file}:${(rhsItems(r)[0] as { alternatives: { syscall: { name: string } }[] }).alternatives[0]!.syscall.name}`);
    expect(order).to.deep.equal(['main.mvr:getpid', 'b.mvr:getpgrp', 'a.mvr:getppid', 'main.mvr:gettid']);
    expect(p.rules.map((r) => r.id)).to.deep.equal([0, 1, 2, 3]);
    expect(p.files.map((f) => f.path)).to.deep.equal(['main.mvr', 'a.mvr', 'b.mvr']);
  });

  it('lists #include items in priority order too', () => {
    const p = load({
      'main.mvr': '#include <a.h>\nimport "x.mvr"\n#include "c.h"\n',
      'x.mvr': '#include "b.h"\n',
    });
    expect(codes(p)).to.deep.equal([]);
    expect(p.includes.map((i) => `${i.file}:${i.include.target}`)).to.deep.equal(['main.mvr:a.h', 'x.mvr:b.h', 'main.mvr:c.h']);
  });

  it('imports relative to the importing file, and reports a file imported twice by the same file', () => {
    const p = load({
      'main.mvr': 'import "sub/a.mvr"\nimport "sub/../sub/a.mvr"\n',
      'sub/a.mvr': 'import "b.mvr"\n',
      'sub/b.mvr': 'nothing => getpid()\n',
    });
    expect(p.files.map((f) => f.path)).to.deep.equal(['main.mvr', 'sub/a.mvr', 'sub/b.mvr']);
    expect(codes(p)).to.deep.equal(['MVR2013']);
    expect(p.rules).to.have.length(1);
  });

  it('resolves std imports against the stdlib directory', () => {
    const p = load({ 'main.mvr': 'import "std/time"\nnothing => getpid()\n' });
    expect(codes(p)).to.deep.equal([]);
    expect(p.files.map((f) => path.basename(f.path))).to.deep.equal(['main.mvr', 'time.mvr']);
    expect(p.rules.at(-1)!.file).to.equal('main.mvr');
    expect(p.rules.length).to.be.greaterThan(1);
  });

  it('reports import cycles with the chain, and missing imports at the string', () => {
    const p = load({ 'a.mvr': 'import "b.mvr"\n', 'b.mvr': 'import "a.mvr"\nimport "c.mvr"\n' });
    const cycle = p.diagnostics.find((d) => d.code === 'MVR2007')!;
    expect(cycle.file).to.equal('b.mvr');
    expect(cycle.message).to.contain('a.mvr -> b.mvr -> a.mvr');
    const missing = p.diagnostics.find((d) => d.code === 'MVR2006')!;
    expect(missing.file).to.equal('b.mvr');
    expect(p.sources.get('b.mvr')!.slice(missing.span.offset, missing.span.offset + missing.span.length)).to.equal('"c.mvr"');
  });

  it('reports unreadable files at the start of the file and never throws', () => {
    const eisdir = (p: string): Buffer => {
      if (p.endsWith('dir.mvr')) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
      if (p.endsWith('big.mvr')) return Buffer.alloc(MAX_SOURCE_BYTES + 1, 0x20);
      if (p.endsWith('bin.mvr')) return Buffer.from([0x6e, 0xff, 0xfe]);
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    };
    const p = loadProgram(['dir.mvr', 'big.mvr', 'bin.mvr', 'none.mvr'], { cwd: ROOT, readFile: eisdir });
    expect(p.diagnostics.map((d) => `${d.file} ${d.code} ${d.span.offset}/${d.span.length}`)).to.deep.equal([
      'big.mvr MVR9004 0/0',
      'bin.mvr MVR9003 0/0',
      'dir.mvr MVR9002 0/0',
      'none.mvr MVR9001 0/0',
    ]);
    expect(p.rules).to.deep.equal([]);
  });

  it('finds the stdlib directory next to the compiler, or where MVRC_STDLIB says', () => {
    const saved = process.env['MVRC_STDLIB'];
    try {
      delete process.env['MVRC_STDLIB'];
      expect(defaultStdlibDir()).to.equal(stdlibDir);
      process.env['MVRC_STDLIB'] = '/elsewhere';
      expect(defaultStdlibDir()).to.equal('/elsewhere');
    } finally {
      if (saved === undefined) delete process.env['MVRC_STDLIB'];
      else process.env['MVRC_STDLIB'] = saved;
    }
  });

  it('reports many problems in one run', () => {
    const p = check('reed(_) => nothing\nnothing => nothing\nread(x,_,_) => write(_,_,x)\nwrite(_, 1, _) => nothing\n');
    expect(codes(p)).to.deep.equal(['MVR2001', 'MVR4004', 'MVR4003', 'MVR3002', 'MVR3004']);
  });

  it('lets a callback assign the outputs of its own item and ret, nothing else', () => {
    expect(codes(check('read(fd,s,n) => read(fd,ss,n) -> do { ss = s; ret = n; }\n'))).to.deep.equal([]);
    // s is the leader's buffer; ss belongs to another item than the callback's.
    const p = check('read(fd,s,n), getpid() => read(fd,ss,n), getpid() -> do { s = "x"; ss = "y"; }\n');
    expect(p.diagnostics.map((d) => `${d.code} ${p.sources.get('main.mvr')!.slice(d.span.offset, d.span.offset + d.span.length)}`)).to.deep.equal([
      'MVR3014 s',
      'MVR3014 ss',
    ]);
  });

  it('a left-hand guard sees only leader variables', () => {
    const p = check('read(fd,s,n) if (ss.length > 0) => read(fd,ss,n) {{ return s_len == n; }}\n');
    expect(p.diagnostics.map((d) => `${d.code} ${d.message}`)).to.deep.equal(["MVR3012 cannot find name 'ss' in this rule"]);
  });

  it('finds $(name) of unknown variables at their exact place in a C block', () => {
    const text = 'write(fd,_,n) => write(fd,_,n) -> (r) { $(r) = $( n ) + $(m); }\n';
    const p = check(text);
    expect(p.diagnostics.map((d) => [d.code, text.slice(d.span.offset, d.span.offset + d.span.length)])).to.deep.equal([['MVR2012', '$(m)']]);
  });

  it('counts a variable named in C text as used', () => {
    expect(codes(check('write(fd,_,_) => write(_,_,_) {{ return fd > 2; }}\n'))).to.deep.equal([]);
    expect(codes(check('write(fd,_,_) => write(_,_,_) {{ return 1; }}\n'))).to.deep.equal(['MVR2008']);
  });

  it('notes emulation only for external calls the follower makes alone', () => {
    const notes = (text: string) =>
      check(text)
        .diagnostics.filter((d) => d.code === 'MVR4003')
        .map((d) => d.message.split("'")[1]);
    // Pairs in order with the next left item not taken by a label.
    expect(notes('read(_,_,_) as r, write(_,_,_) => write(_,_,_), r\n')).to.deep.equal([]);
    // Out of order: the write does not pair with the read that comes first.
    expect(notes('read(_,_,_), write(_,_,_) => write(_,_,_), read(_,_,_)\n')).to.deep.equal(['write']);
    // Local and read-only calls are executed, not emulated.
    expect(notes('nothing => getpid(), dup(_), clock_gettime(_,_)\n')).to.deep.equal([]);
    expect(notes('nothing => unlink(_)\n')).to.deep.equal(['unlink']);
  });

  it('suggests the closest syscall or group name', () => {
    const p = check('group netio = { recvfrom(_), sendto(_) }\nopne(_) => nothing\nnetoi => nothing\n');
    expect(p.diagnostics.map((d) => d.help)).to.deep.equal(["did you mean 'open'?", "did you mean 'netio'?"]);
  });
});

describe('checker: shadowed and conflicting rules', () => {
  const shadowCodes = (text: string) => codes(check(text)).filter((c) => c === 'MVR4001' || c === 'MVR4002');

  it('a group on the left covers each of its members', () => {
    expect(shadowCodes('group io = { read(_,_,_), write(_,_,_) }\nio => nothing\nwrite(1,_,_) => nothing\n')).to.deep.equal(['MVR4001']);
  });
  it('compares rules in the order they are tried: mapping and diverge rules before leader-only ones', () => {
    expect(shadowCodes('write(1,_,_) => nothing\nwrite(1,_,_) => write(1,_,_)\n')).to.deep.equal([]);
    const p = check('write(1,_,_) => nothing\nwrite(1,_,_) => diverge "no"\n');
    const d = p.diagnostics.find((x) => x.code === 'MVR4002')!;
    expect(d.span.offset).to.equal(0); // on the leader-only rule, which the later diverge rule hides
    expect(d.related[0]!.message).to.match(/tried first/);
    expect(shadowCodes('write(1,_,_) => nothing\nwrite(1,_,_) => nothing\n')).to.deep.equal(['MVR4001']);
  });
  it('a literal does not cover a wildcard', () => {
    expect(shadowCodes('read(0,_,_) => nothing\nread(_,_,_) => nothing\n')).to.deep.equal([]);
  });
  it('a variable repeated on the left is a constraint, not a wildcard', () => {
    expect(shadowCodes('read(fd,_,_), write(fd,_,_) => nothing\nread(_,_,_), write(_,_,_) => nothing\n')).to.deep.equal([]);
  });
  it('left sides of different lengths never shadow', () => {
    expect(shadowCodes('read(_,_,_) => nothing\nread(_,_,_), read(_,_,_) => nothing\n')).to.deep.equal([]);
  });
  it('a predicate on the earlier rule prevents shadowing', () => {
    expect(shadowCodes('read(_,s,_) {{ return s_len > 1; }} => nothing\nread(_,_,_) => nothing\n')).to.deep.equal([]);
  });
  it('the earlier first follower item must take every call the later one takes', () => {
    expect(shadowCodes('nothing => write(1,_,_)\nnothing => write(_,_,_)\n')).to.deep.equal([]);
    expect(shadowCodes('nothing => write(_,_,_)\nnothing => write(1,_,_)\n')).to.deep.equal(['MVR4001']);
  });
  it('a starred first item is not compared', () => {
    expect(shadowCodes('nothing => getpid() *, gettid()\nnothing => getpid() *, gettid()\n')).to.deep.equal([]);
  });
  it('same patterns with different actions conflict; identical rules are only shadowed', () => {
    expect(shadowCodes('open(_,_,_) => open(_,_,_), dup(_)\nopen(_,_,_) => open(_,_,_), close(_)\n')).to.deep.equal(['MVR4002']);
    expect(shadowCodes('open(_,_,_) => open(_,_,_), dup(_)\nopen(_,_,_) => open(_,_,_), dup(_)\n')).to.deep.equal(['MVR4001']);
  });
  it('nothing and diverge on the right need no follower call', () => {
    expect(shadowCodes('write(_,_,_) => nothing\nwrite(_,_,_) => diverge "x"\n')).to.deep.equal(['MVR4002']);
    expect(shadowCodes('write(_,_,_) => write(_,_,_)\nwrite(_,_,_) => nothing\n')).to.deep.equal([]);
  });
  it('reports the earlier rule as related location', () => {
    const p = check('nothing => getpid()\n\nnothing => getpid()\n');
    const d = p.diagnostics[0]!;
    expect(d.code).to.equal('MVR4001');
    expect(d.span.offset).to.equal(21);
    expect(d.related.map((r) => r.span.offset)).to.deep.equal([0]);
  });
});

describe('stdlib-rules', () => {
  for (const name of readdirSync(stdlibDir).filter((f) => f.endsWith('.mvr'))) {
    it(`${name} checks clean and has rules`, () => {
      const p = loadProgram([path.join(stdlibDir, name)], { stdlibDir });
      expect(p.diagnostics.map((d) => `${d.code} ${d.message}`)).to.deep.equal([]);
      expect(p.rules.length).to.be.greaterThan(0);
    });
    it(`std/${name.replace(/\.mvr$/, '')} can be imported`, () => {
      const p = load({ 'main.mvr': `import "std/${name.replace(/\.mvr$/, '')}"\n` });
      expect(codes(p)).to.deep.equal([]);
    });
  }
});

describe('loadProgram never throws (properties)', () => {
  const seeds = [
    ...readdirSync(stdlibDir).filter((f) => f.endsWith('.mvr')).map((f) => readFileSync(path.join(stdlibDir, f), 'utf8')),
    readFileSync(path.join(repoRoot, 'test/cases/examples/all-examples.mvr'), 'utf8'),
    readFileSync(path.join(repoRoot, 'test/cases/rules/combined.mvr'), 'utf8'),
  ];
  const fragments = [
    '=>', ',', '(', ')', '{', '}', '{{', '}}', '*', 'as r', 'r', 'nothing', 'begin', 'diverge', 'group g = {', 'g',
    'import "std/time"', 'import "main.mvr"', 'import "other.mvr"', '"x"', '0x10', '-1', '_', 'read(fd,s,n)',
    'write(fd,s,n)', '$(s)', '$(zz)', 'if (s.length > 1)', 'do { ret = 1; }', '-> (ret)', '@n', '\n', '"', '/*', '//',
  ];
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 20 }), fc.oneof(fc.constantFrom(...fragments), fc.string({ maxLength: 6 }))), { minLength: 1, maxLength: 6 }),
    )
    .map(([seed, edits]) => {
      let s = seed;
      for (const [at, del, ins] of edits) {
        const i = s.length === 0 ? 0 : at % s.length;
        s = s.slice(0, i) + ins + s.slice(i + del);
      }
      return s;
    });

  function assertWellFormed(p: Program): void {
    for (const d of p.diagnostics) {
      expect(d.code).to.match(/^MVR\d{4}$/);
      expect(d.code, d.message).not.to.equal('MVR9005');
      const text = p.sources.get(d.file);
      if (text !== undefined) expect(d.span.offset + d.span.length).to.be.at.most(text.length);
    }
  }

  it('on random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        assertWellFormed(check(text));
      }),
      { numRuns: 300 },
    );
  });

  it('on arbitrary bytes and unicode text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 120 }), (bytes, text) => {
        assertWellFormed(load({ 'main.mvr': `import "b.mvr"\n${text}`, 'b.mvr': Buffer.from(bytes) }));
      }),
      { numRuns: 200 },
    );
  });

  // Syntactically valid rules built from random parts: the checker's invariants hold on them.
  const names = ['read', 'write', 'open', 'close', 'getpid', 'mmap', 'g', 'r', 'nosuch'];
  const arg = fc.constantFrom('_', 'x', 'y', 'fd', '0', '-1', '"s"', '7');
  const call = fc.tuple(fc.constantFrom(...names), fc.option(fc.array(arg, { maxLength: 7 }), { nil: undefined })).map(([n, a]) => (a ? `${n}(${a.join(', ')})` : n));
  const lhsItem = fc.tuple(call, fc.constantFrom('', ' as r', ' as q', ' {{ return x > 0; }}')).map(([c, s]) => c + s);
  const rhsItem = fc.tuple(call, fc.constantFrom('', ' *', ' -> { $(ret) = 0; }', ' -> do { ret = 1; }')).map(([c, s]) => c + s);
  const rule = fc.oneof(
    fc.tuple(fc.array(lhsItem, { minLength: 1, maxLength: 3 }), fc.array(rhsItem, { minLength: 1, maxLength: 4 })).map(([l, r]) => `${l.join(', ')} => ${r.join(', ')}`),
    fc.array(rhsItem, { minLength: 1, maxLength: 3 }).map((r) => `nothing => ${r.join(', ')}`),
    fc.array(lhsItem, { minLength: 1, maxLength: 3 }).map((l) => `${l.join(', ')} => nothing`),
  );
  const ruleFile = fc.array(rule, { minLength: 1, maxLength: 6 }).map((rs) => `group g = { read(fd,_,_), write(_,_,_) }\n${rs.join('\n')}\n`);

  it('on generated rules: resolved patterns are consistent with the syscall table', () => {
    fc.assert(
      fc.property(ruleFile, (text) => {
        const p = check(text);
        assertWellFormed(p);
        for (const r of p.rules) {
          const lhs = r.lhs.kind === 'seq' ? r.lhs.items : [];
          const alts = [...lhs.flatMap((i) => i.alternatives), ...(r.rhs.kind === 'seq' ? r.rhs.items.flatMap((i) => (i.kind === 'call' ? i.alternatives : [])) : [])];
          for (const alt of alts) {
            expect(alt.args).to.have.length(alt.syscall.arity);
            alt.args.forEach((a, k) => {
              if (a.kind === 'var') {
                expect(a.varKind).to.equal(alt.syscall.params[k]!.kind);
                expect(r.variables.has(a.name)).to.equal(true);
              }
            });
          }
          if (r.rhs.kind === 'seq') {
            for (const it of r.rhs.items) if (it.kind === 'label') expect(lhs[it.lhsIndex]?.label).to.equal(it.label);
          }
          for (const v of r.variables.values()) {
            const onLeft = lhs.some((i) => i.alternatives.some((a) => a.args.some((x) => x.kind === 'var' && x.name === v.name)));
            expect(v.side).to.equal(onLeft ? 'leader' : 'follower');
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('on mutated valid files that import each other', () => {
    fc.assert(
      fc.property(mutated, mutated, (a, b) => {
        assertWellFormed(load({ 'main.mvr': a, 'other.mvr': b }));
      }),
      { numRuns: 150 },
    );
  });
});
