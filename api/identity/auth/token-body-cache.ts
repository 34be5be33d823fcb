/**
 * The bus event an identity change publishes when it alters what a token
 * body shows (a user, project or domain renamed or disabled, the catalog
 * edited): every process drops its cached token bodies.
 */
export const identityChangedEvent = 'identity.changed';

/**
 * Rendered token bodies (the JSON text of GET /v3/auth/tokens), per token
 * and per with/without catalog. Validation is the hot path: on a hit it
 * costs no database query. Entries live at most `ttlMs` (and never past the
 * token's expiry); the whole cache is dropped whenever identity data changes
 * (a bus event), so names and the catalog are never stale for long.
 */
export class TokenBodyCache {
  private readonly entries = new Map<string, { json: string; until: number }>();

  constructor(
    private readonly maxEntries = 20_000,
    private readonly ttlMs = 60_000,
  ) {}

  private key(token: string, withCatalog: boolean) {
    return (withCatalog ? 'c' : 'n') + token;
  }

  get(token: string, withCatalog: boolean): string | undefined {
    const key = this.key(token, withCatalog);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.json;
  }

  set(token: string, withCatalog: boolean, json: string, tokenExpiresAt: Date): void {
    if (this.entries.size >= this.maxEntries) this.evictOldest(Math.ceil(this.maxEntries / 10));
    this.entries.set(this.key(token, withCatalog), { json, until: Math.min(Date.now() + this.ttlMs, tokenExpiresAt.getTime()) });
  }

  delete(token: string): void {
    this.entries.delete(this.key(token, true));
    this.entries.delete(this.key(token, false));
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private evictOldest(n: number) {
    for (const key of this.entries.keys()) {
      if (n-- <= 0) break;
      this.entries.delete(key);
    }
  }
}
