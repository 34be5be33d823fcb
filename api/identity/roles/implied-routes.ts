import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import * as implied from './implied-service.ts';
import { findRole } from './service.ts';
import { inferenceRoleView, roleView, v3Url } from './view.ts';

type RuleParams = { prior_role_id: string; implied_role_id: string };
type PriorParams = { prior_role_id: string };

/** Keystone's target for the implied-role rules: the prior (and implied) role refs. */
async function ruleTarget(ctx: IdentityContext, request: FastifyRequest, params: Partial<RuleParams>) {
  const target: Record<string, unknown> = {};
  const prior = params.prior_role_id ? await findRole(ctx, params.prior_role_id) : undefined;
  if (prior) target.prior_role = roleView(request, prior);
  const impliedRole = params.implied_role_id ? await findRole(ctx, params.implied_role_id) : undefined;
  if (impliedRole) target.implied_role = roleView(request, impliedRole);
  return { ...params, target };
}

/** PUT/GET/HEAD/DELETE /v3/roles/{prior}/implies/{implied}, GET …/implies, GET /v3/role_inferences. */
export function registerImpliedRoleRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  const ruleBody = (request: FastifyRequest, r: implied.RoleInference) => ({
    role_inference: { prior_role: inferenceRoleView(request, r.prior), implies: inferenceRoleView(request, r.implies) },
    links: { self: v3Url(request, `/roles/${r.prior.id}/implies/${r.implies.id}`) },
  });

  app.put<{ Params: RuleParams }>('/v3/roles/:prior_role_id/implies/:implied_role_id', async (request, reply) => {
    authorize(request, ctx, 'identity:create_implied_role', await ruleTarget(ctx, request, request.params));
    const rule = await implied.createImpliedRole(ctx, request.params.prior_role_id, request.params.implied_role_id);
    return reply.code(201).send(ruleBody(request, rule));
  });

  app.route<{ Params: RuleParams }>({
    method: ['GET', 'HEAD'],
    url: '/v3/roles/:prior_role_id/implies/:implied_role_id',
    exposeHeadRoute: false,
    handler: async (request, reply) => {
      const head = request.method === 'HEAD';
      const target = await ruleTarget(ctx, request, request.params);
      authorize(request, ctx, head ? 'identity:check_implied_role' : 'identity:get_implied_role', target);
      const rule = await implied.getImpliedRole(ctx, request.params.prior_role_id, request.params.implied_role_id);
      if (head) return reply.code(204).send();
      return ruleBody(request, rule);
    },
  });

  app.delete<{ Params: RuleParams }>('/v3/roles/:prior_role_id/implies/:implied_role_id', async (request, reply) => {
    authorize(request, ctx, 'identity:delete_implied_role', await ruleTarget(ctx, request, request.params));
    await implied.deleteImpliedRole(ctx, request.params.prior_role_id, request.params.implied_role_id);
    return reply.code(204).send();
  });

  app.get<{ Params: PriorParams }>('/v3/roles/:prior_role_id/implies', async (request) => {
    authorize(request, ctx, 'identity:list_implied_roles', await ruleTarget(ctx, request, request.params));
    const { prior, implies } = await implied.listImpliedRoles(ctx, request.params.prior_role_id);
    return {
      role_inference: { prior_role: inferenceRoleView(request, prior), implies: implies.map((r) => inferenceRoleView(request, r)) },
      links: { self: v3Url(request, `/roles/${prior.id}/implies`) },
    };
  });

  app.get('/v3/role_inferences', async (request) => {
    authorize(request, ctx, 'identity:list_role_inference_rules', {});
    const rules = await implied.listRoleInferences(ctx);
    return {
      role_inferences: rules.map((r) => ({
        prior_role: inferenceRoleView(request, r.prior, true),
        implies: r.implies.map((role) => inferenceRoleView(request, role, true)),
      })),
      links: { self: v3Url(request, '/role_inferences') },
    };
  });
}
