import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import { parseEc2Blob } from './ec2-blob.ts';
import type { CredentialRow } from './store.ts';

/** A credential as /v3/credentials shows it: extra attributes flat, the blob as the string stored. */
export function credentialView(request: FastifyRequest, c: CredentialRow) {
  return {
    ...c.extra,
    id: c.id,
    user_id: c.user_id,
    project_id: c.project_id,
    type: c.type,
    blob: c.blob,
    links: { self: v3Url(request, `/credentials/${c.id}`) },
  };
}

/** An ec2 credential as the OS-EC2 extension shows it: the blob's access and secret, tenant_id for the project. */
export function ec2CredentialView(request: FastifyRequest, c: CredentialRow) {
  const blob = parseEc2Blob(c.blob);
  const access = blob?.access ?? null;
  return {
    user_id: c.user_id,
    tenant_id: c.project_id,
    access,
    secret: typeof blob?.secret === 'string' ? blob.secret : null,
    trust_id: typeof blob?.trust_id === 'string' ? blob.trust_id : null,
    links: { self: v3Url(request, `/users/${c.user_id}/credentials/OS-EC2/${access ?? ''}`) },
  };
}
