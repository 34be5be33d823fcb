import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { collectionLinks } from '../roles/view.ts';
import { ec2CredentialId } from './ec2-blob.ts';
import * as credentials from './service.ts';
import { credentialView, ec2CredentialView } from './view.ts';

type Ec2CredentialCreateRequest = components['schemas']['Ec2CredentialCreateRequest'];
type UserParams = { user_id: string };
/** credential_id is the access key. */
type Ec2Params = { user_id: string; credential_id: string };

/**
 * Enforces `action` with the stored credential the access key names as
 * `target.credential`; as Keystone, an unknown access key is a 404 before
 * the policy check (which needs the credential's owner).
 */
async function authorizeEc2Credential(request: FastifyRequest<{ Params: Ec2Params }>, ctx: IdentityContext, action: string): Promise<void> {
  authenticate(request, ctx.tokens);
  const { user_id, credential_id: access } = request.params;
  const id = ec2CredentialId(access);
  const row = await credentials.findCredential(ctx, id);
  if (!row) throw credentials.credentialNotFound(id);
  authorize(request, ctx, action, { user_id, credential_id: id, target: { credential: credentialView(request, row) } });
}

/** The OS-EC2 extension: /v3/users/{user_id}/credentials/OS-EC2, credentials of type ec2 by access key. */
export function registerEc2CredentialRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Params: UserParams }>('/v3/users/:user_id/credentials/OS-EC2', async (request) => {
    const { user_id } = request.params;
    authorize(request, ctx, 'identity:ec2_list_credentials', { user_id });
    const rows = await credentials.listEc2Credentials(ctx, user_id);
    return { credentials: rows.map((c) => ec2CredentialView(request, c)), links: collectionLinks(request) };
  });

  app.post<{ Params: UserParams; Body: Ec2CredentialCreateRequest }>('/v3/users/:user_id/credentials/OS-EC2', async (request, reply) => {
    ctx.validate('Ec2CredentialCreateRequest', request.body);
    const { user_id } = request.params;
    authorize(request, ctx, 'identity:ec2_create_credential', { user_id, target: { credential: { user_id } } });
    const row = await credentials.createEc2Credential(ctx, user_id, request.body.tenant_id);
    return reply.code(201).send({ credential: ec2CredentialView(request, row) });
  });

  app.get<{ Params: Ec2Params }>('/v3/users/:user_id/credentials/OS-EC2/:credential_id', async (request) => {
    await authorizeEc2Credential(request, ctx, 'identity:ec2_get_credential');
    const row = await credentials.getEc2Credential(ctx, request.params.user_id, request.params.credential_id);
    return { credential: ec2CredentialView(request, row) };
  });

  app.delete<{ Params: Ec2Params }>('/v3/users/:user_id/credentials/OS-EC2/:credential_id', async (request, reply) => {
    await authorizeEc2Credential(request, ctx, 'identity:ec2_delete_credential');
    await credentials.deleteEc2Credential(ctx, request.params.user_id, request.params.credential_id);
    return reply.code(204).send();
  });
}
