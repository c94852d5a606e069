import { expect } from 'chai';
import { Diag } from '../compiler/core/diagnostic-messages.ts';
import { DiagnosticBag, MAX_ERRORS } from '../compiler/core/diagnostics.ts';
import { renderDiagnosticsJson, renderDiagnosticsSarif, renderDiagnosticsText } from '../compiler/core/render.ts';
import { LineMap } from '../compiler/core/span.ts';

describe('LineMap', () => {
  it('maps offsets to 1-based line/column across \\n, \\r\\n and \\r', () => {
    const m = new LineMap('ab\ncd\r\nef\rgh');
    expect(m.position(0)).to.deep.equal({ line: 1, column: 1 });
    expect(m.position(4)).to.deep.equal({ line: 2, column: 2 });
    expect(m.position(7)).to.deep.equal({ line: 3, column: 1 });
    expect(m.position(10)).to.deep.equal({ line: 4, column: 1 });
    expect(m.lineText(2)).to.equal('cd');
    expect(m.position(999)).to.deep.equal({ line: 4, column: 3 });
  });
});

describe('diagnostic rendering', () => {
  const src = 'open(_,_,_) => nothing\n\traed(fd, x, _) => nothing\n';
  const sources = new Map([['r.mvr', src]]);
  const bag = new DiagnosticBag();
  const at = src.indexOf('raed');
  bag.add(Diag.UnknownSyscall, 'r.mvr', { offset: at, length: 4 }, ['raed'], {
    help: "did you mean 'read'?",
    related: [{ file: 'r.mvr', span: { offset: 0, length: 11 }, message: 'an earlier rule' }],
  });

  it('prints the GNU first line, a code frame with the caret under the span, help and related notes', () => {
    const text = renderDiagnosticsText(bag.items, sources);
    const lines = text.split('\n');
    expect(lines[0]).to.equal("r.mvr:2:2: error MVR2001: unknown syscall or group 'raed'");
    expect(lines[1]).to.equal(' 2 |  raed(fd, x, _) => nothing');
    expect(lines[2]).to.equal('   |  ^^^^');
    expect(lines[3]).to.equal("   = help: did you mean 'read'?");
    expect(lines[4]).to.equal('r.mvr:1:1: note: an earlier rule');
    expect(lines[6]).to.equal('   | -----------');
  });

  it('keeps the caret aligned on very long lines and marks multi-line spans', () => {
    const long = 'x'.repeat(500) + 'raed' + 'y'.repeat(500);
    const b = new DiagnosticBag();
    b.add(Diag.UnknownSyscall, 'l.mvr', { offset: 500, length: 4 }, ['raed']);
    const out = renderDiagnosticsText(b.items, new Map([['l.mvr', long]])).split('\n');
    const code = out[1]!.slice(out[1]!.indexOf('| ') + 2);
    const caret = out[2]!.slice(out[2]!.indexOf('| ') + 2);
    expect(code.slice(caret.indexOf('^'), caret.indexOf('^') + 4)).to.equal('raed');
    expect(code.length).to.be.below(200);
    const ml = new DiagnosticBag();
    ml.add(Diag.UnterminatedCBlock, 'm.mvr', { offset: 0, length: 9 }, []);
    expect(renderDiagnosticsText(ml.items, new Map([['m.mvr', '{ a\nb\nc }']]))).to.contain('^^^ ...');
  });

  it('JSON carries line, column, end and offsets', () => {
    const j = JSON.parse(renderDiagnosticsJson(bag.items, sources)) as { diagnostics: Record<string, unknown>[] };
    expect(j.diagnostics[0]).to.include({ code: 'MVR2001', severity: 'error', line: 2, column: 2, endLine: 2, endColumn: 6, offset: at, length: 4 });
  });

  it('SARIF 2.1.0 lists each rule once and links related locations', () => {
    const s = JSON.parse(renderDiagnosticsSarif([...bag.items, ...bag.items], sources, '0.0.0')) as {
      version: string;
      runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleIndex: number; relatedLocations: unknown[]; level: string }[] }[];
    };
    expect(s.version).to.equal('2.1.0');
    expect(s.runs[0]!.tool.driver.rules).to.have.length(1);
    expect(s.runs[0]!.results).to.have.length(2);
    expect(s.runs[0]!.results[0]).to.include({ ruleIndex: 0, level: 'error' });
    expect(s.runs[0]!.results[0]!.relatedLocations).to.have.length(1);
  });

  it('stops collecting after MAX_ERRORS errors with one MVR1011', () => {
    const b = new DiagnosticBag();
    for (let i = 0; i < MAX_ERRORS + 50; i++) b.add(Diag.InvalidCharacter, 'f', { offset: i, length: 1 }, ["'#'"]);
    expect(b.items).to.have.length(MAX_ERRORS + 1);
    expect(b.items.at(-1)!.code).to.equal('MVR1011');
  });

  it('every catalog code is unique and well-formed', () => {
    const codes = Object.values(Diag).map((d) => d.code);
    expect(new Set(codes).size).to.equal(codes.length);
    for (const c of codes) expect(c).to.match(/^MVR[1-59]\d{3}$/);
  });
});
