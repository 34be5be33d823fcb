import { groupMembersOn } from '../filters/affinity.ts';
import type { HostWeigher } from './types.ts';

/** ServerGroupSoftAffinityWeigher: for a soft-affinity group, hosts with more of its members weigh more. */
export const softAffinityWeigher: HostWeigher = {
  name: 'ServerGroupSoftAffinityWeigher',
  multiplier: (o) => o.softAffinityWeightMultiplier,
  weigh: (host, req) => (req.spec.group?.policy === 'soft-affinity' ? groupMembersOn(host, req) : 0),
};

/** ServerGroupSoftAntiAffinityWeigher: for a soft-anti-affinity group, hosts with fewer of its members weigh more. */
export const softAntiAffinityWeigher: HostWeigher = {
  name: 'ServerGroupSoftAntiAffinityWeigher',
  multiplier: (o) => o.softAntiAffinityWeightMultiplier,
  weigh: (host, req) => (req.spec.group?.policy === 'soft-anti-affinity' ? -groupMembersOn(host, req) : 0),
};
