import { randomUUID } from 'node:crypto';
import { COMPUTE_BINARY } from '../../compute-driver/rpc.ts';
import type { Config } from '../../lib/config/index.ts';
import type { Db } from '../../lib/db/index.ts';
import { heartbeat, type ComputeServiceRow } from '../../scheduler/compute-nodes/store.ts';
import { recordNodeReport } from '../../scheduler/compute-nodes/service.ts';
import type { Resources } from '../../scheduler/placement/resources.ts';
import { createPlacement } from '../../scheduler/placement/service.ts';
import { inventoryPolicy } from '../../scheduler/state.ts';

/**
 * Rows the compute agents and the conductor would write, put straight into
 * the database for API tests: services (a heartbeat), compute nodes with
 * their resource providers and inventory (a node report), instances, and
 * what instances hold in placement.
 */

/** A service row as its first heartbeat makes it (at `at`, default now). */
export const addService = (db: Db, host: string, binary = COMPUTE_BINARY, at = new Date()): Promise<ComputeServiceRow> => heartbeat(db, host, binary, at);

export interface HostSpec {
  vcpus?: number;
  memoryMb?: number;
  localGb?: number;
  hypervisorType?: string;
  hostIp?: string | null;
  /** When its last heartbeat was (default now). */
  lastSeenUp?: Date;
}

/** A compute host: its nova-compute service and one node named after it, reported as an agent does; returns the service and the node's uuid. */
export async function addComputeHost(db: Db, config: Config, host: string, spec: HostSpec = {}): Promise<{ service: ComputeServiceRow; nodeUuid: string }> {
  const service = await addService(db, host, COMPUTE_BINARY, spec.lastSeenUp);
  const nodeUuid = await recordNodeReport(
    db,
    createPlacement(db),
    {
      host,
      binary: COMPUTE_BINARY,
      hypervisorHostname: host,
      hypervisorType: spec.hypervisorType ?? 'fake',
      hypervisorVersion: 1000,
      vcpus: spec.vcpus ?? 8,
      memoryMb: spec.memoryMb ?? 16384,
      localGb: spec.localGb ?? 100,
      cpuInfo: { arch: 'x86_64', model: 'fake' },
      hostIp: spec.hostIp === undefined ? '192.0.2.10' : spec.hostIp,
    },
    inventoryPolicy(config),
  );
  return { service, nodeUuid };
}

export interface InstanceSpec {
  uuid?: string;
  name?: string;
  projectId: string;
  userId?: string;
  host?: string | null;
  vmState?: string;
  taskState?: string | null;
  flavor?: { name: string; vcpus: number; memory_mb: number; root_gb: number; ephemeral_gb: number };
  launchedAt?: Date | null;
  terminatedAt?: Date | null;
  deletedAt?: Date | null;
  createdAt?: Date;
}

export const FLAVOR = { name: 'm1.small', vcpus: 1, memory_mb: 2048, root_gb: 20, ephemeral_gb: 0 };

/** An instance row (by default ACTIVE, unscheduled, launched now); returns its uuid. */
export async function addInstance(db: Db, s: InstanceSpec): Promise<string> {
  const uuid = s.uuid ?? randomUUID();
  const flavor = s.flavor ?? FLAVOR;
  await db('instances').insert({
    uuid,
    display_name: s.name ?? `server-${uuid.slice(0, 8)}`,
    project_id: s.projectId,
    user_id: s.userId ?? 'user',
    host: s.host ?? null,
    node: s.host ?? null,
    flavor: JSON.stringify({ flavorid: flavor.name, swap: 0, extra_specs: {}, ...flavor }),
    vcpus: flavor.vcpus,
    memory_mb: flavor.memory_mb,
    root_gb: flavor.root_gb,
    vm_state: s.vmState ?? (s.deletedAt ? 'deleted' : 'active'),
    task_state: s.taskState ?? null,
    power_state: 1,
    reservation_id: `r-${uuid.slice(0, 8)}`,
    launched_at: s.launchedAt === undefined ? new Date() : s.launchedAt,
    terminated_at: s.terminatedAt ?? null,
    deleted_at: s.deletedAt ?? null,
    ...(s.createdAt ? { created_at: s.createdAt } : {}),
  });
  return uuid;
}

/** What `consumer` holds of the node's provider, as a scheduler claim records it. */
export const claim = (db: Db, consumer: string, nodeUuid: string, resources: Resources) => createPlacement(db).claim(consumer, nodeUuid, resources);
