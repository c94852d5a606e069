// Lowering checked typed blocks to C that calls the helpers of runtime-c/include/mvr_typed.h.
// The generated function must have the rule variables as locals (LANGUAGE.md §5):
//   number:          long NAME (size variables may be size_t; the value is read as int64_t)
//   input bytes/path/in_struct:  const char *NAME, size_t NAME_len
//   output bytes/out_struct:     char *NAME, size_t NAME_len, size_t NAME_cap
//   return value:    long ret (or the name given by `-> (name)`)
// and a parameter `struct mvr_arena *mvr_arena`. Every emitted subexpression is a function call
// or fully parenthesized, so the output can be pasted anywhere an expression is allowed.
import type { Expr, Stmt, TypedBlock, TypedExpr } from './ir.ts';

const INT64_MIN = -(1n << 63n);

function num(v: bigint): string {
  if (v === INT64_MIN) return 'INT64_MIN';
  return v < 0n ? `(-INT64_C(${-v}))` : `INT64_C(${v})`;
}

/** A C string literal holding exactly these bytes. Octal escapes (always 3 digits) for anything
 *  but printable ASCII, and '?' escaped too: -std=c11 turns trigraphs like ??= into characters. */
export function cStringLiteral(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c || b === 0x3f) s += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + b.toString(8).padStart(3, '0');
  }
  return s + '"';
}

function bytesLit(v: Uint8Array): string {
  return `mvr_t_lit(${cStringLiteral(v)}, ${v.length})`;
}

function varRead(name: string, ty: Expr['ty']): string {
  if (ty === 'bytes') return `mvr_t_bytes(${name}, ${name}_len)`;
  return `((int64_t)(${name}))`;
}

function expr(e: Expr): string {
  switch (e.k) {
    case 'num':
      return num(e.v);
    case 'bytes':
      return bytesLit(e.v);
    case 'bool':
      return e.v ? '1' : '0';
    case 'var':
      return varRead(e.name, e.ty);
    case 'local':
      return e.local.cname;
    case 'not':
      return `(!${expr(e.e)})`;
    case 'neg':
      return `mvr_t_neg(${expr(e.e)})`;
    case 'arith': {
      const f = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod' }[e.op];
      return `mvr_t_${f}(${expr(e.a)}, ${expr(e.b)})`;
    }
    case 'concat':
      return `mvr_t_concat(mvr_arena, ${expr(e.a)}, ${expr(e.b)})`;
    case 'cmp':
      if (e.operand === 'bytes') return e.op === '==' ? `mvr_t_eq(${expr(e.a)}, ${expr(e.b)})` : `(!mvr_t_eq(${expr(e.a)}, ${expr(e.b)}))`;
      if (e.operand === 'boolean') return e.op === '==' ? `mvr_t_beq(${expr(e.a)}, ${expr(e.b)})` : `(!mvr_t_beq(${expr(e.a)}, ${expr(e.b)}))`;
      return `(mvr_t_cmp(${expr(e.a)}, ${expr(e.b)}) ${e.op} 0)`;
    case 'logic':
      return `(${expr(e.a)} ${e.op} ${expr(e.b)})`;
    case 'cond':
      return `(${expr(e.c)} ? ${expr(e.a)} : ${expr(e.b)})`;
    case 'length':
      return `mvr_t_len(${expr(e.e)})`;
    case 'search': {
      const f = { startsWith: 'starts_with', endsWith: 'ends_with', includes: 'includes', indexOf: 'index_of' }[e.m];
      return `mvr_t_${f}(${expr(e.recv)}, ${expr(e.arg)})`;
    }
    case 'slice':
      return e.end ? `mvr_t_slice(${expr(e.recv)}, ${expr(e.start)}, ${expr(e.end)})` : `mvr_t_slice_from(${expr(e.recv)}, ${expr(e.start)})`;
    case 'template': {
      const parts = e.parts.map((p) => {
        if ('lit' in p) return `mvr_t_part_b(${bytesLit(p.lit)})`;
        const v = expr(p.e);
        if (p.e.ty === 'number') return `mvr_t_part_n(${v})`;
        if (p.e.ty === 'boolean') return `mvr_t_part_b(mvr_t_bool_text(${v}))`;
        return `mvr_t_part_b(${v})`;
      });
      if (parts.length === 0) return `mvr_t_tpl(mvr_arena, NULL, 0)`;
      return `mvr_t_tpl(mvr_arena, (const struct mvr_t_part[]){${parts.join(', ')}}, ${parts.length})`;
    }
    case 'copy':
      return `mvr_t_copy(mvr_arena, ${expr(e.e)})`;
  }
}

