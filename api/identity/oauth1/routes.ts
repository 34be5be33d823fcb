import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { collectionLinks } from '../roles/view.ts';
import * as consumers from './service.ts';
import { consumerView } from './view.ts';

type ConsumerCreateRequest = components['schemas']['ConsumerCreateRequest'];
type ConsumerUpdateRequest = components['schemas']['ConsumerUpdateRequest'];
type ConsumerParams = { consumer_id: string };

/** /v3/OS-OAUTH1/consumers: registering OAuth1 consumers (the token flow is not served). */
export function registerOAuth1ConsumerRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get('/v3/OS-OAUTH1/consumers', async (request) => {
    authorize(request, ctx, 'identity:list_consumers');
    const rows = await consumers.listConsumers(ctx);
    return { consumers: rows.map((c) => consumerView(request, c)), links: collectionLinks(request) };
  });

  app.post<{ Body: ConsumerCreateRequest }>('/v3/OS-OAUTH1/consumers', async (request, reply) => {
    authorize(request, ctx, 'identity:create_consumer');
    ctx.validate('ConsumerCreateRequest', request.body);
    const created = await consumers.createConsumer(ctx, request.body.consumer);
    return reply.code(201).send({ consumer: { ...consumerView(request, created), secret: created.secret } });
  });

  app.get<{ Params: ConsumerParams }>('/v3/OS-OAUTH1/consumers/:consumer_id', async (request) => {
    authorize(request, ctx, 'identity:get_consumer', { consumer_id: request.params.consumer_id });
    return { consumer: consumerView(request, await consumers.getConsumer(ctx, request.params.consumer_id)) };
  });

  app.patch<{ Params: ConsumerParams; Body: ConsumerUpdateRequest }>('/v3/OS-OAUTH1/consumers/:consumer_id', async (request) => {
    authorize(request, ctx, 'identity:update_consumer', { consumer_id: request.params.consumer_id });
    ctx.validate('ConsumerUpdateRequest', request.body);
    return { consumer: consumerView(request, await consumers.updateConsumer(ctx, request.params.consumer_id, request.body.consumer)) };
  });

  app.delete<{ Params: ConsumerParams }>('/v3/OS-OAUTH1/consumers/:consumer_id', async (request, reply) => {
    authorize(request, ctx, 'identity:delete_consumer', { consumer_id: request.params.consumer_id });
    await consumers.deleteConsumer(ctx, request.params.consumer_id);
    return reply.code(204).send();
  });
}
