// Structure layouts (the @struct sections of compiler/syscalls/x86_64.tsv) as flat lists of
// fields, and the comparison program of a structure: which bytes mean something. Used by the
// comparison of arguments (meaning.ts), by reports (decode.ts), by the strace reader and by the
// generator of the C tables (scripts/gen-syscalls.ts), so that every one of them reads the same
// bytes the same way.
import type { StructField, StructInfo } from './types.ts';

const PRIM_SIZE: Record<string, number> = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, i64: 8, u64: 8, be16: 2, be32: 4, ptr: 8, fd: 4, inaddr: 4, in6addr: 16 };
const SIZED = new Set(['bytes', 'cstr', 'pad', 'sigset', 'sunpath']);

/** The size in bytes of one field (arrays included). */
export function fieldSize(f: StructField, structOf: (name: string) => StructInfo | undefined): number {
  if (f.type.startsWith('struct:')) return (structOf(f.type.slice(7))?.size ?? 0) * (f.count ?? 1);
  if (SIZED.has(f.type)) return f.count ?? 0;
  return (PRIM_SIZE[f.type] ?? 0) * (f.count ?? 1);
}

/** The size of one element of a field (an array's element; the field itself otherwise). */
export function elementSize(f: StructField, structOf: (name: string) => StructInfo | undefined): number {
  if (SIZED.has(f.type)) return f.count ?? 0;
  return fieldSize(f, structOf) / (f.count ?? 1);
}

/** A field is compared unless it is padding, an address, or marked `ignore`. */
export function isCompared(f: StructField): boolean {
  return f.type !== 'pad' && f.type !== 'ptr' && !f.ignore;
}

/** A leaf of a flattened structure: a primitive field (or one element of an array of them) at
 *  its absolute offset. */
export interface FlatField {
  field: StructField;
  offset: number;
  size: number;
}

/** Every primitive field of `s`, nested structures and arrays of structures expanded, in order. */
export function flatten(s: StructInfo, structOf: (name: string) => StructInfo | undefined, base = 0): FlatField[] {
  const out: FlatField[] = [];
  for (const f of s.fields) {
    if (f.type.startsWith('struct:')) {
      const sub = structOf(f.type.slice(7));
      if (!sub) continue;
      for (let k = 0; k < (f.count ?? 1); k++) out.push(...flatten(sub, structOf, base + f.offset + k * sub.size));
    } else out.push({ field: f, offset: base + f.offset, size: fieldSize(f, structOf) });
  }
  return out;
}

/** One step of a comparison program: bytes that are never compared (zero), or a string whose
 *  bytes after its NUL are not compared (cstr; sunpath: unless it is an abstract name). */
export interface CanonOp {
  op: 'zero' | 'cstr' | 'sunpath';
  offset: number;
  length: number;
}

/**
 * How to compare a structure by meaning: the ops, the end of the last compared field (bytes past
 * it mean nothing: a sockaddr_in's sin_zero), and `tail`, the op of the last compared field when
 * it is a string (a sockaddr_un's path ends at its NUL, or at the address's end when abstract).
 */
export interface CanonProgram {
  ops: CanonOp[];
  end: number;
  tail: number | null;
}

export function canonProgram(s: StructInfo, structOf: (name: string) => StructInfo | undefined): CanonProgram {
  const ops: CanonOp[] = [];
  let end = 0;
  let tail: number | null = null;
  for (const ff of flatten(s, structOf)) {
    const f = ff.field;
    if (!isCompared(f)) {
      // Adjacent ranges merge: fewer steps for the C side.
      const last = ops[ops.length - 1];
      if (last && last.op === 'zero' && last.offset + last.length === ff.offset) last.length += ff.size;
      else ops.push({ op: 'zero', offset: ff.offset, length: ff.size });
      continue;
    }
    if (f.type === 'cstr' || f.type === 'sunpath') {
      ops.push({ op: f.type, offset: ff.offset, length: ff.size });
      tail = ops.length - 1;
    } else tail = null;
    end = ff.offset + ff.size;
  }
  return { ops, end, tail };
}

/**
 * The meaningful bytes of a structure: the bytes of fields that are never compared set to zero,
 * a string's bytes after its NUL set to zero, and the bytes past the last compared field cut off
 * (past a trailing string's NUL too). `whole`: keep the length (an element of an array).
 */
export function canonicalize(p: CanonProgram, bytes: Uint8Array, whole = false): Uint8Array {
  const out = Uint8Array.from(bytes);
  const n = out.length;
  let cut = Math.min(n, p.end);
  p.ops.forEach((o, k) => {
    const from = Math.min(o.offset, n);
    const to = Math.min(o.offset + o.length, n);
    if (o.op === 'zero') {
      out.fill(0, from, to);
      return;
    }
    // An abstract socket name starts with a NUL and is as long as the address: all of it counts.
    if (o.op === 'sunpath' && from < to && out[from] === 0) {
      if (k === p.tail) cut = n;
      return;
    }
    let nul = to;
    for (let i = from; i < to; i++) {
      if (out[i] === 0) {
        nul = i;
        break;
      }
    }
    out.fill(0, nul, to);
    if (k === p.tail) cut = Math.min(cut, nul);
  });
  return whole ? out : out.subarray(0, cut);
}
