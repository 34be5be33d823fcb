import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { defaultDomainOf, listDomainOf } from '../domains/default-domain.ts';
import { booleanFilter } from '../domains/enabled-filter.ts';
import { collectionLinks } from '../roles/view.ts';
import * as users from '../users/service.ts';
import { userView } from '../users/view.ts';
import * as groups from './service.ts';
import type { GroupRow } from './store.ts';
import { groupView } from './view.ts';

type GroupCreateRequest = components['schemas']['GroupCreateRequest'];
type GroupUpdateRequest = components['schemas']['GroupUpdateRequest'];
type GroupParams = { group_id: string };
type MemberParams = { group_id: string; user_id: string };
type MemberQuery = { name?: string; domain_id?: string; enabled?: string; password_expires_at?: string };

/** Loads the group in the URL and enforces `action` with it as `target.group` (empty when missing; then 404). */
async function authorizedGroup(request: FastifyRequest<{ Params: GroupParams }>, ctx: IdentityContext, action: string): Promise<GroupRow> {
  const { group_id } = request.params;
  const row = await groups.findGroup(ctx, group_id);
  authorize(request, ctx, action, { group_id, target: row ? { group: groupView(request, row) } : {} });
  if (!row) throw groups.groupNotFound(group_id);
  return row;
}

/** Enforces a membership rule with the group and the user (those that exist) as targets. */
async function authorizeMembership(request: FastifyRequest<{ Params: MemberParams }>, ctx: IdentityContext, action: string): Promise<void> {
  const { group_id, user_id } = request.params;
  const [group, user] = await Promise.all([groups.findGroup(ctx, group_id), users.findUser(ctx, user_id)]);
  const target: Record<string, unknown> = {};
  if (group) target.group = groupView(request, group);
  if (user) target.user = userView(request, user);
  authorize(request, ctx, action, { group_id, user_id, target });
}

/** /v3/groups and their memberships. */
export function registerGroupRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: { name?: string; domain_id?: string } }>('/v3/groups', async (request) => {
    const { name, domain_id } = request.query;
    const scopedTo = listDomainOf(authenticate(request, ctx.tokens).claims);
    const filters = { ...(name !== undefined ? { name } : {}), ...(domain_id !== undefined ? { domain_id } : {}) };
    authorize(request, ctx, 'identity:list_groups', { ...filters, ...(scopedTo ? { target: { group: { domain_id: scopedTo } } } : {}) });
    if (scopedTo && domain_id !== undefined && domain_id !== scopedTo) return { groups: [], links: collectionLinks(request) };
    const rows = await groups.listGroups(ctx, { name, domainId: scopedTo ?? domain_id });
    return { groups: rows.map((g) => groupView(request, g)), links: collectionLinks(request) };
  });

  app.post<{ Body: GroupCreateRequest }>('/v3/groups', async (request, reply) => {
    ctx.validate('GroupCreateRequest', request.body);
    const input = request.body.group;
    const { claims } = authorize(request, ctx, 'identity:create_group', { target: { group: input } });
    const row = await groups.createGroup(ctx, input, input.domain_id ?? defaultDomainOf(claims));
    return reply.code(201).send({ group: groupView(request, row) });
  });

  app.get<{ Params: GroupParams }>('/v3/groups/:group_id', async (request) => {
    const row = await authorizedGroup(request, ctx, 'identity:get_group');
    return { group: groupView(request, row) };
  });

  app.patch<{ Params: GroupParams; Body: GroupUpdateRequest }>('/v3/groups/:group_id', async (request) => {
    ctx.validate('GroupUpdateRequest', request.body);
    const row = await authorizedGroup(request, ctx, 'identity:update_group');
    return { group: groupView(request, await groups.updateGroup(ctx, row, request.body.group)) };
  });

  app.delete<{ Params: GroupParams }>('/v3/groups/:group_id', async (request, reply) => {
    const row = await authorizedGroup(request, ctx, 'identity:delete_group');
    await groups.deleteGroup(ctx, row.id);
    return reply.code(204).send();
  });

  app.get<{ Params: GroupParams; Querystring: MemberQuery }>('/v3/groups/:group_id/users', async (request) => {
    const row = await authorizedGroup(request, ctx, 'identity:list_users_in_group');
    const q = request.query;
    const scopedTo = listDomainOf(authenticate(request, ctx.tokens).claims);
    const rows = await users.listUsers(ctx, {
      groupId: row.id,
      name: q.name,
      domainId: q.domain_id,
      enabled: booleanFilter(q.enabled),
      passwordExpiresAt: q.password_expires_at !== undefined ? users.parsePasswordExpiresFilter(q.password_expires_at) : undefined,
    });
    const visible = scopedTo ? rows.filter((u) => u.domain_id === scopedTo) : rows;
    return { users: visible.map((u) => userView(request, u)), links: collectionLinks(request) };
  });

  app.put<{ Params: MemberParams }>('/v3/groups/:group_id/users/:user_id', async (request, reply) => {
    await authorizeMembership(request, ctx, 'identity:add_user_to_group');
    await groups.addMember(ctx, request.params.group_id, request.params.user_id);
    return reply.code(204).send();
  });

  app.get<{ Params: MemberParams }>('/v3/groups/:group_id/users/:user_id', async (request, reply) => {
    await authorizeMembership(request, ctx, 'identity:check_user_in_group');
    await groups.assertMember(ctx, request.params.group_id, request.params.user_id);
    return reply.code(204).send();
  });

  app.delete<{ Params: MemberParams }>('/v3/groups/:group_id/users/:user_id', async (request, reply) => {
    await authorizeMembership(request, ctx, 'identity:remove_user_from_group');
    await groups.removeMember(ctx, request.params.group_id, request.params.user_id);
    return reply.code(204).send();
  });
}
