/** Running an async function over a list with at most `limit` calls in flight. */

/**
 * Calls `fn` on every item, at most `limit` at once (VMs share a machine with few cores).
 * After the first failure no new call starts; the first error is thrown once all have settled.
 */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((err: unknown) => {
        errors.push(err);
        next = items.length;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length) throw errors[0];
}
