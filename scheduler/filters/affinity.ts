import type { PreparedRequest } from '../request.ts';
import type { HostState } from '../state.ts';
import type { HostFilter } from './types.ts';

const anyOn = (host: HostState, uuids: readonly string[]) => uuids.some((u) => host.instances.has(u));

/** SameHostFilter: with a same_host hint, only hosts running one of the instances named. */
export const sameHostFilter: HostFilter = {
  name: 'SameHostFilter',
  passes: (host, req) => req.sameHost.length === 0 || anyOn(host, req.sameHost),
};

/** DifferentHostFilter: with a different_host hint, only hosts running none of the instances named. */
export const differentHostFilter: HostFilter = {
  name: 'DifferentHostFilter',
  passes: (host, req) => req.differentHost.length === 0 || !anyOn(host, req.differentHost),
};

/** How many of the group's members run on the host. */
export function groupMembersOn(host: HostState, req: PreparedRequest): number {
  const members = req.groupMembers;
  const instances = host.instances;
  if (members.size === 0 || instances.size === 0) return 0;
  let n = 0;
  if (instances.size <= members.size) {
    for (const u of instances) if (members.has(u)) n++;
  } else {
    for (const u of members) if (instances.has(u)) n++;
  }
  return n;
}

/** ServerGroupAffinityFilter: an affinity group's instances go where its members already are (anywhere for the first). */
export const serverGroupAffinityFilter: HostFilter = {
  name: 'ServerGroupAffinityFilter',
  passes: (host, req) => req.spec.group?.policy !== 'affinity' || req.groupHosts.size === 0 || req.groupHosts.has(host.host),
};

/**
 * ServerGroupAntiAffinityFilter: an anti-affinity group's instance goes to a
 * host with fewer than max_server_per_host (default 1) members. A host that
 * already runs the instance itself (a move's source) is not held against it.
 */
export const serverGroupAntiAffinityFilter: HostFilter = {
  name: 'ServerGroupAntiAffinityFilter',
  passes: (host, req) => {
    const g = req.spec.group;
    if (g?.policy !== 'anti-affinity') return true;
    if (host.instances.has(req.instanceUuid)) return true;
    return groupMembersOn(host, req) < (g.rules?.max_server_per_host ?? 1);
  },
};
