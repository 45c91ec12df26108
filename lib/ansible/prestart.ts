/**
 * The first stage's `ansible-playbook` started before the CLI has even loaded (bin/harness, for
 * `harness run`): with the answer of findAnsible's cache and the environment the stages start
 * from, a warm process (warm.ts) begins its imports ~0.2 s earlier than the run could start one,
 * while the CLI loads, parses and prepares. The run adopts it ({@link adoptPrestarted}) when it
 * is for the same `ansible-playbook` and environment; anything else closes it. Never an error:
 * a cache miss, `HARNESS_WARM_START=0` or a run that wants another start only means no prestart.
 */
import { playbookProcessEnv, PYTHON_STARTUP_ENV } from './config.js';
import { findCachedAnsible } from './version.js';
import { createWarmPool, type WarmPool } from './warm.js';

interface Prestarted {
  script: string;
  env: Record<string, string>;
  pool: WarmPool;
  /** Replaces the pool's `more` with the run's own count (once adopted). */
  countWith: (more: () => boolean) => void;
}

/**
 * The one prestart of this process: pending until the cache has answered, then settled. On
 * `globalThis`, because bin/harness loads this module in a small bundle of its own before the
 * CLI's bundle (which has its own copy): both copies see one state.
 */
const state: { pending?: Promise<Prestarted | undefined> | undefined; settled?: Prestarted | undefined } = ((globalThis as Record<symbol, unknown>)[Symbol.for('ansible-harness.prestart')] ??= {}) as never;

/** The environment a run's warm pool starts with (lib/engine/start.ts): the stages' before their own variables. */
export function warmPoolEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return playbookProcessEnv({ ...env, ...PYTHON_STARTUP_ENV });
}

/**
 * Starts one warm `ansible-playbook` when findAnsible's cache knows it for `env`; resolves once it
 * is spawned (a few file look-ups), so that the caller's own loading does not hold it back.
 */
export async function prestartWarm(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (state.pending || env.HARNESS_WARM_START === '0') return;
  state.pending = findCachedAnsible({ env }).then(
    (found) => {
      if (!found) return undefined;
      // One start until a run adopts the pool and says how many more.
      let starts = 1;
      let more = (): boolean => starts-- > 0;
      const poolEnv = warmPoolEnv(env);
      const pool = createWarmPool({ script: found.playbook, env: poolEnv, more: () => more() });
      const countWith = (m: () => boolean): void => {
        more = m;
      };
      const entry: Prestarted = { script: found.playbook, env: poolEnv, pool, countWith };
      // However the process ends (an early signal's exit(130) included), nothing is left behind.
      process.once('exit', () => pool.abandon());
      state.settled = entry;
      return entry;
    },
    () => undefined,
  );
  await (await state.pending)?.pool.ready();
}

const sameEnv = (a: Record<string, string>, b: Record<string, string>): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
};

/**
 * The prestarted pool, for a run of `script` whose pool would start with `env` and then ask
 * `more()` before each further start; undefined (and the prestart closed) when there is none
 * ready or it was started for something else. Once only.
 */
export function adoptPrestarted(script: string, env: Record<string, string>, more: () => boolean): WarmPool | undefined {
  const entry = state.settled;
  const waiting = state.pending;
  state.settled = undefined;
  state.pending = undefined;
  if (!entry) {
    // Not answered yet (or nothing to start): whatever it starts is closed.
    void waiting?.then((late) => late?.pool.close());
    return undefined;
  }
  if (entry.script !== script || !sameEnv(entry.env, env)) {
    void entry.pool.close();
    return undefined;
  }
  entry.countWith(more);
  return entry.pool;
}

/** Closes a prestart nobody adopted (the CLI's end: another command, bad input, a run that failed early). */
export async function closePrestarted(): Promise<void> {
  const waiting = state.pending;
  state.settled = undefined;
  state.pending = undefined;
  await (await waiting)?.pool.close();
}
