// Helpers for the tests that talk to the example kv server (examples/kv): orderings the tests can
// wait on instead of sleeping, and client load that runs until the test has done what it does
// under load.
import { LineConn, runLoad, type LoadOptions, type LoadResult } from '../../examples/kv/client.ts';

/**
 * Resolves once kv has read every byte already written (each `send` awaited) to its other
 * connections, acted on it, and once whatever it answered on them has reached their LineConn:
 * after this, "nothing answered" on a connection means the server did not answer, not that it
 * had not got round to it yet. Why it holds, whatever the machine's speed:
 * - on loopback, a completed write is in the server's receive queue;
 * - kv is one thread that handles every descriptor one epoll_wait (level-triggered, up to 64)
 *   returns before it waits again; the wait that returns `probe`'s first request also returns
 *   every connection with unread bytes, and the second request, sent only once the first is
 *   answered, is handled in a later round, after all of them;
 * - whatever kv wrote on those connections before the second answer is in their receive queues
 *   when that answer arrives; this process's event loop reports them in the same poll, and
 *   setImmediate runs after every callback of that poll.
 */
export async function serverHasRead(probe: LineConn): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const answer = await probe.request('GET mvrc-test-probe', 60_000);
    if (!/^(NOTFOUND|VALUE .*)$/.test(answer)) throw new Error(`the probe request got ${JSON.stringify(answer)}`);
  }
  await new Promise((r) => setImmediate(r));
}

/** Checked client load in rounds (runLoad, fresh keys each round) until stop(). */
export interface RoundsLoad {
  /** Resolves once at least `n` requests have been answered, over all rounds. */
  answered(n?: number): Promise<void>;
  /** Resolves when a round that started after this call has ended: a whole round ran after it. */
  nextRound(): Promise<void>;
  /** Ends the load after the round under way; resolves with every round's result. */
  stop(): Promise<LoadResult[]>;
}

export function loadInRounds(opts: Omit<LoadOptions, 'seed' | 'keyPrefix' | 'onAnswer'>, prefix: string, firstSeed = 1): RoundsLoad {
  let stopped = false;
  let answered = 0;
  let started = 0;
  let ended = 0;
  let waiters: { ok: () => boolean; resolve: () => void }[] = [];
  const wake = (): void => {
    const ready = waiters.filter((w) => w.ok());
    waiters = waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  };
  const waitUntil = (ok: () => boolean): Promise<void> =>
    ok() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ ok, resolve }));
  const rounds = (async () => {
    const out: LoadResult[] = [];
    for (let seed = firstSeed; !stopped; seed++) {
      started++;
      const base = answered;
      const onAnswer = (n: number): void => {
        answered = base + n;
        wake();
      };
      out.push(await runLoad({ ...opts, seed, keyPrefix: `${prefix}${seed}-`, onAnswer }));
      answered = base + out.at(-1)!.answered;
      ended++;
      wake();
    }
    return out;
  })();
  return {
    answered: (n = 1) => waitUntil(() => answered >= n),
    nextRound: () => {
      const after = started + 1; // the round under way is number `started`; the next one must end
      return waitUntil(() => ended >= after);
    },
    stop: async () => {
      stopped = true;
      return rounds;
    },
  };
}
