import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../../lib/db/index.ts';

/** The SQL of compute services (heartbeats, enable/disable) and compute nodes (hypervisors). */

type Conn = Db | Knex.Transaction;

export interface ComputeServiceRow {
  id: number;
  uuid: string;
  host: string;
  binary: string;
  disabled: boolean;
  disabled_reason: string | null;
  forced_down: boolean;
  last_seen_up: Date | null;
  report_count: number;
  availability_zone: string;
  created_at: Date;
  updated_at: Date;
}

export interface ComputeNodeRow {
  id: number;
  uuid: string;
  service_id: number;
  host: string;
  hypervisor_hostname: string;
  hypervisor_type: string;
  hypervisor_version: number | string;
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  cpu_info: Record<string, unknown>;
  host_ip: string | null;
  supported_instances: [string, string, string][];
  created_at: Date;
  updated_at: Date;
}

/**
 * The zone of a compute service's host as Nova reckons it
 * (availability_zones.get_host_availability_zone): the `availability_zone`
 * metadata of an aggregate the host is in, else the service's own zone (the
 * default zone). `servicesAlias` names the compute_services table in the
 * query; the expression is aliased `availability_zone`.
 */
export const hostZoneColumn = (conn: Conn, servicesAlias = 'compute_services') =>
  conn.raw(
    `coalesce((select m.value from aggregate_hosts ah join aggregate_metadata m on m.aggregate_id = ah.aggregate_id and m.key = 'availability_zone'` +
      ` where ah.host = ??.host order by m.value limit 1), ??.availability_zone) as availability_zone`,
    [servicesAlias, servicesAlias],
  );

/** Records a heartbeat of the service, creating its row on the first one. */
export async function heartbeat(conn: Conn, host: string, binary: string, at: Date = new Date()): Promise<ComputeServiceRow> {
  const [row] = await conn('compute_services')
    .insert({ uuid: randomUUID(), host, binary, last_seen_up: at, report_count: 1 })
    .onConflict(['host', 'binary'])
    .merge({ last_seen_up: at, report_count: conn.raw('compute_services.report_count + 1'), updated_at: conn.fn.now() })
    .returning('*');
  return row;
}

export type ServiceChanges = Partial<Pick<ComputeServiceRow, 'disabled' | 'disabled_reason' | 'forced_down' | 'availability_zone' | 'last_seen_up'>>;

/** Changes the service; undefined when there is no such service. */
export async function updateService(conn: Conn, host: string, binary: string, changes: ServiceChanges): Promise<ComputeServiceRow | undefined> {
  const [row] = await conn('compute_services')
    .where({ host, binary })
    .update({ ...changes, updated_at: conn.fn.now() })
    .returning('*');
  return row;
}

export async function getService(conn: Conn, host: string, binary: string): Promise<ComputeServiceRow | undefined> {
  return conn<ComputeServiceRow>('compute_services').where({ host, binary }).first();
}

export type NodeFields = Omit<ComputeNodeRow, 'id' | 'uuid' | 'created_at' | 'updated_at'>;

/** Creates or updates the node (host, hypervisor_hostname); its uuid, once given, never changes. */
export async function upsertNode(conn: Conn, fields: NodeFields): Promise<ComputeNodeRow> {
  const row = { ...fields, cpu_info: JSON.stringify(fields.cpu_info), supported_instances: JSON.stringify(fields.supported_instances) };
  const [out] = await conn('compute_nodes')
    .insert({ ...row, uuid: randomUUID() })
    .onConflict(['host', 'hypervisor_hostname'])
    .merge({ ...row, updated_at: conn.fn.now() })
    .returning('*');
  return out;
}

export interface NodeWithService extends ComputeNodeRow {
  disabled: boolean;
  disabled_reason: string | null;
  forced_down: boolean;
  last_seen_up: Date | null;
  availability_zone: string;
}

/** Every compute node with its service's state (the zone its aggregates give it), ordered by host and node. */
export async function listNodesWithServices(conn: Conn): Promise<NodeWithService[]> {
  return conn('compute_nodes as n')
    .join('compute_services as s', 's.id', 'n.service_id')
    .select('n.*', 's.disabled', 's.disabled_reason', 's.forced_down', 's.last_seen_up', hostZoneColumn(conn, 's'))
    .orderBy(['n.host', 'n.hypervisor_hostname']);
}

/** The compute node of `host` named `hypervisorHostname`, if there is one. */
export async function getNode(conn: Conn, host: string, hypervisorHostname: string): Promise<ComputeNodeRow | undefined> {
  return conn<ComputeNodeRow>('compute_nodes').where({ host, hypervisor_hostname: hypervisorHostname }).first();
}
