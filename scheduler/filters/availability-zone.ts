import type { HostFilter } from './types.ts';

/** AvailabilityZoneFilter: when the request names a zone, only hosts in it. */
export const availabilityZoneFilter: HostFilter = {
  name: 'AvailabilityZoneFilter',
  passes: (host, req) => !req.spec.availabilityZone || host.service.availabilityZone === req.spec.availabilityZone,
};
