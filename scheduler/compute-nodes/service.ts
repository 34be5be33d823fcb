import type { Db } from '../../lib/db/index.ts';
import { notFound } from '../../lib/errors.ts';
import { nodeInventory, type InventoryPolicy } from '../placement/resources.ts';
import type { Placement } from '../placement/service.ts';
import * as store from './store.ts';

/** What a compute agent reports of its hypervisor (Nova's get_available_resource). */
export interface NodeReport {
  host: string;
  /** The compute service's binary (its row is found by host and binary). */
  binary: string;
  hypervisorHostname: string;
  hypervisorType: string;
  /** As Nova encodes it: major × 1,000,000 + minor × 1,000 + micro. */
  hypervisorVersion: number;
  vcpus: number;
  memoryMb: number;
  localGb: number;
  cpuInfo?: Record<string, unknown>;
  hostIp?: string | null;
  supportedInstances?: [string, string, string][];
}

/**
 * Records a node report: the compute node row, its resource provider (same
 * uuid, named after the node) and the provider's inventory under `policy`.
 * The host's compute service must have sent a heartbeat first. Returns the
 * node's (and provider's) uuid.
 */
export async function recordNodeReport(db: Db, placement: Placement, report: NodeReport, policy: InventoryPolicy): Promise<string> {
  const service = await store.getService(db, report.host, report.binary);
  if (!service) throw notFound(`Compute host ${report.host} could not be found.`);
  const node = await store.upsertNode(db, {
    service_id: service.id,
    host: report.host,
    hypervisor_hostname: report.hypervisorHostname,
    hypervisor_type: report.hypervisorType,
    hypervisor_version: report.hypervisorVersion,
    vcpus: report.vcpus,
    memory_mb: report.memoryMb,
    local_gb: report.localGb,
    cpu_info: report.cpuInfo ?? {},
    host_ip: report.hostIp ?? null,
    supported_instances: report.supportedInstances ?? [],
  });
  await placement.ensureProvider(node.uuid, node.hypervisor_hostname);
  await placement.setInventory(node.uuid, nodeInventory({ vcpus: node.vcpus, memoryMb: node.memory_mb, localGb: node.local_gb }, policy));
  return node.uuid;
}
