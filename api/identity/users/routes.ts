import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { defaultDomainOf, listDomainOf } from '../domains/default-domain.ts';
import { booleanFilter } from '../domains/enabled-filter.ts';
import { membershipGroupView } from '../groups/view.ts';
import { projectView } from '../projects/view.ts';
import { collectionLinks } from '../roles/view.ts';
import { groupsOfUser, projectsOfUser } from './memberships.ts';
import { changeOwnPassword } from './password.ts';
import * as users from './service.ts';
import type { UserRow } from './store.ts';
import { userView } from './view.ts';

type UserCreateRequest = components['schemas']['UserCreateRequest'];
type UserUpdateRequest = components['schemas']['UserUpdateRequest'];
type UserPasswordChangeRequest = components['schemas']['UserPasswordChangeRequest'];
type UserParams = { user_id: string };
type UserQuery = { name?: string; domain_id?: string; enabled?: string; password_expires_at?: string };

const presentFilters = (q: Record<string, string | undefined>, names: readonly string[]) =>
  Object.fromEntries(names.flatMap((k) => (q[k] !== undefined ? [[k, q[k]]] : [])));

/** Loads the user in the URL and enforces `action` with it as `target.user` (empty when missing; then 404). */
async function authorizedUser(request: FastifyRequest<{ Params: UserParams }>, ctx: IdentityContext, action: string, filters = {}): Promise<UserRow> {
  const { user_id } = request.params;
  const row = await users.findUser(ctx, user_id);
  authorize(request, ctx, action, { user_id, ...filters, target: row ? { user: userView(request, row) } : {} });
  if (!row) throw users.userNotFound(user_id);
  return row;
}

/** /v3/users, a user's password, projects and groups. */
export function registerUserRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: UserQuery }>('/v3/users', async (request) => {
    const q = request.query;
    const scopedTo = listDomainOf(authenticate(request, ctx.tokens).claims);
    const filters = presentFilters(q, ['domain_id', 'enabled', 'name', 'password_expires_at']);
    authorize(request, ctx, 'identity:list_users', { ...filters, ...(scopedTo ? { target: { domain_id: scopedTo } } : {}) });
    if (scopedTo && q.domain_id !== undefined && q.domain_id !== scopedTo) return { users: [], links: collectionLinks(request) };
    const rows = await users.listUsers(ctx, {
      name: q.name,
      domainId: scopedTo ?? q.domain_id,
      enabled: booleanFilter(q.enabled),
      passwordExpiresAt: q.password_expires_at !== undefined ? users.parsePasswordExpiresFilter(q.password_expires_at) : undefined,
    });
    return { users: rows.map((u) => userView(request, u)), links: collectionLinks(request) };
  });

  app.post<{ Body: UserCreateRequest }>('/v3/users', async (request, reply) => {
    ctx.validate('UserCreateRequest', request.body);
    const input = request.body.user;
    const { claims } = authorize(request, ctx, 'identity:create_user', { target: { user: input } });
    const row = await users.createUser(ctx, input, input.domain_id ?? defaultDomainOf(claims));
    return reply.code(201).send({ user: userView(request, row) });
  });

  app.get<{ Params: UserParams }>('/v3/users/:user_id', async (request) => {
    const row = await authorizedUser(request, ctx, 'identity:get_user');
    return { user: userView(request, row) };
  });

  app.patch<{ Params: UserParams; Body: UserUpdateRequest }>('/v3/users/:user_id', async (request) => {
    ctx.validate('UserUpdateRequest', request.body);
    const row = await authorizedUser(request, ctx, 'identity:update_user');
    return { user: userView(request, await users.updateUser(ctx, row, request.body.user)) };
  });

  app.delete<{ Params: UserParams }>('/v3/users/:user_id', async (request, reply) => {
    const row = await authorizedUser(request, ctx, 'identity:delete_user');
    await users.deleteUser(ctx, row.id);
    return reply.code(204).send();
  });

  app.post<{ Params: UserParams; Body: UserPasswordChangeRequest }>('/v3/users/:user_id/password', async (request, reply) => {
    ctx.validate('UserPasswordChangeRequest', request.body);
    const { user_id } = request.params;
    // Unenforced, as in Keystone: the original password is the credential, so a
    // user whose password expired (and who can get no token) can still change it.
    const { original_password, password } = request.body.user;
    await changeOwnPassword(ctx, user_id, original_password, password);
    return reply.code(204).send();
  });

  app.get<{ Params: UserParams; Querystring: UserQuery }>('/v3/users/:user_id/projects', async (request) => {
    const q = request.query;
    const filters = presentFilters(q, ['domain_id', 'enabled', 'name']);
    const row = await authorizedUser(request, ctx, 'identity:list_user_projects', filters);
    const rows = await projectsOfUser(ctx, row.id, { name: q.name, domainId: q.domain_id, enabled: booleanFilter(q.enabled) });
    return { projects: rows.map((p) => projectView(request, p)), links: collectionLinks(request) };
  });

  app.get<{ Params: UserParams; Querystring: { name?: string } }>('/v3/users/:user_id/groups', async (request) => {
    const row = await authorizedUser(request, ctx, 'identity:list_groups_for_user', presentFilters(request.query, ['name']));
    const scopedTo = listDomainOf(authenticate(request, ctx.tokens).claims);
    const rows = await groupsOfUser(ctx, row.id, { name: request.query.name, domainId: scopedTo });
    return { groups: rows.map((g) => membershipGroupView(request, g)), links: collectionLinks(request) };
  });
}
