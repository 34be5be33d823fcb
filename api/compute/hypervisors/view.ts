import type { FastifyRequest } from 'fastify';
import type { Hypervisor } from './service.ts';

/** From 2.53 ids are uuids (the node's, and its service's). */
export const UUID_IDS_MICROVERSION = '2.53';
/** From 2.88 the detail view drops the resource figures (and cpu_info), and gains uptime. */
export const NO_FIGURES_MICROVERSION = '2.88';

export interface ViewOptions {
  detail: boolean;
  /** with_servers was asked for: from 2.75 `servers` is then always there, [] when the host has none. */
  withServers?: boolean;
}

/** Nova's hypervisor view (nova/api/openstack/compute/hypervisors.py _view_hypervisor). */
export function hypervisorView(request: FastifyRequest, h: Hypervisor, opts: ViewOptions): Record<string, unknown> {
  const v = request.microversion;
  const uuidIds = v.atLeast(UUID_IDS_MICROVERSION);
  const { node, service } = h;
  const out: Record<string, unknown> = {
    id: uuidIds ? node.uuid : node.id,
    hypervisor_hostname: node.hypervisor_hostname,
    state: h.up ? 'up' : 'down',
    status: service.disabled ? 'disabled' : 'enabled',
  };
  if (opts.detail) {
    out.hypervisor_type = node.hypervisor_type;
    out.hypervisor_version = Number(node.hypervisor_version);
    out.host_ip = node.host_ip;
    out.service = { id: uuidIds ? service.uuid : service.id, host: node.host, disabled_reason: service.disabled_reason };
    if (!v.atLeast(NO_FIGURES_MICROVERSION)) {
      Object.assign(out, {
        vcpus: node.vcpus,
        memory_mb: node.memory_mb,
        local_gb: node.local_gb,
        vcpus_used: h.vcpusUsed,
        memory_mb_used: h.memoryMbUsed,
        local_gb_used: h.localGbUsed,
        free_ram_mb: node.memory_mb - h.memoryMbUsed,
        free_disk_gb: node.local_gb - h.localGbUsed,
        current_workload: h.currentWorkload,
        running_vms: h.runningVms,
        // Only libvirt measures it; the agents do not report it.
        disk_available_least: null,
        // Before 2.28 cpu_info is the JSON text Nova stores; from 2.28 the object.
        cpu_info: v.atLeast('2.28') ? node.cpu_info : JSON.stringify(node.cpu_info),
      });
    } else {
      // Asked of the host's agent (withUptimes); null when it did not tell, as Nova shows it for such a host.
      out.uptime = h.uptime ?? null;
    }
  }
  if (h.servers?.length) out.servers = h.servers.map((s) => ({ name: s.display_name, uuid: s.uuid }));
  else if (opts.withServers && v.atLeast('2.75')) out.servers = [];
  return out;
}
