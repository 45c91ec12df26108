/**
 * Ctrl-C and SIGTERM as abort signals: the first stops the running stage (always-stages and
 * the lab release still run); a second one stops the always-stages too.
 */
export function interruptSignals(say: (message: string) => void): { signal: AbortSignal; forceSignal: AbortSignal; dispose(): void } {
  const first = new AbortController();
  const second = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (!first.signal.aborted) {
      say(`\nharness: ${name}: stopping the running stage; cleanup and always-stages still run (again to stop those too)\n`);
      first.abort(name);
    } else if (!second.signal.aborted) {
      say(`\nharness: ${name} again: stopping always-stages; the lab is still released\n`);
      second.abort(name);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  return {
    signal: first.signal,
    forceSignal: second.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
    },
  };
}
