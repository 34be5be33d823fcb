import { forbidden } from '../../../lib/errors.ts';
import { isUnlimited } from '../quotas/resources.ts';

export type InstanceResource = 'cores' | 'instances' | 'ram';
export type InstanceCounts = Record<InstanceResource, number>;

/** The resources, sorted as Nova's OverQuota lists them. */
const RESOURCES: readonly InstanceResource[] = ['cores', 'instances', 'ram'];

/**
 * Nova's check_num_instances_quota: how many of min..max instances of a
 * flavor (vcpus, ram MB) fit `limits` given `used`. All of them when they
 * fit; as many as fit when that is at least `min` (Nova creates fewer);
 * otherwise a 403 "Quota exceeded for instances: Requested 1, but already
 * used 10 of 10 instances" naming each resource over its limit.
 */
export function instancesWithinQuota(limits: InstanceCounts, used: InstanceCounts, vcpus: number, ram: number, min: number, max: number): number {
  const deltas: InstanceCounts = { instances: max, cores: max * vcpus, ram: max * ram };
  const overs = RESOURCES.filter((r) => !isUnlimited(limits[r]) && used[r] + deltas[r] > limits[r]);
  if (!overs.length) return max;
  const headroom = (r: InstanceResource) => (isUnlimited(limits[r]) ? Infinity : limits[r] - used[r]);
  let allowed = headroom('instances');
  if (vcpus) allowed = Math.min(allowed, Math.floor(headroom('cores') / vcpus));
  if (ram) allowed = Math.min(allowed, Math.floor(headroom('ram') / ram));
  if (allowed >= min && allowed > 0 && allowed <= max) return instancesWithinQuota(limits, used, vcpus, ram, min, allowed);
  const requested: Record<InstanceResource, string> = {
    instances: min === max ? String(min) : `${min}-${max}`,
    cores: String(deltas.cores),
    ram: String(deltas.ram),
  };
  const list = (f: (r: InstanceResource) => string) => overs.map(f).join(', ');
  throw forbidden(
    `Quota exceeded for ${list((r) => r)}: Requested ${list((r) => requested[r])}, but already used ${list((r) => String(used[r]))} of ${list((r) => String(limits[r]))} ${list((r) => r)}`,
  );
}
