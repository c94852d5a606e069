// Diagnostics: a coded message, a precise span, related locations, and help text.
// A DiagnosticBag collects problems from every pass so that one run reports many at once.
import { Diag, formatMessage, type MessageTemplate, type Severity } from './diagnostic-messages.ts';
import type { Span } from './span.ts';

export interface RelatedLocation {
  file: string;
  span: Span;
  message: string;
}

export interface Diagnostic {
  code: string;
  severity: Severity;
  message: string;
  file: string;
  span: Span;
  related: RelatedLocation[];
  help?: string;
}

export const MAX_ERRORS = 200;

export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  private errors = 0;
  private stopped = false;

  /** Adds a diagnostic built from the catalog. Returns it so callers can attach related locations. */
  add(
    template: MessageTemplate,
    file: string,
    at: Span,
    args: readonly (string | number)[] = [],
    opts: { related?: RelatedLocation[]; help?: string } = {},
  ): Diagnostic | undefined {
    if (this.stopped) return undefined;
    const d: Diagnostic = {
      code: template.code,
      severity: template.severity,
      message: formatMessage(template.message, args),
      file,
      span: at,
      related: opts.related ?? [],
    };
    const help = opts.help ?? (template.help !== undefined ? formatMessage(template.help, args) : undefined);
    if (help !== undefined) d.help = help;
    if (d.severity === 'error') {
      this.errors++;
      if (this.errors > MAX_ERRORS) {
        this.stopped = true;
        this.items.push({ ...d, code: Diag.TooManyErrors.code, message: formatMessage(Diag.TooManyErrors.message, [MAX_ERRORS]), related: [], help: Diag.TooManyErrors.help! });
        return undefined;
      }
    }
    this.items.push(d);
    return d;
  }

  get errorCount(): number {
    return this.items.filter((d) => d.severity === 'error').length;
  }
  get hasErrors(): boolean {
    return this.errors > 0;
  }
  /** Diagnostics in file order, then by offset (stable for the same input). */
  sorted(): Diagnostic[] {
    return [...this.items].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.span.offset - b.span.offset || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)));
  }
}
