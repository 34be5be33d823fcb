/**
 * Resource classes, inventories and the capacity rule Placement applies,
 * shared by the claim (scheduler/placement/service.ts) and the scheduler's
 * resource filters, so that a host the filters pass is a host the claim
 * accepts (as long as nobody claimed in between).
 */
export const RESOURCE_CLASSES = ['VCPU', 'MEMORY_MB', 'DISK_GB'] as const;
export type ResourceClass = (typeof RESOURCE_CLASSES)[number];

/** Amounts per resource class; a missing class is 0. */
export type Resources = Partial<Record<ResourceClass, number>>;

export interface Inventory {
  total: number;
  reserved: number;
  minUnit: number;
  maxUnit: number;
  stepSize: number;
  allocationRatio: number;
}

export type Inventories = Partial<Record<ResourceClass, Inventory>>;

export const isResourceClass = (rc: string): rc is ResourceClass => (RESOURCE_CLASSES as readonly string[]).includes(rc);

/** What the provider can hold of this class: (total − reserved) × allocation_ratio. */
export const capacity = (inv: Inventory) => (inv.total - inv.reserved) * inv.allocationRatio;

/** Why `amount` more of a class does not fit, or null when it does. */
export function misfit(inv: Inventory | undefined, used: number, amount: number): 'no-inventory' | 'unit' | 'capacity' | null {
  if (!amount) return null;
  if (!inv) return 'no-inventory';
  if (amount < inv.minUnit || amount > inv.maxUnit || amount % inv.stepSize !== 0) return 'unit';
  if (capacity(inv) < used + amount) return 'capacity';
  return null;
}

/** The classes with a non-zero amount, in RESOURCE_CLASSES order. */
export const requested = (r: Resources): [ResourceClass, number][] =>
  RESOURCE_CLASSES.filter((rc) => (r[rc] ?? 0) > 0).map((rc) => [rc, r[rc]!]);

/** What a compute node offers, as its compute agent reports it. */
export interface NodeResources {
  vcpus: number;
  memoryMb: number;
  localGb: number;
}

/** Allocation ratios and host reservations (the compute.* options). */
export interface InventoryPolicy {
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
  reservedHostCpus: number;
  reservedHostMemoryMb: number;
  reservedHostDiskMb: number;
}

/**
 * The inventory a compute node's provider gets, as Nova's resource tracker
 * sets it: max_unit the whole node, reserved disk rounded up to a GB. A
 * reservation larger than the node reserves all of it (Placement refuses
 * reserved > total).
 */
export function nodeInventory(node: NodeResources, p: InventoryPolicy): Inventories {
  const inv = (total: number, reserved: number, allocationRatio: number): Inventory => ({
    total,
    reserved: Math.min(reserved, total),
    minUnit: 1,
    maxUnit: total,
    stepSize: 1,
    allocationRatio,
  });
  const out: Inventories = {};
  if (node.vcpus > 0) out.VCPU = inv(node.vcpus, p.reservedHostCpus, p.cpuAllocationRatio);
  if (node.memoryMb > 0) out.MEMORY_MB = inv(node.memoryMb, p.reservedHostMemoryMb, p.ramAllocationRatio);
  if (node.localGb > 0) out.DISK_GB = inv(node.localGb, Math.ceil(p.reservedHostDiskMb / 1024), p.diskAllocationRatio);
  return out;
}
