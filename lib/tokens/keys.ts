import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Db } from '../db/index.ts';
import type { Logger } from '../log.ts';

/**
 * The token signing keys, rotated as Keystone rotates Fernet keys: a
 * 'staged' key (the next primary, already known to every process so that
 * tokens it signs verify everywhere the moment it is promoted), the
 * 'primary' key (signs) and 'secondary' keys (verify only). The table
 * `signing_keys` is the truth; every process holds the keys in memory.
 */
export const signingAlgorithm = 'ES256';

/** pg_advisory_xact_lock key serialising key creation and rotation across processes. */
const keysLockId = 0x6e75626f; // 'nubo'

/** Unknown-kid reloads happen at most this often, so garbage tokens cannot hammer the DB. */
const unknownKidReloadIntervalMs = 1000;

interface KeyRow {
  kid: string;
  state: 'staged' | 'primary' | 'secondary';
  private_pem: string;
  public_pem: string;
  created_at: Date | string;
  promoted_at: Date | string | null;
}

function newKeyRow(state: KeyRow['state']): Omit<KeyRow, 'created_at'> & { algorithm: string; created_at: Date } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const now = new Date();
  return {
    kid: randomBytes(16).toString('hex'),
    state,
    private_pem: privateKey,
    public_pem: publicKey,
    algorithm: signingAlgorithm,
    created_at: now,
    promoted_at: state === 'primary' ? now : null,
  };
}

const time = (v: Date | string | null) => (v === null ? -Infinity : new Date(v).getTime());

/**
 * Creates a staged and a primary key when the table is empty. Safe against
 * several processes starting at once (advisory lock, re-checked under it).
 */
export async function ensureSigningKeys(db: Db): Promise<boolean> {
  const [{ n }] = await db('signing_keys').count<{ n: string | number }[]>({ n: '*' });
  if (Number(n) > 0) return false;
  return db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [keysLockId]);
    const [{ n: again }] = await trx('signing_keys').count<{ n: string | number }[]>({ n: '*' });
    if (Number(again) > 0) return false;
    await trx('signing_keys').insert([newKeyRow('staged'), newKeyRow('primary')]);
    return true;
  });
}

/**
 * keystone-manage fernet_rotate, in one transaction: staged → primary,
 * primary → secondary, a new staged key, and the oldest secondaries beyond
 * maxActiveKeys (staged + primary + secondaries) deleted.
 * Returns the kids deleted.
 */
export async function rotateSigningKeys(db: Db, maxActiveKeys: number): Promise<{ primary: string; staged: string; deleted: string[] }> {
  const staged = newKeyRow('staged');
  const spare = newKeyRow('staged');
  return db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [keysLockId]);
    let rows: KeyRow[] = await trx('signing_keys').select('kid', 'state', 'created_at', 'promoted_at');
    if (rows.length === 0) {
      // Never initialised: start from a staged key so the rotation below promotes it.
      await trx('signing_keys').insert(spare);
      rows = [spare];
    }
    const now = new Date();
    let next = rows.filter((r) => r.state === 'staged').sort((a, b) => time(a.created_at) - time(b.created_at))[0];
    if (!next) {
      // No staged key (hand-edited table): promote a fresh one.
      await trx('signing_keys').insert({ ...spare, state: 'staged' });
      next = { ...spare, state: 'staged' };
      rows.push(next);
    }
    await trx('signing_keys').whereIn('state', ['primary', 'staged']).whereNot('kid', next.kid).update({ state: 'secondary' });
    await trx('signing_keys').where('kid', next.kid).update({ state: 'primary', promoted_at: now });
    await trx('signing_keys').insert(staged);

    const secondaries = rows
      .filter((r) => r.kid !== next.kid)
      // Oldest first: the earliest to have been primary (never-promoted keys count as oldest).
      .sort((a, b) => time(a.promoted_at) - time(b.promoted_at) || time(a.created_at) - time(b.created_at));
    const excess = Math.max(0, 2 + secondaries.length - maxActiveKeys);
    const deleted = secondaries.slice(0, excess).map((r) => r.kid);
    if (deleted.length) await trx('signing_keys').whereIn('kid', deleted).delete();
    return { primary: next.kid, staged: staged.kid, deleted };
  });
}

