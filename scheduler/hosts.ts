import type { Db } from '../lib/db/index.ts';
import { listNodesWithServices } from './compute-nodes/store.ts';
import { allInventories, allUsages } from './placement/store.ts';
import type { HostState } from './state.ts';

/**
 * Every compute node's HostState, ordered by host and node, in three queries
 * whatever the number of hosts (nodes with their services; all inventories;
 * usage sums and consumers per provider and class), run concurrently. Usage may be a
 * moment stale: the claim, not this read, is what prevents over-commit.
 * Without `instances` (a request with no server group nor same/different
 * host hint: no filter or weigher looks at them) the instances on each host
 * are not read, and each host's set is empty: that read grows with the
 * whole cloud's instances.
 */
export async function loadHostStates(db: Db, opts: { instances?: boolean } = {}): Promise<HostState[]> {
  const [nodes, inventories, usages] = await Promise.all([listNodesWithServices(db), allInventories(db), allUsages(db, opts.instances ?? true)]);
  return nodes.map((n) => {
    const usage = usages.get(n.uuid);
    return {
      host: n.host,
      nodename: n.hypervisor_hostname,
      providerUuid: n.uuid,
      service: {
        disabled: n.disabled,
        disabledReason: n.disabled_reason,
        forcedDown: n.forced_down,
        lastSeenUp: n.last_seen_up ? n.last_seen_up.getTime() : null,
        availabilityZone: n.availability_zone,
      },
      hypervisorType: n.hypervisor_type,
      hypervisorVersion: Number(n.hypervisor_version),
      hostIp: n.host_ip,
      supportedInstances: n.supported_instances,
      inventory: inventories.get(n.uuid) ?? {},
      used: usage?.used ?? {},
      instances: usage?.consumers ?? new Set(),
    };
  });
}
