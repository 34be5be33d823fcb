import { misfit, type ResourceClass } from '../placement/resources.ts';
import type { HostFilter } from './types.ts';

/**
 * A host passes when one more instance's `rc` fits its provider as the claim
 * will check it: within min_unit/max_unit/step_size (max_unit is the whole
 * host, so nothing bigger than the host passes) and within
 * (total − reserved) × allocation_ratio − used.
 */
const resourceFilter = (name: string, rc: ResourceClass): HostFilter => ({
  name,
  passes: (host, req) => misfit(host.inventory[rc], host.used[rc] ?? 0, req.resources[rc] ?? 0) === null,
});

/** RamFilter: enough MEMORY_MB, with ram_allocation_ratio. */
export const ramFilter = resourceFilter('RamFilter', 'MEMORY_MB');
/** CoreFilter: enough VCPU, with cpu_allocation_ratio. */
export const coreFilter = resourceFilter('CoreFilter', 'VCPU');
/** DiskFilter: enough DISK_GB (root + ephemeral + swap), with disk_allocation_ratio. */
export const diskFilter = resourceFilter('DiskFilter', 'DISK_GB');
