import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authorize } from '../../http/auth.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import * as policies from './service.ts';
import { policyView } from './view.ts';

type PolicyCreateRequest = components['schemas']['PolicyCreateRequest'];
type PolicyUpdateRequest = components['schemas']['PolicyUpdateRequest'];
type PolicyParams = { policy_id: string };

/** /v3/policies: stored policy blobs. Keystone checks the rule before reading the body. */
export function registerPolicyRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: { type?: string } }>('/v3/policies', async (request) => {
    authorize(request, ctx, 'identity:list_policies');
    const rows = await policies.listPolicies(ctx, { type: request.query.type });
    return { policies: rows.map((p) => policyView(request, p)), links: collectionLinks(request) };
  });

  app.post<{ Body: PolicyCreateRequest }>('/v3/policies', async (request, reply) => {
    authorize(request, ctx, 'identity:create_policy');
    ctx.validate('PolicyCreateRequest', request.body);
    const row = await policies.createPolicy(ctx, request.body.policy);
    return reply.code(201).send({ policy: policyView(request, row) });
  });

  app.get<{ Params: PolicyParams }>('/v3/policies/:policy_id', async (request) => {
    authorize(request, ctx, 'identity:get_policy', { ...request.params });
    return { policy: policyView(request, await policies.getPolicy(ctx, request.params.policy_id)) };
  });

  app.patch<{ Params: PolicyParams; Body: PolicyUpdateRequest }>('/v3/policies/:policy_id', async (request) => {
    authorize(request, ctx, 'identity:update_policy', { ...request.params });
    ctx.validate('PolicyUpdateRequest', request.body);
    const row = await policies.updatePolicy(ctx, request.params.policy_id, request.body.policy);
    return { policy: policyView(request, row) };
  });

  app.delete<{ Params: PolicyParams }>('/v3/policies/:policy_id', async (request, reply) => {
    authorize(request, ctx, 'identity:delete_policy', { ...request.params });
    await policies.deletePolicy(ctx, request.params.policy_id);
    return reply.code(204).send();
  });
}
