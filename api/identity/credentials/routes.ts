import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { collectionLinks } from '../roles/view.ts';
import { registerEc2CredentialRoutes } from './ec2-routes.ts';
import * as credentials from './service.ts';
import type { CredentialRow } from './store.ts';
import { credentialView } from './view.ts';

type CredentialCreateRequest = components['schemas']['CredentialCreateRequest'];
type CredentialUpdateRequest = components['schemas']['CredentialUpdateRequest'];
type CredentialParams = { credential_id: string };
type CredentialQuery = { user_id?: string; type?: string };

/** Loads the credential in the URL and enforces `action` with it as `target.credential` (empty when missing; then 404). */
async function authorizedCredential(request: FastifyRequest<{ Params: CredentialParams }>, ctx: IdentityContext, action: string): Promise<CredentialRow> {
  const { credential_id } = request.params;
  const row = await credentials.findCredential(ctx, credential_id);
  authorize(request, ctx, action, { credential_id, target: row ? { credential: credentialView(request, row) } : {} });
  if (!row) throw credentials.credentialNotFound(credential_id);
  return row;
}

/** /v3/credentials, and the OS-EC2 extension under /v3/users/{user_id}/credentials. */
export function registerCredentialRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: CredentialQuery }>('/v3/credentials', async (request) => {
    const { user_id, type } = request.query;
    const { claims, credentials: caller } = authenticate(request, ctx.tokens);
    const filters = { ...(user_id !== undefined ? { user_id } : {}), ...(type !== undefined ? { type } : {}) };
    // Outside system scope the listing is of the caller's own credentials;
    // each one is then shown only if the caller may get it.
    const own = claims.scope.type === 'system' ? {} : { target: { credential: { user_id: claims.user_id } } };
    authorize(request, ctx, 'identity:list_credentials', { ...filters, ...own });
    const rows = await credentials.listCredentials(ctx, { userId: user_id, type });
    const visible = rows
      .map((c) => credentialView(request, c))
      .filter((c) => ctx.policy.allows('identity:get_credential', { credential_id: c.id, target: { credential: c } }, caller));
    return { credentials: visible, links: collectionLinks(request) };
  });

  app.post<{ Body: CredentialCreateRequest }>('/v3/credentials', async (request, reply) => {
    ctx.validate('CredentialCreateRequest', request.body);
    const input = request.body.credential;
    const { claims } = authorize(request, ctx, 'identity:create_credential', { target: { credential: input } });
    const row = await credentials.createCredential(ctx, input, { applicationCredentialId: claims.application_credential_id });
    return reply.code(201).send({ credential: credentialView(request, row) });
  });

  app.get<{ Params: CredentialParams }>('/v3/credentials/:credential_id', async (request) => {
    const row = await authorizedCredential(request, ctx, 'identity:get_credential');
    return { credential: credentialView(request, row) };
  });

  app.patch<{ Params: CredentialParams; Body: CredentialUpdateRequest }>('/v3/credentials/:credential_id', async (request) => {
    ctx.validate('CredentialUpdateRequest', request.body);
    const row = await authorizedCredential(request, ctx, 'identity:update_credential');
    const input = request.body.credential;
    // The credential as it would become must be one the caller may change too
    // (no handing a credential to another user).
    const next = credentials.updatedCredential(row, input);
    authorize(request, ctx, 'identity:update_credential', { credential_id: row.id, target: { credential: credentialView(request, next) } });
    return { credential: credentialView(request, await credentials.updateCredential(ctx, row, input)) };
  });

  app.delete<{ Params: CredentialParams }>('/v3/credentials/:credential_id', async (request, reply) => {
    const row = await authorizedCredential(request, ctx, 'identity:delete_credential');
    await credentials.deleteCredential(ctx, row.id);
    return reply.code(204).send();
  });

  registerEc2CredentialRoutes(app, ctx);
}
