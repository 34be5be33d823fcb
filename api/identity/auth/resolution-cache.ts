/**
 * Per-process memo of what issuing and rendering a token read from the
 * database: who a user is, what a scope resolves to, which roles the user
 * holds there, the names and catalog a token body shows. Every identity
 * change and revocation clears it (the same bus events as the token-body
 * cache), and entries live at most `ttlMs` as a backstop for changes made
 * outside the API. Failures are not remembered. Concurrent misses on one key
 * share one computation.
 */
export class ResolutionCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; until: number }>();
  private generation = 0;

  constructor(
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, compute: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const generation = this.generation;
    const value = compute();
    const entry = { value, until: Date.now() + this.ttlMs };
    this.entries.set(key, entry);
    value.then(
      () => {
        // A change while computing may have made the answer stale: keep it for this caller only.
        if (generation !== this.generation && this.entries.get(key) === entry) this.entries.delete(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return value;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