interface LoadedKeys {
  publicKeys: Map<string, KeyObject>;
  primary: { kid: string; privateKey: KeyObject } | null;
  /** kid:state of every key, to notice a rotation cheaply. */
  fingerprint: string;
}

const fingerprintOf = (rows: { kid: string; state: string }[]) =>
  rows
    .map((r) => `${r.kid}:${r.state}`)
    .sort()
    .join(',');

/**
 * The in-memory copy of the signing keys one process verifies and signs with.
 * Reloads coalesce: a reload asked for while one runs runs once more after it
 * (the running one may have read the table before the change committed).
 */
export class KeyRing {
  private keys: LoadedKeys = { publicKeys: new Map(), primary: null, fingerprint: '' };
  private running: Promise<void> | null = null;
  private again = false;
  private lastUnknownKidReload = 0;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
  ) {}

  /** Creates the first keys if there are none, then loads them. */
  async start(): Promise<void> {
    if (await ensureSigningKeys(this.db)) this.logger.info('created the first token signing keys');
    await this.reload();
  }

  /** The public key of `kid`, or undefined when this process does not know it. */
  publicKey(kid: string): KeyObject | undefined {
    return this.keys.publicKeys.get(kid);
  }

  has(kid: string): boolean {
    return this.keys.publicKeys.has(kid);
  }

  get primary(): { kid: string; privateKey: KeyObject } | null {
    return this.keys.primary;
  }

  get fingerprint(): string {
    return this.keys.fingerprint;
  }

  /** A token named a kid this process does not know: reload in the background, at most once a second. */
  unknownKid(): void {
    const now = Date.now();
    if (now - this.lastUnknownKidReload < unknownKidReloadIntervalMs) return;
    this.lastUnknownKidReload = now;
    this.reload().catch((e) => this.logger.warn({ err: e }, 'reloading the token signing keys failed'));
  }

  /** Reloads the keys if their kids or states differ from `fingerprint` in the table (a cheap check). */
  async refreshIfChanged(): Promise<void> {
    const rows: { kid: string; state: string }[] = await this.db('signing_keys').select('kid', 'state');
    if (fingerprintOf(rows) !== this.keys.fingerprint) await this.reload();
  }

  reload(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again && !this.closed);
    };
    this.running = run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async load(): Promise<void> {
    const rows: KeyRow[] = await this.db('signing_keys').select('kid', 'state', 'private_pem', 'public_pem', 'created_at', 'promoted_at');
    const publicKeys = new Map<string, KeyObject>();
    for (const r of rows) {
      // Parsing PEM is the costly part: keep KeyObjects already known.
      publicKeys.set(r.kid, this.keys.publicKeys.get(r.kid) ?? createPublicKey(r.public_pem));
    }
    const primaryRow = rows.filter((r) => r.state === 'primary').sort((a, b) => time(b.promoted_at) - time(a.promoted_at))[0];
    const primary = primaryRow
      ? this.keys.primary?.kid === primaryRow.kid
        ? this.keys.primary
        : { kid: primaryRow.kid, privateKey: createPrivateKey(primaryRow.private_pem) }
      : null;
    const fingerprint = fingerprintOf(rows);
    if (fingerprint !== this.keys.fingerprint) {
      this.logger.debug({ kids: rows.map((r) => `${r.kid}:${r.state}`) }, 'token signing keys loaded');
    }
    this.keys = { publicKeys, primary, fingerprint };
  }

  /** Waits for a reload in progress; no reload starts afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running?.catch(() => undefined);
  }
}
