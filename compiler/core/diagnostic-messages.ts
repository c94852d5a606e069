// The one catalog of mvrc diagnostics. Codes are stable: never renumber or reuse one.
// Ranges: MVR1xxx syntax, MVR2xxx names, MVR3xxx types, MVR4xxx rule semantics,
// MVR5xxx C compilation, MVR9xxx input files and environment.
// Messages use {0}, {1}... placeholders. A message says what is wrong; `help` says what to do.
// To add a message: append an entry in the right section with the next free code.

export type Severity = 'error' | 'warning' | 'note';

export interface MessageTemplate {
  code: string;
  severity: Severity;
  message: string;
  help?: string;
}

function m(code: string, severity: Severity, message: string, help?: string): MessageTemplate {
  return help === undefined ? { code, severity, message } : { code, severity, message, help };
}

export const Diag = {
  // ---- MVR1xxx: syntax ----------------------------------------------------------------
  UnexpectedToken: m('MVR1001', 'error', 'unexpected {0}; expected {1}'),
  UnterminatedCBlock: m('MVR1002', 'error', "unterminated C block: this '{' has no matching '}'", "close the block with '}' (braces inside C strings, character literals and comments do not count)"),
  UnterminatedDoubleCBlock: m('MVR1003', 'error', "unterminated C block: this '{{' has no matching '}}'", "close the block with '}}'"),
  UnterminatedString: m('MVR1004', 'error', 'unterminated string literal', 'add the closing \'"\' on the same line'),
  UnterminatedComment: m('MVR1005', 'error', "unterminated block comment", "close the comment with '*/'"),
  InvalidCharacter: m('MVR1006', 'error', 'invalid character {0}', 'remove it; rule files are ASCII text outside strings, comments and C blocks'),
  InvalidEscape: m('MVR1007', 'error', 'invalid escape sequence {0} in string', 'use one of \\r \\n \\t \\\\ \\" \\0 or \\xNN'),
  IntegerOutOfRange: m('MVR1008', 'error', 'integer literal {0} does not fit in 64 bits'),
  UnterminatedTypedBlock: m('MVR1009', 'error', "unterminated typed block: this '{0}' has no matching '{1}'"),
  MissingArrow: m('MVR1010', 'error', "expected '=>' between the left and right side of a rule"),
  TooManyErrors: m('MVR1011', 'error', 'too many errors ({0}); stopping here', 'fix the errors above and run again'),
  EmptyRuleSide: m('MVR1012', 'error', "the {0} side of a rule is empty", "write 'nothing' for an empty side"),
  InvalidIncludePath: m('MVR1013', 'error', 'invalid #include path {0}'),
  NestingTooDeep: m('MVR1014', 'error', 'blocks nested deeper than {0} levels', 'simplify the C code or move it into an #include-d header'),
  InvalidInteger: m('MVR1015', 'error', 'invalid integer literal {0}', 'write a decimal, 0x hexadecimal, 0o octal or leading-0 octal integer'),
  ParserInternalError: m('MVR1016', 'error', 'internal error in the parser: {0}', 'please report this input as an mvrc bug'),
  NotCanonical: m('MVR1017', 'error', "'{0}' is not in canonical form; the first difference is on this line", 'run: mvrc fmt --write {1}'),

  // ---- MVR2xxx: names -----------------------------------------------------------------
  UnknownSyscall: m('MVR2001', 'error', "unknown syscall or group '{0}'"),
  UnknownLabel: m('MVR2002', 'error', "'{0}' is not a label bound on the left side of this rule", "bind it on the left with 'as {0}', or call a syscall with '{0}(...)'"),
  DuplicateLabel: m('MVR2003', 'error', "label '{0}' is bound twice in this rule", 'give each left-hand item its own label'),
  DuplicateGroup: m('MVR2004', 'error', "group '{0}' is defined twice", 'rename one of the groups'),
  GroupShadowsSyscall: m('MVR2005', 'error', "group '{0}' has the name of a syscall", 'choose a name that is not a syscall'),
  ImportNotFound: m('MVR2006', 'error', "cannot find imported file '{0}'", "use \"std/NAME\" for a standard rule file or a path relative to this file"),
  ImportCycle: m('MVR2007', 'error', 'import cycle: {0}', 'remove one of the imports'),
  UnusedVariable: m('MVR2008', 'warning', "variable '{0}' is never used", "use '_' for an argument you do not need"),
  UnusedLabel: m('MVR2009', 'warning', "label '{0}' is never used on the right side", "remove 'as {0}' or refer to it on the right side"),
  DuplicateRuleName: m('MVR2010', 'error', "rule name '@{0}' is used twice", 'give each named rule its own name'),
  LabelShadowsSyscall: m('MVR2011', 'warning', "label '{0}' has the name of a syscall; on the right side it refers to the label", 'rename the label'),
  UnknownCVariable: m('MVR2012', 'error', "'$({0})' is not a variable of this rule", 'bind it as an argument of a call in this rule'),
  DuplicateImport: m('MVR2013', 'warning', "'{0}' is imported twice; the second import has no effect", 'remove the second import'),

  // ---- MVR3xxx: types -----------------------------------------------------------------
  TooManyArguments: m('MVR3001', 'error', "'{0}' takes {1} argument(s) but {2} were given", 'remove the extra arguments'),
  VariableKindConflict: m('MVR3002', 'error', "variable '{0}' is used as {1} here but as {2} elsewhere", 'use a different variable name for each kind of value'),
  StringForNonBytes: m('MVR3003', 'error', "a string literal cannot match argument '{0}' of '{1}', which is {2}", 'use an integer, a variable or _'),
  IntegerForBytes: m('MVR3004', 'error', "an integer literal cannot match argument '{0}' of '{1}', which is {2}", 'use a string literal, a variable or _'),
  LabelSyscallMismatch: m('MVR3005', 'error', "label '{0}' is a '{1}' event but is replayed here with {2} argument(s); '{1}' takes {3}"),
  GroupArgs: m('MVR3006', 'error', "group '{0}' cannot take arguments", 'write the group name alone; its members carry the argument patterns'),
  TypedBlockSyntax: m('MVR3010', 'error', '{0} is not allowed in a typed block', 'typed blocks accept comparisons, arithmetic, && || !, string methods (startsWith, endsWith, includes, indexOf, slice, split), const and assignments to outputs and ret'),
  TypedBlockParse: m('MVR3011', 'error', 'typed block does not parse: {0}'),
  TypedBlockUnknownName: m('MVR3012', 'error', "cannot find name '{0}' in this rule", 'typed blocks can use the rule variables, ret, and const bindings'),
  TypedBlockTypeMismatch: m('MVR3013', 'error', 'type mismatch: {0}'),
  TypedBlockAssignInput: m('MVR3014', 'error', "cannot assign to '{0}': only follower outputs and ret can be assigned", 'assign to an output buffer variable or to ret'),
  TypedBlockUnknownMethod: m('MVR3015', 'error', "'{0}' has no method '{1}' in typed blocks"),
  TypedBlockGuardNotBoolean: m('MVR3016', 'error', 'a guard must be a boolean expression, but this is {0}'),
  IntegerOutOfParamRange: m('MVR3017', 'error', "integer {0} is out of range for argument '{1}' of '{2}'"),

  // ---- MVR4xxx: rule semantics --------------------------------------------------------
  ShadowedRule: m('MVR4001', 'warning', 'this rule can never fire: an earlier rule has the same left side and no predicate', 'remove this rule, or add a predicate to the earlier rule'),
  ConflictingRules: m('MVR4002', 'error', 'this rule conflicts with an earlier rule: same left side and first follower call, different follower actions, and no predicate to tell them apart', 'add a predicate to one of them or merge them'),
  EmulationNote: m('MVR4003', 'note', "'{0}' is made by the follower only and may act on a shared resource: it will be emulated, not executed{1}"),
  NothingToNothing: m('MVR4004', 'error', "a rule cannot have 'nothing' on both sides"),
  OnlyStarredItems: m('MVR4005', 'warning', 'every item on the right side is starred, so this rule can match an empty follower sequence', 'remove the * from at least one item'),
  LabelUsedTwice: m('MVR4006', 'error', "label '{0}' is used twice on the right side: one leader event can be given to the follower only once", 'use the label once'),
  LeftSideTooLong: m('MVR4007', 'error', 'the left side has {0} items; at most {1} are supported', 'split the rule'),
  DuplicateBegin: m('MVR4008', 'error', "only one 'begin' rule is allowed per program", 'merge the begin rules'),
  StarAfterStarAmbiguous: m('MVR4009', 'warning', "'{0}' * is followed by another '{0}': the starred item takes every such call, so the next one can never match", 'remove the * or the following item'),
  DivergeWithoutReason: m('MVR4010', 'note', "this 'diverge' has no reason; reports will say only \"expected divergence\"", 'add a reason string: diverge "why"'),
  ExternalExecNote: m('MVR4011', 'note', "'{0}' is local to the follower and will be executed by it"),
  StarredLeft: m('MVR4012', 'error', "'*' is only allowed on the right side"),
  ShadowedNotListed: m('MVR4013', 'note', '{0} more rule(s) can never fire (an earlier rule always applies first) and are not listed', 'remove the repeated rules and run again to see the rest'),
  RuleOnLocalCalls: m('MVR4014', 'error', 'this rule names only calls that each version executes on its own ({0}): they are never recorded nor compared, so the rule can never act', 'remove the rule: the versions may differ in these calls without any rule'),
  LocalCallInRule: m('MVR4015', 'error', "'{0}' is executed by each version on its own, never recorded nor compared, so {1}", "remove it: the versions may differ in it without any rule; to tie the rule to what comes next, name the recorded call that follows it"),
  // mvrc verify: findings about two traces under a rule file (codes 41xx)
  VerifyDivergence: m('MVR4101', 'error', 'divergence: {0}', 'write a rule that maps these calls (mvrc infer suggests one), or fix the new version'),
  VerifyLeftover: m('MVR4102', 'error', '{0} leader event(s) remain that the follower never made, from {1}', "map them to 'nothing' if the new version no longer makes them"),
  VerifyCBlock: m('MVR4103', 'error', 'rule {0} has a C {1}, which the reference interpreter cannot evaluate, at {2}', 'let verify compile the rules (it does when a C compiler, $CC or cc, is found, without --interpreter), write the predicate or callback as a typed block (if (...) / do { ... }), or test this rule with mvrc run'),
  VerifyExpectedDivergence: m('MVR4104', 'note', 'expected divergence: {0}'),
  VerifyStaleFollower: m('MVR4105', 'error', 'the follower trace was not recorded under these rules: {0}; its later calls react to other data, so verify stops here', 'record the follower under the rules (mvrc run) or compare the traces without this rule'),
  VerifyUnpairedThread: m('MVR4106', 'error', '{0} (threads and child processes are paired by creation order)', 'the two runs must create the same threads and processes in the same order; record both under the same workload'),

  // ---- MVR5xxx: C compilation ---------------------------------------------------------
  CCompileError: m('MVR5001', 'error', 'C compiler: {0}'),
  CCompileWarning: m('MVR5002', 'error', 'C compiler warning (treated as error): {0}'),
  CCompilerFailed: m('MVR5003', 'error', 'C compiler failed: {0}'),
  CCompilerNotFound: m('MVR5004', 'error', "cannot run the C compiler '{0}': {1}", 'install gcc (or set CC to a C compiler)'),
  CBlocksNotChecked: m('MVR5005', 'note', "C blocks were not checked: cannot run the C compiler '{0}' ({1}); mvrc build will compile them", 'install gcc (or set CC to a C compiler), or pass --no-cc to skip this step'),

  // ---- MVR9xxx: input files and environment -------------------------------------------
  CannotReadFile: m('MVR9001', 'error', "cannot read '{0}': {1}"),
  IsADirectory: m('MVR9002', 'error', "'{0}' is a directory, not a rule file", 'name a .mvr file'),
  BinaryFile: m('MVR9003', 'error', "'{0}' is not a text file (it contains NUL or invalid UTF-8 bytes)", 'name a .mvr rule file'),
  FileTooLarge: m('MVR9004', 'error', "'{0}' is {1} bytes; rule files larger than {2} bytes are not accepted"),
  InternalError: m('MVR9005', 'error', 'internal error while {0}: {1}', 'this is a bug in mvrc; please report it together with the rule file'),
  TraceLineInvalid: m('MVR9006', 'error', 'line {0} of the trace cannot be read: {1}', 'traces are mvrc JSON lines (mvrc record, docs/traces.md) or strace -f -s 4096 -xx output'),
  TraceUnknownSyscall: m('MVR9007', 'error', "unknown syscall '{0}' in the trace", 'the syscall table is compiler/syscalls/x86_64.tsv (x86-64 only)'),
  TraceEmpty: m('MVR9008', 'error', "'{0}' holds no events", 'record one with mvrc record -o FILE -- CMD...'),
  TraceIsADirectory: m('MVR9009', 'error', "'{0}' is a directory, not a trace", 'name a trace file (mvrc record -o FILE)'),
  TraceNotText: m('MVR9010', 'error', "'{0}' is not a trace: it contains NUL or invalid UTF-8 bytes", 'traces are text: mvrc JSON lines (mvrc record) or strace -f -s 4096 -xx output'),
  TraceBuffersCut: m('MVR9011', 'warning', 'line {0}: a buffer of {1} is cut at {2} bytes ({3}), as on {4} line(s) of this trace: a difference past a cut is not seen, so the verdict holds only for the bytes shown', 'record with a larger limit (strace -s 65536, or mvrc record) to compare whole buffers'),
  TraceCut: m('MVR9012', 'warning', 'the trace looks cut: {0}; what the program did after the cut is not compared', 'record the run to its end (let the program exit before stopping the recorder)'),
  TraceCommandsDiffer: m('MVR9013', 'warning', 'the traces ran different command lines: the leader ({1}) ran {0}, the follower {2}; verify and infer compare two runs of the same workload', 'record both versions with the same arguments and input'),
  TraceTooLarge: m('MVR9014', 'error', "'{0}' is {1} bytes; mvrc infer holds a trace in memory and reads traces of at most {2} bytes", 'record a shorter run for infer (mvrc verify streams traces of any size)'),
  TraceLittleInCommon: m('MVR9015', 'warning', 'the traces have little in common: {0} of the leader\'s {1} events and {2} of the follower\'s {3} calls are the same calls in the same order; are they runs of the same program under the same workload?', 'record both versions of one program with the same arguments and input'),
} as const satisfies Record<string, MessageTemplate>;

export type DiagKey = keyof typeof Diag;

export function formatMessage(template: string, args: readonly (string | number)[]): string {
  return template.replace(/\{(\d+)\}/g, (_all, i: string) => String(args[Number(i)] ?? ''));
}
