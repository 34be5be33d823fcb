import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';
import { hostZoneColumn, type ComputeServiceRow } from '../../../scheduler/compute-nodes/store.ts';

/** The reads and deletes of compute_services the API needs (heartbeats and updates by host/binary are in scheduler/compute-nodes/store.ts). */

type Conn = Db | Knex.Transaction;

const services = (db: Conn) => db<ComputeServiceRow>('compute_services');

/** The row with the zone its host's aggregates give it (the stored zone is the default). */
const withZones = (db: Conn) => services(db).select('compute_services.uuid', 'compute_services.id', 'compute_services.host', 'compute_services.binary',
  'compute_services.disabled', 'compute_services.disabled_reason', 'compute_services.forced_down', 'compute_services.last_seen_up',
  'compute_services.report_count', 'compute_services.created_at', 'compute_services.updated_at', hostZoneColumn(db));

/** Every service, by id, each in its zone. */
export async function listServices(db: Conn): Promise<ComputeServiceRow[]> {
  return withZones(db).orderBy('id');
}

/** A service by its integer id (before 2.53) or uuid (from 2.53), in its zone. */
export async function getService(db: Conn, by: { id: number } | { uuid: string }): Promise<ComputeServiceRow | undefined> {
  return withZones(db).where(by).first();
}

/** The uuids of the service's compute nodes (also their resource providers' uuids). */
export async function nodeUuidsOf(db: Conn, serviceId: number): Promise<string[]> {
  const rows: { uuid: string }[] = await db('compute_nodes').where({ service_id: serviceId }).select('uuid');
  return rows.map((r) => r.uuid);
}

/** Deletes the service (its compute nodes go with it); false when there was none. */
export async function deleteService(db: Conn, id: number): Promise<boolean> {
  return (await services(db).where({ id }).delete().returning('id')).length > 0;
}
