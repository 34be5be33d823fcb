import type { Knex } from 'knex';
import type { Bus, Subscription } from '../bus/bus.ts';
import type { Db } from '../db/index.ts';
import type { Logger } from '../log.ts';
import type { RevocationEvent, RevocationMatch, TokenClaims } from './claims.ts';

/** The bus event every process's revocation list listens to. */
export const revokedEvent = 'identity.revoked';

/** Extra time events are kept beyond the longest token lifetime (clock skew, config changes). */
const retentionMarginMs = 5 * 60_000;
/** Each poll also re-reads events this recent, whatever their id: ids from concurrent inserts may commit out of order. */
const pollOverlapMs = 60_000;
/** How often the table is pruned of events no live token can match. */
const pruneEveryMs = 10 * 60_000;

/** A revocation event as it travels on the bus (JSON: dates as ISO strings). */
export type RevocationMessage = RevocationMatch & { id: string; issued_before: string; revoked_at: string };

/** issuedBefore: ms since the epoch. */
type Revocation = RevocationMatch & { id: string; issuedBefore: number };

const fields = ['audit_id', 'user_id', 'project_id', 'domain_id', 'role_id', 'application_credential_id'] as const;
type Field = (typeof fields)[number];

/** Whether `ev` revokes the token with these claims (every field it names matches, and the token is old enough). */
export function eventMatches(ev: RevocationEvent | Revocation, claims: TokenClaims): boolean {
  const issuedBefore = 'issuedBefore' in ev ? ev.issuedBefore : ev.issued_before.getTime();
  if (claims.issued_at.getTime() > issuedBefore) return false;
  if (ev.audit_id !== undefined && !claims.audit_ids.includes(ev.audit_id)) return false;
  if (ev.user_id !== undefined && ev.user_id !== claims.user_id) return false;
  if (ev.application_credential_id !== undefined && ev.application_credential_id !== claims.application_credential_id) return false;
  const scope = claims.scope;
  if (ev.project_id !== undefined && !(scope.type === 'project' && scope.project_id === ev.project_id)) return false;
  if (ev.domain_id !== undefined) {
    const scopeDomain = scope.type === 'project' || scope.type === 'domain' ? scope.domain_id : undefined;
    if (ev.domain_id !== claims.user_domain_id && ev.domain_id !== scopeDomain) return false;
  }
  if (ev.role_id !== undefined && !claims.roles.some((r) => r.id === ev.role_id)) return false;
  return true;
}

/**
 * The revocation events that can still match a live token, indexed so that
 * checking a token costs a few map look-ups however many events there are:
 * each event sits in the bucket of the most selective field it names.
 */
export class RevocationIndex {
  private readonly byId = new Map<string, Revocation>();
  private readonly buckets: Record<Field, Map<string, Revocation[]>> = {
    audit_id: new Map(),
    user_id: new Map(),
    application_credential_id: new Map(),
    project_id: new Map(),
    role_id: new Map(),
    domain_id: new Map(),
  };
  /** Events naming no id at all: they revoke every token issued before. */
  private rest: Revocation[] = [];
  /** Bumped whenever an event is added: a token checked at this version needs no re-check. */
  version = 0;

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Adds an event; false when it is already known. */
  add(ev: Revocation): boolean {
    if (this.byId.has(ev.id)) return false;
    this.byId.set(ev.id, ev);
    const field = fields.find((f) => ev[f] !== undefined);
    if (field) {
      const key = ev[field]!;
      const bucket = this.buckets[field].get(key);
      if (bucket) bucket.push(ev);
      else this.buckets[field].set(key, [ev]);
    } else {
      this.rest.push(ev);
    }
    this.version++;
    return true;
  }

  /** Drops events whose issued_before is older than `cutoff` (ms): no live token can match them. */
  prune(cutoff: number): number {
    let dropped = 0;
    for (const [id, ev] of this.byId) {
      if (ev.issuedBefore >= cutoff) continue;
      this.byId.delete(id);
      dropped++;
      const field = fields.find((f) => ev[f] !== undefined);
      if (!field) {
        this.rest = this.rest.filter((e) => e !== ev);
        continue;
      }
      const map = this.buckets[field];
      const key = ev[field]!;
      const left = map.get(key)!.filter((e) => e !== ev);
      if (left.length) map.set(key, left);
      else map.delete(key);
    }
    return dropped;
  }

  isRevoked(claims: TokenClaims): boolean {
    const check = (list: Revocation[] | undefined) => list !== undefined && list.some((ev) => eventMatches(ev, claims));
    const b = this.buckets;
    for (const aid of claims.audit_ids) if (check(b.audit_id.get(aid))) return true;
    if (check(b.user_id.get(claims.user_id))) return true;
    if (claims.application_credential_id !== undefined && check(b.application_credential_id.get(claims.application_credential_id))) return true;
    const scope = claims.scope;
    if (scope.type === 'project' && check(b.project_id.get(scope.project_id))) return true;
    if (b.role_id.size) for (const r of claims.roles) if (check(b.role_id.get(r.id))) return true;
    if (check(b.domain_id.get(claims.user_domain_id))) return true;
    if ((scope.type === 'project' || scope.type === 'domain') && scope.domain_id !== claims.user_domain_id && check(b.domain_id.get(scope.domain_id)))
      return true;
    return check(this.rest);
  }
}

