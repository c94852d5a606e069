// Every CLI command is a module under compiler/cli/ exporting `run(args, io)`.
// Exit status (DESIGN.md): 0 ok, 1 findings/errors in the input, 2 usage or environment error.

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Working directory paths are resolved against. */
  cwd: string;
  /** Whether stderr is a terminal (colours, progress). */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

export type Command = (args: string[], io: CliIO) => Promise<number>;

/** A usage error: printed as `mvrc: error: MESSAGE` plus the command's usage, exit 2. */
export class UsageError extends Error {}
