import type { Config } from '../../../lib/config/index.ts';
import { notFound } from '../../../lib/errors.ts';
import { COMPUTE_BINARY } from '../../../compute-driver/rpc.ts';
import { serviceIsUp } from '../../../scheduler/filters/compute.ts';
import type { ComputeServiceRow } from '../../../scheduler/compute-nodes/store.ts';

/**
 * How the compute_services rows look through Nova's eyes, shared by
 * os-services, os-hypervisors and os-availability-zone.
 *
 * Nubo's processes report themselves as `nubo-<name>` (the compute agent as
 * COMPUTE_BINARY, nubo-compute); clients know Nova's `nova-<name>` (Tempest
 * lists `?binary=nova-compute`), so that is what the API shows and filters on.
 */

/** Nova's name of the compute service binary. */
export const NOVA_COMPUTE = 'nova-compute';

/** Nova's [DEFAULT] internal_service_availability_zone: the zone of every service but nova-compute. */
export const INTERNAL_ZONE = 'internal';

/** The binary as Nova names it: nubo-compute → nova-compute, nubo-<x> → nova-<x>, anything else as stored. */
export const novaBinary = (stored: string) => (stored.startsWith('nubo-') ? `nova-${stored.slice('nubo-'.length)}` : stored);

/** The stored binary a Nova name stands for (the inverse of novaBinary). */
export const storedBinary = (nova: string) => (nova.startsWith('nova-') ? `nubo-${nova.slice('nova-'.length)}` : nova);

export const isCompute = (row: Pick<ComputeServiceRow, 'binary'>) => row.binary === COMPUTE_BINARY;

/** A compute service's zone is its own (default `nova`); every other service is in the internal zone. */
export const zoneOf = (row: Pick<ComputeServiceRow, 'binary' | 'availability_zone'>) => (isCompute(row) ? row.availability_zone : INTERNAL_ZONE);

/**
 * Nova's DB servicegroup driver: up unless forced down, when the last
 * heartbeat (else the row's creation) is within scheduler.service_down_time.
 */
export function isUp(row: Pick<ComputeServiceRow, 'forced_down' | 'last_seen_up' | 'created_at'>, config: Config, now = Date.now()): boolean {
  const lastSeenUp = (row.last_seen_up ?? row.created_at).getTime();
  return serviceIsUp({ forcedDown: row.forced_down, lastSeenUp, disabled: false, disabledReason: null, availabilityZone: '' }, now, config['scheduler.service_down_time'] * 1000);
}

/** oslo.utils uuidutils.is_uuid_like: a UUID, with or without its dashes. */
export const isUuidLike = (id: string) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(id);

/** What Nova answers for a method the microversion does not have (VersionNotFoundForAPIMethod). */
export const versionNotFound = () => notFound('The resource could not be found.');
