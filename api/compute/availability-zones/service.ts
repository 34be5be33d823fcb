import type { ComputeServiceRow } from '../../../scheduler/compute-nodes/store.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { novaTime } from '../keypairs/view.ts';
import { INTERNAL_ZONE, isUp, novaBinary, zoneOf } from '../services/state.ts';
import { listServices } from '../services/store.ts';

/** A zone's hosts: host → Nova binary → whether the service is up (available), enabled (active) and when it last changed. */
export type ZoneHosts = Record<string, Record<string, { available: boolean; active: boolean; updated_at: string }>>;

export interface ZoneInfo {
  zoneName: string;
  zoneState: { available: boolean };
  hosts: ZoneHosts | null;
}

/**
 * Nova's get_availability_zones: the zones of enabled services are
 * available; the zones only disabled services are in are not. Both sorted.
 */
function zones(services: ComputeServiceRow[]): { available: string[]; unavailable: string[] } {
  const available = new Set(services.filter((s) => !s.disabled).map(zoneOf));
  const unavailable = new Set(services.filter((s) => s.disabled).map(zoneOf).filter((z) => !available.has(z)));
  return { available: [...available].sort(), unavailable: [...unavailable].sort() };
}

/** GET /os-availability-zone: every zone but the internal one (of the services other than nova-compute), without hosts. */
export async function listZones(ctx: ComputeContext, caller: ComputeCaller): Promise<ZoneInfo[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-availability-zone:list', {});
  const { available, unavailable } = zones(await listServices(ctx.db));
  const info = (zone: string, isAvailable: boolean): ZoneInfo => ({ zoneName: zone, zoneState: { available: isAvailable }, hosts: null });
  return [...available.filter((z) => z !== INTERNAL_ZONE).map((z) => info(z, true)), ...unavailable.filter((z) => z !== INTERNAL_ZONE).map((z) => info(z, false))];
}

/** GET /os-availability-zone/detail: each available zone (internal too) with its hosts and their enabled services; unavailable zones without hosts. */
export async function detailZones(ctx: ComputeContext, caller: ComputeCaller): Promise<ZoneInfo[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-availability-zone:detail', {});
  const services = await listServices(ctx.db);
  const { available, unavailable } = zones(services);
  const now = Date.now();
  const hostsOf = (zone: string) => {
    const hosts: ZoneHosts = {};
    for (const s of services) {
      if (s.disabled || zoneOf(s) !== zone) continue;
      (hosts[s.host] ??= {})[novaBinary(s.binary)] = { available: isUp(s, ctx.config, now), active: true, updated_at: novaTime(s.updated_at) };
    }
    return hosts;
  };
  return [
    ...available.map((z) => ({ zoneName: z, zoneState: { available: true }, hosts: hostsOf(z) })),
    ...unavailable.map((z) => ({ zoneName: z, zoneState: { available: false }, hosts: null })),
  ];
}
