import type { ServiceState } from '../state.ts';
import type { HostFilter } from './types.ts';

/**
 * Whether a compute service is up (Nova's DB servicegroup driver): not forced
 * down, and heard from within service_down_time.
 */
export function serviceIsUp(service: ServiceState, now: number, serviceDownTimeMs: number): boolean {
  if (service.forcedDown || service.lastSeenUp === null) return false;
  return Math.abs(now - service.lastSeenUp) <= serviceDownTimeMs;
}

/** ComputeFilter: only enabled compute services that are up. */
export const computeFilter: HostFilter = {
  name: 'ComputeFilter',
  passes: (host, req) => !host.service.disabled && serviceIsUp(host.service, req.now, req.options.serviceDownTimeMs),
};
