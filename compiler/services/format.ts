// Formatting, exactly as `mvrc fmt`: the printer's canonical form, and nothing for a file that does
// not parse (formatting it would drop what the parser could not read).
import { DiagnosticBag } from '../core/diagnostics.ts';
import { parseSource } from '../../grammar/index.ts';
import { printFile } from '../syntax/printer.ts';

/** The canonical form of `text`, or undefined when it has syntax errors. */
export function formatText(path: string, text: string): string | undefined {
  const diags = new DiagnosticBag();
  const file = parseSource({ path, text }, diags);
  return diags.hasErrors ? undefined : printFile(file);
}
