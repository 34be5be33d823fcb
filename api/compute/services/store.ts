import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';
import type { ComputeServiceRow } from '../../../scheduler/compute-nodes/store.ts';

/** The reads and deletes of compute_services the API needs (heartbeats and updates by host/binary are in scheduler/compute-nodes/store.ts). */

type Conn = Db | Knex.Transaction;

const services = (db: Conn) => db<ComputeServiceRow>('compute_services');

/** Every service, by id. */
export async function listServices(db: Conn): Promise<ComputeServiceRow[]> {
  return services(db).orderBy('id');
}

/** A service by its integer id (before 2.53) or uuid (from 2.53). */
export async function getService(db: Conn, by: { id: number } | { uuid: string }): Promise<ComputeServiceRow | undefined> {
  return services(db).where(by).first();
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
