import type { EventSink, RunEvent } from '../model/events.js';

/** Several sinks as one. */
export interface Fanout extends EventSink {
  /** Closes every sink (all of them, even when some fail), then throws the first error any sink raised. */
  closeAll(): Promise<void>;
  /** The first error a sink raised so far, in `handle` or `close`. */
  readonly error: unknown;
}

/**
 * Passes each event to every sink in order. A sink that throws does not stop the others (it
 * keeps receiving events); the first error is kept and thrown by `closeAll` (also `close`).
 */
export function fanout(sinks: readonly EventSink[]): Fanout {
  let first: { error: unknown } | undefined;
  let closing: Promise<void> | undefined;
  const record = (error: unknown) => {
    first ??= { error };
  };
  async function closeAll(): Promise<void> {
    const results = await Promise.allSettled(sinks.map(async (s) => s.close?.()));
    for (const r of results) if (r.status === 'rejected') record(r.reason);
    if (first) throw first.error;
  }
  const once = (): Promise<void> => (closing ??= closeAll());
  return {
    handle(event: RunEvent): void {
      for (const sink of sinks) {
        try {
          sink.handle(event);
        } catch (err) {
          record(err);
        }
      }
    },
    closeAll: once,
    close: once,
    get error() {
      return first?.error;
    },
  };
}
