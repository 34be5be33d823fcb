import type { FastifyInstance } from 'fastify';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { createExternalEvents, type ExternalEvent } from './service.ts';

/** POST /os-server-external-events (admins: what Neutron and Cinder tell Nova). volume-extended is allowed from 2.51. */
export function registerServerExternalEventRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.post('/os-server-external-events', async (request, reply) => {
    const caller = callerOf(request, ctx);
    ctx.validate(request.microversion.atLeast('2.51') ? 'ServerExternalEventsRequestV251' : 'ServerExternalEventsRequest', request.body);
    const { code, events } = await createExternalEvents(ctx, caller, (request.body as { events: ExternalEvent[] }).events);
    return reply.code(code).send({ events });
  });
}
