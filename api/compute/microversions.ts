import type { FastifyInstance } from 'fastify';
import { registerMicroversions } from '../http/microversion.ts';

/** Nova 26 (Zed): microversions 2.1 … 2.93 (nova/api/openstack/api_version_request.py). */
export const COMPUTE_MIN_VERSION = '2.1';
export const COMPUTE_MAX_VERSION = '2.93';

/** `OpenStack-API-Version: compute 2.x` or `X-OpenStack-Nova-API-Version: 2.x`, echoed on every versioned response. */
export function registerComputeMicroversions(app: FastifyInstance): void {
  registerMicroversions(app, {
    serviceType: 'compute',
    min: COMPUTE_MIN_VERSION,
    max: COMPUTE_MAX_VERSION,
    legacyHeaders: ['X-OpenStack-Nova-API-Version'],
  });
}