const C_TYPE = { number: 'int64_t', bytes: 'struct mvr_bytes', boolean: 'int' } as const;

class BlockWriter {
  private readonly lines: string[] = [];
  private loops = 0;

  line(depth: number, text: string): void {
    this.lines.push('  '.repeat(depth) + text);
  }

  stmts(list: readonly Stmt[], depth: number): void {
    for (const s of list) this.stmt(s, depth);
  }

  private stmt(s: Stmt, d: number): void {
    switch (s.k) {
      case 'const':
        this.line(d, `const ${C_TYPE[s.local.ty]} ${s.local.cname} = ${expr(s.init)};`);
        this.line(d, `(void)${s.local.cname};`);
        return;
      case 'assign': {
        if (s.ty === 'bytes') {
          const v = s.op === '+=' ? `mvr_t_concat(mvr_arena, ${varRead(s.name, 'bytes')}, ${expr(s.value)})` : expr(s.value);
          this.line(d, `mvr_t_assign(${s.name}, &${s.name}_len, ${s.name}_cap, ${v});`);
        } else if (s.ty === 'number') {
          const old = varRead(s.name, 'number');
          const v = s.op === '=' ? expr(s.value) : `mvr_t_${s.op === '+=' ? 'add' : 'sub'}(${old}, ${expr(s.value)})`;
          this.line(d, `${s.name} = (long)(${v});`);
        } else {
          this.line(d, `${s.name} = ${expr(s.value)};`);
        }
        return;
      }
      case 'if':
        this.line(d, `if (${expr(s.c)}) {`);
        this.stmts(s.then, d + 1);
        if (s.else) {
          this.line(d, '} else {');
          this.stmts(s.else, d + 1);
        }
        this.line(d, '}');
        return;
      case 'forSplit': {
        const it = `mvr_it_${++this.loops}`;
        this.line(d, '{');
        this.line(d + 1, `struct mvr_t_split ${it} = mvr_t_split_begin(${expr(s.src)}, ${expr(s.sep)});`);
        this.line(d + 1, `struct mvr_bytes ${s.local.cname} = mvr_t_empty();`);
        this.line(d + 1, `while (mvr_t_split_next(&${it}, &${s.local.cname})) {`);
        this.line(d + 2, `(void)${s.local.cname};`);
        this.stmts(s.body, d + 2);
        this.line(d + 1, '}');
        this.line(d, '}');
        return;
      }
      case 'block':
        this.line(d, '{');
        this.stmts(s.body, d + 1);
        this.line(d, '}');
        return;
    }
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** A C expression of type int, nonzero when the guard holds. Resets the arena first and is
 *  false when the arena overflowed (mvr_arena->overflow then stays set for the caller). */
export function lowerTypedExprToC(e: TypedExpr): string {
  return `mvr_t_guard_end(mvr_arena, (mvr_t_arena_reset(mvr_arena), ${expr(e.expr)}))`;
}

/** C statements (one braced block) that run the callback. Afterwards mvr_arena->overflow says
 *  whether the arena overflowed, in which case outputs and the return value are unspecified. */
export function lowerTypedBlockToC(b: TypedBlock): string {
  const w = new BlockWriter();
  w.line(0, '{');
  w.line(1, 'mvr_t_arena_reset(mvr_arena);');
  w.stmts(b.body, 1);
  w.line(0, '}');
  return w.text();
}
