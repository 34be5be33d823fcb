import type { FastifyInstance } from 'fastify';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { detailZones, listZones } from './service.ts';

/** os-availability-zone: the zones the services are in (anyone may list them; admins see their hosts and services). */
export function registerAvailabilityZoneRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-availability-zone', async (request) => ({ availabilityZoneInfo: await listZones(ctx, callerOf(request, ctx)) }));
  app.get('/os-availability-zone/detail', async (request) => ({ availabilityZoneInfo: await detailZones(ctx, callerOf(request, ctx)) }));
}
