import { isPostgresForeignKeyViolation, isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { components } from '../../../spec/identity.d.ts';
import type { IdentityContext } from '../context.ts';
import { projectNotFound } from '../projects/service.ts';
import * as projectStore from '../projects/store.ts';
import { userNotFound } from '../users/service.ts';
import * as userStore from '../users/store.ts';
import { EC2, ec2CredentialId, parseEc2Blob, type Ec2Blob } from './ec2-blob.ts';
import * as store from './store.ts';
import type { CredentialFilter, CredentialRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db'>;

export type CredentialCreateInput = components['schemas']['CredentialCreateRequest']['credential'];
export type CredentialUpdateInput = components['schemas']['CredentialUpdateRequest']['credential'];

/** What the caller's token was made from, which an ec2 blob records (Keystone scopes ec2tokens by it). */
export interface CallerScope {
  applicationCredentialId?: string;
}

export const credentialNotFound = (id: string) => notFound(`Could not find credential: ${id}.`);
const duplicate = (id: string) => conflict(`Conflict occurred attempting to store credential - Duplicate ID, ${id}.`);
/** Names the field, never the blob's content (it holds secrets). */
const badEc2Blob = (field: string) =>
  badRequest(`Invalid input for field '${field}': an ec2 credential's blob must be a JSON object with an 'access' key`);
/** Blob keys that scope an ec2 credential; once set they stay. */
const SCOPE_KEYS = ['trust_id', 'app_cred_id', 'access_token_id', 'access_id'] as const;

function extraOf(input: Record<string, unknown>): Record<string, unknown> {
  const { id: _i, user_id: _u, project_id: _p, type: _t, blob: _b, links: _l, ...extra } = input;
  return extra;
}

export async function findCredential(deps: Deps, id: string): Promise<CredentialRow | undefined> {
  return store.getCredential(deps.db, id);
}

export async function listCredentials(deps: Deps, filter: CredentialFilter): Promise<CredentialRow[]> {
  return store.listCredentials(deps.db, filter);
}

/** The user and (when given) the project a credential names must exist: 404 otherwise. */
async function assertOwnerExists(deps: Deps, userId: string, projectId: string | null): Promise<void> {
  if (!(await userStore.getUser(deps.db, userId))) throw userNotFound(userId);
  if (projectId !== null && !(await projectStore.getProject(deps.db, projectId))) throw projectNotFound(projectId);
}

/** Inserts the row; a taken id is a 409, an owner deleted meanwhile a 404. */
async function insert(deps: Deps, row: CredentialRow): Promise<CredentialRow> {
  try {
    await store.insertCredential(deps.db, row);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicate(row.id);
    if (isPostgresForeignKeyViolation(e)) await assertOwnerExists(deps, row.user_id, row.project_id);
    throw e;
  }
  return row;
}

/**
 * Stores a credential. An ec2 one (blob: a JSON object with an access key) is
 * identified by the sha256 of its access key, and its blob records the
 * application credential the caller's token came from.
 */
export async function createCredential(deps: Deps, input: CredentialCreateInput, caller: CallerScope): Promise<CredentialRow> {
  const projectId = input.project_id ?? null;
  await assertOwnerExists(deps, input.user_id, projectId);
  let id = newId();
  let blob = input.blob;
  if (input.type === EC2) {
    const parsed = parseEc2Blob(input.blob);
    if (!parsed) throw badEc2Blob('credential/blob');
    id = ec2CredentialId(parsed.access);
    if (caller.applicationCredentialId !== undefined) blob = JSON.stringify({ ...parsed, app_cred_id: caller.applicationCredentialId });
  }
  return insert(deps, { id, user_id: input.user_id, project_id: projectId, type: input.type, blob, extra: extraOf(input) });
}

/** An ec2 credential's new blob must be valid and keep the scope the old one had. */
function assertEc2BlobUpdate(oldBlob: string, newBlob: string): void {
  const next = parseEc2Blob(newBlob);
  if (!next) throw badEc2Blob('credential/blob');
  const prev: Partial<Ec2Blob> = parseEc2Blob(oldBlob) ?? {};
  for (const key of SCOPE_KEYS) {
    if ((prev[key] ?? null) !== (next[key] ?? null)) throw badRequest(`${key} can not be updated for credential`);
  }
}

/** The credential as `input` would leave it (not yet stored): what the update policy checks. */
export function updatedCredential(current: CredentialRow, input: CredentialUpdateInput): CredentialRow {
  if (input.id !== undefined && input.id !== current.id) throw badRequest('Cannot change ID');
  return {
    ...current,
    ...(input.user_id !== undefined ? { user_id: input.user_id } : {}),
    ...(input.project_id !== undefined ? { project_id: input.project_id } : {}),
    ...(input.type !== undefined ? { type: input.type } : {}),
    ...(input.blob !== undefined ? { blob: input.blob } : {}),
    extra: { ...current.extra, ...extraOf(input) },
  };
}

/** Changes a credential; its id stays, even when an ec2 credential's access key changes. */
export async function updateCredential(deps: Deps, current: CredentialRow, input: CredentialUpdateInput): Promise<CredentialRow> {
  const next = updatedCredential(current, input);
  if (current.type === EC2 && input.blob !== undefined) assertEc2BlobUpdate(current.blob, input.blob);
  if (next.type === EC2 && !next.project_id) {
    throw badRequest("Invalid input for field 'credential/project_id': an ec2 credential needs a project_id");
  }
  if (next.user_id !== current.user_id || next.project_id !== current.project_id) {
    await assertOwnerExists(deps, next.user_id, next.project_id);
  }
  try {
    await store.updateCredential(deps.db, next);
  } catch (e) {
    if (isPostgresForeignKeyViolation(e)) await assertOwnerExists(deps, next.user_id, next.project_id);
    throw e;
  }
  return next;
}

export async function deleteCredential(deps: Deps, id: string): Promise<void> {
  if (!(await store.deleteCredential(deps.db, id))) throw credentialNotFound(id);
}

/** A new access/secret pair for the user on the project (both must exist), as POST …/OS-EC2 makes. */
export async function createEc2Credential(deps: Deps, userId: string, projectId: string): Promise<CredentialRow> {
  await assertOwnerExists(deps, userId, projectId);
  const blob: Ec2Blob = { access: newId(), secret: newId(), trust_id: null };
  return insert(deps, { id: ec2CredentialId(blob.access), user_id: userId, project_id: projectId, type: EC2, blob: JSON.stringify(blob), extra: {} });
}

export async function listEc2Credentials(deps: Deps, userId: string): Promise<CredentialRow[]> {
  if (!(await userStore.getUser(deps.db, userId))) throw userNotFound(userId);
  return store.listCredentials(deps.db, { userId, type: EC2 });
}

/**
 * The ec2 credential of `access` as …/users/{user_id}/credentials/OS-EC2/{access}
 * addresses it: the user must exist, and the credential must be that user's
 * ec2 credential (another user's is not found under this user).
 */
export async function getEc2Credential(deps: Deps, userId: string, access: string): Promise<CredentialRow> {
  if (!(await userStore.getUser(deps.db, userId))) throw userNotFound(userId);
  const id = ec2CredentialId(access);
  const row = await store.getCredential(deps.db, id);
  if (!row || row.type !== EC2 || row.user_id !== userId) throw credentialNotFound(id);
  return row;
}

export async function deleteEc2Credential(deps: Deps, userId: string, access: string): Promise<void> {
  const row = await getEc2Credential(deps, userId, access);
  await deleteCredential(deps, row.id);
}
