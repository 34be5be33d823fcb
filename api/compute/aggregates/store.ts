import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

/** The SQL of host aggregates: the aggregates, their hosts and their metadata. */

type Conn = Db | Knex.Transaction;

/** Nova's metadata key that puts an aggregate's hosts in an availability zone. */
export const ZONE_KEY = 'availability_zone';

export interface AggregateRow {
  id: number;
  uuid: string;
  name: string;
  created_at: Date;
  updated_at: Date | null;
}

/** An aggregate with its hosts (in the order added) and metadata. */
export interface AggregateRecord extends AggregateRow {
  hosts: string[];
  metadata: Record<string, string>;
}

const aggregates = (db: Conn) => db<AggregateRow>('aggregates');

/** The hosts and metadata of each aggregate, two queries whatever their number. */
async function withDetails(db: Conn, rows: AggregateRow[]): Promise<AggregateRecord[]> {
  const ids = rows.map((r) => r.id);
  const [hosts, metadata] = ids.length
    ? await Promise.all([
        db('aggregate_hosts').whereIn('aggregate_id', ids).select('aggregate_id', 'host').orderBy('id') as Promise<{ aggregate_id: number; host: string }[]>,
        db('aggregate_metadata').whereIn('aggregate_id', ids).select('aggregate_id', 'key', 'value').orderBy('key') as Promise<{ aggregate_id: number; key: string; value: string }[]>,
      ])
    : [[], []];
  return rows.map((r) => ({
    ...r,
    hosts: hosts.filter((h) => h.aggregate_id === r.id).map((h) => h.host),
    metadata: Object.fromEntries(metadata.filter((m) => m.aggregate_id === r.id).map((m) => [m.key, m.value])),
  }));
}

/** Every aggregate, by id. */
export async function listAggregates(db: Conn): Promise<AggregateRecord[]> {
  return withDetails(db, await aggregates(db).orderBy('id'));
}

export async function getAggregate(db: Conn, id: number): Promise<AggregateRecord | undefined> {
  const row = await aggregates(db).where({ id }).first();
  return row ? (await withDetails(db, [row]))[0] : undefined;
}

/** Whether another aggregate (not `exceptId`) has the name. */
export async function nameTaken(db: Conn, name: string, exceptId?: number): Promise<boolean> {
  const q = aggregates(db).where({ name });
  if (exceptId !== undefined) q.whereNot({ id: exceptId });
  return (await q.first('id')) !== undefined;
}

/** Creates an aggregate with its metadata; a name already taken is a unique violation. */
export async function insertAggregate(trx: Knex.Transaction, row: Pick<AggregateRow, 'uuid' | 'name'>, metadata: Record<string, string>): Promise<AggregateRow> {
  const [created] = await aggregates(trx).insert(row).returning('*');
  const entries = Object.entries(metadata);
  if (entries.length) await trx('aggregate_metadata').insert(entries.map(([key, value]) => ({ aggregate_id: created.id, key, value })));
  return created as AggregateRow;
}

/** Renames the aggregate (when `name` is given) and marks it updated. */
export async function touchAggregate(db: Conn, id: number, name?: string): Promise<void> {
  await aggregates(db)
    .where({ id })
    .update({ ...(name === undefined ? {} : { name }), updated_at: db.fn.now() as unknown as Date });
}

/** Sets each key to its value; a null value deletes its key (no error when there was none). */
export async function updateMetadata(db: Conn, id: number, changes: Record<string, string | null>): Promise<void> {
  const entries = Object.entries(changes);
  const removed = entries.filter(([, v]) => v === null).map(([k]) => k);
  const set = entries.filter((e): e is [string, string] => e[1] !== null);
  if (removed.length) await db('aggregate_metadata').where({ aggregate_id: id }).whereIn('key', removed).delete();
  if (set.length) {
    await db('aggregate_metadata')
      .insert(set.map(([key, value]) => ({ aggregate_id: id, key, value })))
      .onConflict(['aggregate_id', 'key'])
      .merge(['value']);
  }
}

/** Deletes the aggregate (its hosts and metadata go with it); false when there was none. */
export async function deleteAggregate(db: Conn, id: number): Promise<boolean> {
  return (await aggregates(db).where({ id }).delete().returning('id')).length > 0;
}

/** Adds the host; false when the aggregate has it already. */
export async function addHost(db: Conn, id: number, host: string): Promise<boolean> {
  const rows = await db('aggregate_hosts').insert({ aggregate_id: id, host }).onConflict(['aggregate_id', 'host']).ignore().returning('id');
  return rows.length > 0;
}

/** Removes the host; false when the aggregate did not have it. */
export async function removeHost(db: Conn, id: number, host: string): Promise<boolean> {
  return (await db('aggregate_hosts').where({ aggregate_id: id, host }).delete().returning('id')).length > 0;
}

/** The aggregates in a zone that hold any of `hosts`: their ids and zones (Nova's AggregateList.get_by_metadata_key with hosts). */
export async function zonedAggregatesOf(db: Conn, hosts: string[]): Promise<{ id: number; zone: string }[]> {
  if (!hosts.length) return [];
  return db('aggregate_hosts as h')
    .join('aggregate_metadata as m', 'm.aggregate_id', 'h.aggregate_id')
    .where('m.key', ZONE_KEY)
    .whereIn('h.host', hosts)
    .distinct({ id: 'h.aggregate_id', zone: 'm.value' });
}

/** The ids of the aggregates holding `host`. */
export async function aggregatesOfHost(db: Conn, host: string): Promise<number[]> {
  const rows: { aggregate_id: number }[] = await db('aggregate_hosts').where({ host }).select('aggregate_id');
  return rows.map((r) => r.aggregate_id);
}

/**
 * Serialises the changes that move hosts between zones (adding hosts,
 * changing a zone) within `trx`, so two concurrent ones cannot put a host in
 * two zones.
 */
export async function lockZones(trx: Knex.Transaction): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['aggregates:zones']);
}
