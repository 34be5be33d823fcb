import type { FastifyRequest } from 'fastify';
import type { Config } from '../../../lib/config/index.ts';
import type { ComputeServiceRow } from '../../../scheduler/compute-nodes/store.ts';
import { novaTime } from '../keypairs/view.ts';
import { isUp, novaBinary, zoneOf } from './state.ts';

/** From 2.53 a service's id is its uuid. */
export const SERVICE_UUID_MICROVERSION = '2.53';

/** Nova's service detail (forced_down from 2.11, or whenever `forcedDown` says so). */
export function serviceView(request: FastifyRequest, row: ComputeServiceRow, config: Config, forcedDown = request.microversion.atLeast('2.11')) {
  return {
    binary: novaBinary(row.binary),
    host: row.host,
    id: request.microversion.atLeast(SERVICE_UUID_MICROVERSION) ? row.uuid : row.id,
    zone: zoneOf(row),
    status: row.disabled ? 'disabled' : 'enabled',
    state: isUp(row, config) ? 'up' : 'down',
    updated_at: novaTime(row.updated_at),
    disabled_reason: row.disabled_reason,
    ...(forcedDown ? { forced_down: row.forced_down } : {}),
  };
}
