import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { registerImpliedRoleRoutes } from './implied-routes.ts';
import * as roles from './service.ts';
import { collectionLinks, roleView } from './view.ts';

type RoleCreateRequest = components['schemas']['RoleCreateRequest'];
type RoleUpdateRequest = components['schemas']['RoleUpdateRequest'];
type RoleParams = { role_id: string };
type RoleQuery = { name?: string; domain_id?: string };

/** Keystone: a role with a domain_id is checked against the *_domain_role rules. */
const actionFor = (base: string, domainId: string | null | undefined) =>
  domainId ? `identity:${base}_domain_role` : `identity:${base}_role`;

/** /v3/roles CRUD and the implied-role rules under it. */
export function registerRoleRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: RoleQuery }>('/v3/roles', async (request) => {
    const { name, domain_id } = request.query;
    authorize(request, ctx, domain_id ? 'identity:list_domain_roles' : 'identity:list_roles', {});
    const rows = await roles.listRoles(ctx, { name, domainId: domain_id });
    return { roles: rows.map((r) => roleView(request, r)), links: collectionLinks(request) };
  });

  app.post<{ Body: RoleCreateRequest }>('/v3/roles', async (request, reply) => {
    ctx.validate('RoleCreateRequest', request.body);
    const input = request.body.role;
    authorize(request, ctx, actionFor('create', input.domain_id), { target: { role: input } });
    const row = await roles.createRole(ctx, { ...input, options: input.options as Record<string, unknown> | undefined });
    return reply.code(201).send({ role: roleView(request, row) });
  });

  app.get<{ Params: RoleParams }>('/v3/roles/:role_id', async (request) => {
    const row = await roles.getRole(ctx, request.params.role_id).catch((e) => {
      authorize(request, ctx, 'identity:get_role', { ...request.params });
      throw e;
    });
    authorize(request, ctx, actionFor('get', row.domain_id), { ...request.params, target: { role: roleView(request, row) } });
    return { role: roleView(request, row) };
  });

  app.patch<{ Params: RoleParams; Body: RoleUpdateRequest }>('/v3/roles/:role_id', async (request) => {
    ctx.validate('RoleUpdateRequest', request.body);
    const row = await roles.getRole(ctx, request.params.role_id).catch((e) => {
      authorize(request, ctx, 'identity:update_role', { ...request.params });
      throw e;
    });
    authorize(request, ctx, actionFor('update', row.domain_id), { ...request.params, target: { role: roleView(request, row) } });
    const input = request.body.role;
    const updated = await roles.updateRole(ctx, row.id, { ...input, options: input.options as Record<string, unknown> | undefined });
    return { role: roleView(request, updated) };
  });

  app.delete<{ Params: RoleParams }>('/v3/roles/:role_id', async (request, reply) => {
    const row = await roles.getRole(ctx, request.params.role_id).catch((e) => {
      authorize(request, ctx, 'identity:delete_role', { ...request.params });
      throw e;
    });
    authorize(request, ctx, actionFor('delete', row.domain_id), { ...request.params, target: { role: roleView(request, row) } });
    await roles.deleteRole(ctx, row.id);
    return reply.code(204).send();
  });

  registerImpliedRoleRoutes(app, ctx);
}
