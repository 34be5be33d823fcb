/**
 * Nova's instance lock (utils.synchronized(instance.uuid)): work for one key
 * runs one piece at a time, in the order it was queued; different keys run
 * concurrently.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  /** Queues `fn` behind whatever `key` already has queued; resolves or rejects with it. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether anything is running or queued for `key`. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Resolves once nothing is running or queued for any key. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}
