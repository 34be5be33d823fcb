import type { HostWeigher } from './types.ts';

/**
 * RAMWeigher: free memory, as Nova's free_ram_mb (total − reserved − used,
 * no overcommit). A positive ram_weight_multiplier spreads instances, a
 * negative one stacks them.
 */
export const ramWeigher: HostWeigher = {
  name: 'RAMWeigher',
  minval: 0,
  multiplier: (o) => o.ramWeightMultiplier,
  weigh: (host) => {
    const inv = host.inventory.MEMORY_MB;
    return inv ? inv.total - inv.reserved - (host.used.MEMORY_MB ?? 0) : 0;
  },
};

/** CPUWeigher: free vCPUs with overcommit (total × cpu_allocation_ratio − used), as Nova. */
export const cpuWeigher: HostWeigher = {
  name: 'CPUWeigher',
  minval: 0,
  multiplier: (o) => o.cpuWeightMultiplier,
  weigh: (host) => {
    const inv = host.inventory.VCPU;
    return inv ? inv.total * inv.allocationRatio - (host.used.VCPU ?? 0) : 0;
  },
};
