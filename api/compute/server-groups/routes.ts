import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/compute.d.ts';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { lastValue, queryOf, rejectUnknownQuery, validateInteger } from '../query.ts';
import * as groups from './service.ts';
import { GROUP_POLICY_MICROVERSION, serverGroupView } from './view.ts';

type IdParams = { id: string };
type CreateBody = components['schemas']['ServerGroupCreateRequest'];
type CreateBodyV264 = components['schemas']['ServerGroupCreateRequestV264'];

/** The create schema of each microversion range: soft policies from 2.15, policy and rules from 2.64. */
function createSchema(request: FastifyRequest): string {
  const v = request.microversion;
  if (v.atLeast(GROUP_POLICY_MICROVERSION)) return 'ServerGroupCreateRequestV264';
  if (v.atLeast('2.15')) return 'ServerGroupCreateRequestV215';
  return 'ServerGroupCreateRequest';
}

/** The list query: all_projects (its presence counts), limit and offset (non-negative; limit capped at compute.max_limit, 0 meaning the cap). */
function listQuery(request: FastifyRequest, maxLimit: number): groups.ListQuery {
  rejectUnknownQuery(request, ['all_projects', 'limit', 'offset']);
  const q = queryOf(request);
  const int = (name: string) => {
    const raw = lastValue(q, name);
    return raw === undefined ? 0 : validateInteger(raw, name, 0);
  };
  return { allProjects: 'all_projects' in q, limit: Math.min(maxLimit, int('limit') || maxLimit), offset: int('offset') };
}

/** os-server-groups: groups of servers placed by (anti-)affinity. */
export function registerServerGroupRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-server-groups', async (request) => {
    const caller = callerOf(request, ctx);
    const rows = await groups.listServerGroups(ctx, caller, listQuery(request, ctx.config['compute.max_limit']));
    return { server_groups: rows.map((g) => serverGroupView(request, g)) };
  });

  app.post('/os-server-groups', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate(createSchema(request), request.body);
    let input: groups.ServerGroupInput;
    if (request.microversion.atLeast(GROUP_POLICY_MICROVERSION)) {
      const { server_group: sg } = request.body as CreateBodyV264;
      input = { name: sg.name, policy: sg.policy, rules: sg.rules };
    } else {
      const { server_group: sg } = request.body as CreateBody;
      input = { name: sg.name, policy: sg.policies[0] };
    }
    return { server_group: serverGroupView(request, await groups.createServerGroup(ctx, caller, input)) };
  });

  app.get<{ Params: IdParams }>('/os-server-groups/:id', async (request) => {
    const group = await groups.showServerGroup(ctx, callerOf(request, ctx), request.params.id);
    return { server_group: serverGroupView(request, group) };
  });

  app.delete<{ Params: IdParams }>('/os-server-groups/:id', async (request, reply) => {
    await groups.deleteServerGroup(ctx, callerOf(request, ctx), request.params.id);
    return reply.code(204).send();
  });
}
