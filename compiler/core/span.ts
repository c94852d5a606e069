// Spans are offset + length into one source text (as in TypeScript's compiler); line and
// column are computed only when a diagnostic is printed.

export interface Span {
  offset: number;
  length: number;
}

export function span(offset: number, length: number): Span {
  return { offset, length };
}

/** The smallest span covering both. */
export function cover(a: Span, b: Span): Span {
  const start = Math.min(a.offset, b.offset);
  const end = Math.max(a.offset + a.length, b.offset + b.length);
  return { offset: start, length: end - start };
}

export interface SourceFile {
  /** The path as the user named it (printed in diagnostics). */
  path: string;
  text: string;
}

/** 1-based line and column of offsets in a text; columns count UTF-16 code units + 1. */
export class LineMap {
  private readonly starts: number[];
  constructor(readonly text: string) {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      }
    }
    this.starts = starts;
  }
  position(offset: number): { line: number; column: number } {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: o - this.starts[lo]! + 1 };
  }
  lineText(line: number): string {
    const start = this.starts[line - 1] ?? this.text.length;
    const next = this.starts[line] ?? this.text.length;
    return this.text.slice(start, next).replace(/\r?\n$|\r$/, '');
  }
  get lineCount(): number {
    return this.starts.length;
  }
}
