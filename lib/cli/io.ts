/** Where the CLI writes: stdout and stderr, and whether stdout is a terminal. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * A writer to `stream` that a closed reader cannot stop: on EPIPE (`harness run | head`) or any
 * other write error it stops writing and drops the rest, so the run still goes to its end
 * (release, journal, report, bundle) and exits with its own code.
 */
export function closableWriter(stream: NodeJS.WritableStream): (text: string) => void {
  let closed = false;
  stream.on('error', () => {
    closed = true;
  });
  return (text) => {
    if (closed) return;
    try {
      stream.write(text);
    } catch {
      closed = true;
    }
  };
}

/** The process's own streams. */
export function processIO(): CliIO {
  return {
    out: closableWriter(process.stdout),
    err: closableWriter(process.stderr),
    isTTY: Boolean(process.stdout.isTTY),
    env: process.env,
  };
}
