import type { PreparedRequest } from '../request.ts';
import type { HostState } from '../state.ts';
import { serverGroupAffinityFilter, serverGroupAntiAffinityFilter, differentHostFilter, sameHostFilter } from './affinity.ts';
import { availabilityZoneFilter } from './availability-zone.ts';
import { computeFilter } from './compute.ts';
import { imagePropertiesFilter } from './image-properties.ts';
import { coreFilter, diskFilter, ramFilter } from './resources.ts';
import type { HostFilter } from './types.ts';

export type { HostFilter } from './types.ts';
export { serviceIsUp } from './compute.ts';

/** The filters every decision runs, cheapest and most selective first. */
export const defaultFilters: readonly HostFilter[] = [
  computeFilter,
  availabilityZoneFilter,
  ramFilter,
  coreFilter,
  diskFilter,
  imagePropertiesFilter,
  sameHostFilter,
  differentHostFilter,
  serverGroupAntiAffinityFilter,
  serverGroupAffinityFilter,
];

/** The hosts passing every filter, in their order; the request's ignore_hosts are dropped first (case-insensitively, as Nova). */
export function filterHosts(hosts: readonly HostState[], req: PreparedRequest, filters: readonly HostFilter[] = defaultFilters): HostState[] {
  const ignore = new Set((req.spec.ignoreHosts ?? []).map((h) => h.toLowerCase()));
  const out: HostState[] = [];
  next: for (const h of hosts) {
    if (ignore.size && ignore.has(h.host.toLowerCase())) continue;
    for (const f of filters) if (!f.passes(h, req)) continue next;
    out.push(h);
  }
  return out;
}
