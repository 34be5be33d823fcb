import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { collectionLinks, v3Url } from '../roles/view.ts';
import * as appCreds from './service.ts';
import type { AppCred } from './service.ts';

type CreateRequest = components['schemas']['ApplicationCredentialCreateRequest'];
type UserParams = { user_id: string };
type CredParams = { user_id: string; application_credential_id: string };

/** A credential as Keystone shows it; the secret only right after creation. */
function appCredView(request: FastifyRequest, c: AppCred) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    ...(c.secret !== undefined ? { secret: c.secret } : {}),
    expires_at: c.expires_at_text,
    project_id: c.project_id,
    system: null,
    unrestricted: c.unrestricted,
    roles: c.roles.map((r) => ({ id: r.id, name: r.name, domain_id: r.domain_id || null })),
    access_rules: c.access_rules,
    links: { self: v3Url(request, `/users/${c.user_id}/application_credentials/${c.id}`) },
  };
}

/** Keystone's target: the owner from the URL (rule owner = user_id:%(user_id)s). */
const ownerTarget = (params: UserParams) => ({ ...params, target: { user: { id: params.user_id } } });

/** /v3/users/{user_id}/application_credentials[/{id}]. */
export function registerApplicationCredentialRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.post<{ Params: UserParams; Body: CreateRequest }>('/v3/users/:user_id/application_credentials', async (request, reply) => {
    ctx.validate('ApplicationCredentialCreateRequest', request.body);
    const auth = authorize(request, ctx, 'identity:create_application_credential', ownerTarget(request.params));
    const created = await appCreds.createAppCred(ctx, auth.claims, request.params.user_id, request.body.application_credential);
    return reply.code(201).send({ application_credential: appCredView(request, created) });
  });

  app.get<{ Params: UserParams; Querystring: { name?: string } }>('/v3/users/:user_id/application_credentials', async (request) => {
    authorize(request, ctx, 'identity:list_application_credentials', ownerTarget(request.params));
    const list = await appCreds.listAppCreds(ctx, request.params.user_id, request.query.name);
    return { application_credentials: list.map((c) => appCredView(request, c)), links: collectionLinks(request) };
  });

  app.get<{ Params: CredParams }>('/v3/users/:user_id/application_credentials/:application_credential_id', async (request) => {
    const { user_id, application_credential_id } = request.params;
    authorize(request, ctx, 'identity:get_application_credential', {
      ...request.params,
      target: { user: { id: user_id }, application_credential: { user_id } },
    });
    return { application_credential: appCredView(request, await appCreds.getAppCred(ctx, user_id, application_credential_id)) };
  });

  app.delete<{ Params: CredParams }>('/v3/users/:user_id/application_credentials/:application_credential_id', async (request, reply) => {
    const { user_id, application_credential_id } = request.params;
    const auth = authorize(request, ctx, 'identity:delete_application_credential', {
      ...request.params,
      target: { user: { id: user_id }, application_credential: { user_id } },
    });
    await appCreds.deleteAppCred(ctx, auth.claims, user_id, application_credential_id);
    return reply.code(204).send();
  });
}
