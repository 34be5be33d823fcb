import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/compute.d.ts';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { collectionLinks, lastValue, pageOf, queryOf, rejectUnknownQuery } from '../query.ts';
import * as keypairs from './service.ts';
import { createdKeypairView, keypairListEntry, keypairView } from './view.ts';

type NameParams = { keypair_name: string };
type CreateRequest = components['schemas']['KeypairCreateRequestV210'];

/** The create schema of each microversion range: `type` from 2.2, `user_id` from 2.10, public_key required from 2.92. */
function createSchema(request: FastifyRequest): string {
  const v = request.microversion;
  if (v.atLeast('2.92')) return 'KeypairCreateRequestV292';
  if (v.atLeast('2.10')) return 'KeypairCreateRequestV210';
  if (v.atLeast('2.2')) return 'KeypairCreateRequestV22';
  return 'KeypairCreateRequest';
}

/** ?user_id=… names another user's keypairs from 2.10 (policy allows admins); ignored before. */
function userIdOf(request: FastifyRequest, allowed: readonly string[]): string | undefined {
  rejectUnknownQuery(request, allowed);
  return request.microversion.atLeast('2.10') ? lastValue(queryOf(request), 'user_id') : undefined;
}

/** os-keypairs: a user's SSH (and x509) keys; 2.1 answers 200/202 where 2.2 on answers 201/204. */
export function registerKeypairRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const withType = (request: FastifyRequest) => request.microversion.atLeast('2.2');

  app.get('/os-keypairs', async (request) => {
    const caller = callerOf(request, ctx);
    const userId = userIdOf(request, ['user_id', 'limit', 'marker']);
    const paged = request.microversion.atLeast('2.35');
    const page = paged ? pageOf(request, ctx.config['compute.max_limit']) : undefined;
    const rows = await keypairs.listKeypairs(ctx, caller, userId, page);
    const body: Record<string, unknown> = { keypairs: rows.map((kp) => keypairListEntry(kp, withType(request))) };
    if (paged) {
      const links = collectionLinks(request, 'os-keypairs', rows.length, rows.at(-1)?.name, ctx.config['compute.max_limit']);
      if (links.length) body.keypairs_links = links;
    }
    return body;
  });

  app.post('/os-keypairs', async (request, reply) => {
    const caller = callerOf(request, ctx);
    ctx.validate(createSchema(request), request.body);
    const { keypair } = request.body as CreateRequest;
    const created = await keypairs.createKeypair(ctx, caller, keypair);
    return reply.code(withType(request) ? 201 : 200).send({ keypair: createdKeypairView(created.keypair, created.privateKey, withType(request)) });
  });

  app.get<{ Params: NameParams }>('/os-keypairs/:keypair_name', async (request) => {
    const caller = callerOf(request, ctx);
    const kp = await keypairs.showKeypair(ctx, caller, request.params.keypair_name, userIdOf(request, ['user_id']));
    return { keypair: keypairView(kp, withType(request)) };
  });

  app.delete<{ Params: NameParams }>('/os-keypairs/:keypair_name', async (request, reply) => {
    const caller = callerOf(request, ctx);
    await keypairs.deleteKeypair(ctx, caller, request.params.keypair_name, userIdOf(request, ['user_id']));
    return reply.code(withType(request) ? 204 : 202).send();
  });
}