interface EventRow {
  id: string | number;
  audit_id: string | null;
  user_id: string | null;
  project_id: string | null;
  domain_id: string | null;
  role_id: string | null;
  application_credential_id: string | null;
  issued_before: Date | string;
  revoked_at: Date | string;
}

function fromRow(row: EventRow): Revocation {
  const ev: Revocation = { id: String(row.id), issuedBefore: new Date(row.issued_before).getTime() };
  for (const f of fields) if (row[f] !== null && row[f] !== undefined) ev[f] = row[f]!;
  return ev;
}

function fromMessage(m: RevocationMessage): Revocation | undefined {
  if (!m || (typeof m.id !== 'string' && typeof m.id !== 'number')) return undefined;
  const issuedBefore = new Date(m.issued_before).getTime();
  if (Number.isNaN(issuedBefore)) return undefined;
  const ev: Revocation = { id: String(m.id), issuedBefore };
  for (const f of fields) if (typeof m[f] === 'string') ev[f] = m[f];
  return ev;
}

export interface RevocationListOptions {
  db: Db;
  bus: Bus;
  logger: Logger;
  /** The longest a token lives, in ms: older events are forgotten. */
  maxTokenLifetimeMs: number;
  pollMs: number;
  /** Also run on each poll (the token service checks the signing keys here). */
  onPoll?: () => Promise<void>;
}

/**
 * One process's view of the revocation events. revoke() writes the table and
 * publishes the event; every process adds it as the bus delivers it, and
 * polls the table every pollMs as a backstop for a lost bus message.
 */
export class RevocationList {
  readonly index = new RevocationIndex();
  private lastId = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private subscription: Subscription | null = null;
  private lastPrune = 0;
  private closed = false;

  constructor(private readonly opts: RevocationListOptions) {}

  async start(): Promise<void> {
    // Subscribe first, then load: nothing revoked in between is missed (duplicates are ignored).
    this.subscription = await this.opts.bus.subscribe(revokedEvent, (m: RevocationMessage) => {
      const ev = fromMessage(m);
      if (ev) this.add(ev);
      else this.opts.logger.warn({ event: m }, 'ignored a malformed revocation event');
    });
    await this.prune();
    await this.read(this.opts.db('revocation_events').where('revoked_at', '>=', new Date(Date.now() - this.retentionMs())));
    this.timer = setInterval(() => this.poll(), this.opts.pollMs);
    this.timer.unref();
  }

  isRevoked(claims: TokenClaims): boolean {
    return this.index.isRevoked(claims);
  }

  get version(): number {
    return this.index.version;
  }

  /** Records the event, applies it here at once, and tells every other process. */
  async revoke(event: RevocationEvent): Promise<void> {
    const row: Record<string, unknown> = { issued_before: event.issued_before };
    for (const f of fields) if (event[f] !== undefined && event[f] !== null) row[f] = event[f];
    const [inserted] = (await this.opts.db('revocation_events').insert(row).returning('*')) as EventRow[];
    const ev = fromRow(inserted);
    this.add(ev);
    const message: RevocationMessage = {
      id: ev.id,
      issued_before: new Date(ev.issuedBefore).toISOString(),
      revoked_at: new Date(inserted.revoked_at).toISOString(),
    };
    for (const f of fields) if (ev[f] !== undefined) message[f] = ev[f];
    try {
      await this.opts.bus.publish(revokedEvent, message);
    } catch (e) {
      // Recorded: other processes pick it up on their next poll.
      this.opts.logger.warn({ err: e }, 'publishing a revocation failed; other processes will see it within identity.revocation_poll_ms');
    }
  }

  private retentionMs(): number {
    return this.opts.maxTokenLifetimeMs + retentionMarginMs;
  }

  private add(ev: Revocation): void {
    if (ev.issuedBefore < Date.now() - this.retentionMs()) return;
    this.index.add(ev);
    const n = Number(ev.id);
    if (n > this.lastId) this.lastId = n;
  }

  private async read(query: Knex.QueryBuilder): Promise<void> {
    const rows = (await query) as EventRow[];
    for (const row of rows) {
      const id = Number(row.id);
      if (id > this.lastId) this.lastId = id;
      if (!this.index.has(String(row.id))) this.add(fromRow(row));
    }
  }

  /** One poll; overlapping polls are skipped. */
  poll(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.polling) return this.polling;
    this.polling = (async () => {
      try {
        const since = new Date(Date.now() - pollOverlapMs);
        await this.read(
          this.opts.db('revocation_events').where((q) => q.where('id', '>', this.lastId).orWhere('revoked_at', '>', since)),
        );
        if (Date.now() - this.lastPrune > pruneEveryMs) await this.prune();
        if (this.opts.onPoll) await this.opts.onPoll();
      } catch (e) {
        if (!this.closed) this.opts.logger.warn({ err: e }, 'polling the revocation events failed');
      } finally {
        this.polling = null;
      }
    })();
    return this.polling;
  }

  /** Forgets events no live token can match, here and in the table. */
  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    const cutoff = new Date(Date.now() - this.retentionMs());
    this.index.prune(cutoff.getTime());
    const n = await this.opts.db('revocation_events').where('revoked_at', '<', cutoff).andWhere('issued_before', '<', cutoff).delete();
    if (n) this.opts.logger.debug({ deleted: n }, 'pruned old revocation events');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
    await this.subscription?.close();
    this.subscription = null;
  }
}
