// The TypeScript side of the harness: reads the same line format as harness.c (see its header),
// runs the reference interpreter and prints results in the same format, so that the generated
// C module and the interpreter can be compared on identical input.
import type { Automaton } from '../../compiler/lower/automaton.ts';
import { Interpreter, RULE_DEFAULT, type FollowerCall, type InterpreterOptions, type LeaderEvent, type LeaderView, type StepResult } from '../../compiler/semantics/interpreter.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => {
  if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) throw new Error(`bad hex '${s}'`);
  return new Uint8Array(Buffer.from(s, 'hex'));
};

function leaderText(r: StepResult): string {
  if (!r.leader.length) return '';
  return ' L=' + r.leader.map((l, i) => `${i ? ',' : ''}${l.event}:${l.action === 'match' ? 'm' : l.action === 'store' ? 's' : 'k'}`).join('');
}
const ruleText = (r: StepResult): string => (r.rule === RULE_DEFAULT ? ' r=D' : ` r=${r.rule}`);

/** One result line, as harness.c prints it. */
export function formatStep(r: StepResult, finish = false): string {
  if (finish) {
    if (r.status === 'ok') return 'fin ok' + leaderText(r);
    if (r.status === 'need_more') return 'fin need' + leaderText(r);
  }
  const p = finish ? 'fin ' : '';
  switch (r.status) {
    case 'ok': {
      let s = 'ok' + ruleText(r) + ` f=${r.followerAction}`;
      if (r.followerAction === 'match') s += ` ev=${r.event}`;
      if (r.followerAction === 'match' || r.followerAction === 'emulate') {
        s += ` ret=${r.ret}`;
        const outs = r.out.map((b, j) => (b ? `${j}:${hex(b)}` : null)).filter((x) => x !== null);
        if (outs.length) s += ' out=' + outs.join(',');
      }
      return s + leaderText(r);
    }
    case 'need_more':
      return p + 'need' + leaderText(r);
    case 'progress':
      return p + 'progress' + leaderText(r);
    case 'diverge':
      return p + 'diverge' + ruleText(r) + ` reason=${r.reason}`;
    case 'expected_diverge':
      return p + 'expected' + ruleText(r) + ` reason=${r.reason}`;
  }
}

/** Runs a harness input through the interpreter; returns the output lines (joined by \n, final \n). */
export function runInterpreterText(a: Automaton, input: string, opts: InterpreterOptions = {}): string {
  const out: string[] = [];
  const interp = new Interpreter(a, opts);
  let events: LeaderEvent[] = [];
  let eof = false;
  let queue: (FollowerCall | 'finish')[] = [];
  let stopped = false;
  const view: LeaderView = {
    get(index) {
      const i = Number(index);
      return i < events.length ? { event: events[i]!, eof: false } : { event: null, eof };
    },
  };
  const drain = () => {
    while (!stopped && queue.length) {
      const it = queue[0]!;
      if (it === 'finish') {
        const r = interp.finish(view);
        out.push(formatStep(r, true));
        if (r.status === 'need_more') {
          if (r.leader.length) continue;
          return;
        }
        if (r.status !== 'ok') stopped = true;
      } else {
        const r = interp.step(view, it);
        out.push(formatStep(r));
        if (r.status === 'progress') continue; // the same call again
        if (r.status === 'need_more') return;
        if (r.status !== 'ok') stopped = true;
      }
      queue.shift();
    }
  };
  for (const raw of input.split('\n')) {
    const tok = raw.trim().split(/[ \t]+/).filter(Boolean);
    if (!tok.length) continue;
    switch (tok[0]![0]) {
      case 'R':
        events = [];
        queue = [];
        eof = false;
        stopped = false;
        interp.reset(0);
        out.push('reset');
        break;
      case 'E':
        eof = true;
        drain();
        break;
      case 'X':
        queue.push('finish');
        drain();
        break;
      case 'L': {
        const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
        for (const t of tok.slice(9)) bufs[Number(t[0])] = unhex(t.slice(2));
        events.push({
          index: BigInt(events.length),
          nr: Number(tok[1]),
          args: tok.slice(2, 8).map((x) => BigInt.asIntN(64, BigInt(x))),
          ret: BigInt.asIntN(64, BigInt(tok[8]!)),
          bufs,
        });
        drain();
        break;
      }
      case 'F': {
        const bufs: (Uint8Array | null)[] = [null, null, null, null, null, null];
        const caps = [0, 0, 0, 0, 0, 0];
        for (const t of tok.slice(8)) {
          const j = Number(t[0]);
          if (t[1] === '=') bufs[j] = unhex(t.slice(2));
          else caps[j] = Number(t.slice(2));
        }
        queue.push({ nr: Number(tok[1]), args: tok.slice(2, 8).map((x) => BigInt.asIntN(64, BigInt(x))), bufs, caps });
        drain();
        break;
      }
      default:
        throw new Error(`unknown harness line '${raw}'`);
    }
  }
  return out.map((l) => l + '\n').join('');
}

// ---- building stream text ----

export interface EventSpec {
  nr: number;
  args?: (bigint | number)[];
  ret?: bigint | number;
  bufs?: Record<number, Uint8Array | string>;
}
export interface CallSpec {
  nr: number;
  args?: (bigint | number)[];
  bufs?: Record<number, Uint8Array | string>;
  caps?: Record<number, number>;
}

const asBytes = (b: Uint8Array | string): Uint8Array => (typeof b === 'string' ? new TextEncoder().encode(b) : b);
const six = (a: (bigint | number)[] = []): string => [0, 1, 2, 3, 4, 5].map((j) => String(BigInt(a[j] ?? 0))).join(' ');

export function leaderLine(e: EventSpec): string {
  const bufs = Object.entries(e.bufs ?? {}).map(([j, b]) => ` ${j}=${hex(asBytes(b))}`);
  return `L ${e.nr} ${six(e.args)} ${BigInt(e.ret ?? 0)}${bufs.join('')}`;
}
export function followerLine(c: CallSpec): string {
  const bufs = Object.entries(c.bufs ?? {}).map(([j, b]) => ` ${j}=${hex(asBytes(b))}`);
  const caps = Object.entries(c.caps ?? {}).map(([j, n]) => ` ${j}#${n}`);
  return `F ${c.nr} ${six(c.args)}${bufs.join('')}${caps.join('')}`;
}
