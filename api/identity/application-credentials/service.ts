import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, forbidden, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import { generateSecret, hashPassword } from '../../../lib/passwords.ts';
import type { TokenClaims } from '../../../lib/tokens/claims.ts';
import { effectiveRoleIdsOnProject, expandRoleIds, impliedRoleGraph } from '../assignments/effective.ts';
import type { IdentityContext } from '../context.ts';
import { listAllImpliedRoles } from '../roles/implied-store.ts';
import { findRolesByName, getRoles, type RoleRow } from '../roles/store.ts';
import { parseExpiry } from './expiry.ts';
import * as store from './store.ts';
import type { AccessRule, AppCredRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens' | 'config'>;

export interface AppCredInput {
  name: string;
  description?: string | null;
  secret?: string | null;
  expires_at?: string | null;
  roles?: { id?: string; name?: string }[];
  unrestricted?: boolean | null;
  access_rules?: { id?: string; path?: string; method?: string; service?: string }[];
}

/** A credential with its roles resolved (and, right after creation, its secret). */
export interface AppCred extends AppCredRow {
  roles: RoleRow[];
  secret?: string;
}

const notFoundError = (id: string) => notFound(`Could not find Application Credential: ${id}.`);

/**
 * Keystone refuses to let a restricted application credential manage
 * credentials (or trusts): otherwise a leaked credential could mint more.
 */
export function assertMayManageCredentials(claims: TokenClaims): void {
  if (claims.application_credential_id && !claims.application_credential_unrestricted) {
    throw forbidden("Using method 'application_credential' is not allowed for managing additional application credentials.");
  }
}

async function withRoles(deps: Pick<Deps, 'db'>, rows: AppCredRow[]): Promise<AppCred[]> {
  const roles = new Map((await getRoles(deps.db, rows.flatMap((r) => r.role_ids))).map((r) => [r.id, r]));
  return rows.map((r) => ({ ...r, roles: r.role_ids.map((id) => roles.get(id)).filter((x): x is RoleRow => !!x) }));
}

/** Roles named in the request, by id or by (unique) name. */
async function resolveRoles(deps: Pick<Deps, 'db'>, refs: { id?: string; name?: string }[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of refs) {
    if (ref.id) {
      ids.push(ref.id);
      continue;
    }
    if (!ref.name) throw badRequest("Invalid input for field 'roles': each role needs an id or a name.");
    const found = await findRolesByName(deps.db, ref.name);
    if (found.length === 0) throw notFound(`Role ${ref.name} is not defined`);
    if (found.length > 1) throw conflict(`Multiple role entities named '${ref.name}' found. Use the role id instead.`);
    ids.push(found[0].id);
  }
  return ids;
}

/**
 * Creates a credential for the caller on the caller's project. Its roles
 * default to the token's; requested roles (plus what they imply) must all be
 * in the token and held by the user on the project now.
 */
export async function createAppCred(deps: Deps, claims: TokenClaims, userId: string, input: AppCredInput): Promise<AppCred> {
  assertMayManageCredentials(claims);
  if (claims.user_id !== userId) throw forbidden('You are not authorized to perform the requested action: Cannot create an application credential for another user.');
  if (claims.scope.type !== 'project') throw badRequest('An application credential is created from a project-scoped token.');
  const projectId = claims.scope.project_id;
  // The token's roles as Keystone sees them: recomputed now (Keystone tokens
  // do not freeze roles), except that a token from an application credential
  // keeps only its credential's roles.
  const held = new Set(await effectiveRoleIdsOnProject(deps.db, userId, projectId));
  const tokenRoleIds = claims.application_credential_id
    ? new Set(claims.roles.map((r) => r.id).filter((id) => held.has(id)))
    : held;

  let roleIds: string[];
  if (input.roles && input.roles.length) {
    const graph = impliedRoleGraph(await listAllImpliedRoles(deps.db));
    roleIds = [...expandRoleIds(await resolveRoles(deps, input.roles), graph)];
    if (roleIds.some((id) => !tokenRoleIds.has(id))) {
      throw badRequest('Invalid application credential: Cannot create an application credential with unassigned role');
    }
  } else {
    roleIds = [...tokenRoleIds];
  }
  if (roleIds.length === 0) {
    throw badRequest(`Invalid application credential: the user has no role on project ${projectId}.`);
  }

  const expiresAt = input.expires_at ? parseExpiry(input.expires_at) : null;
  const secret = input.secret || generateSecret(64);
  const accessRules: AccessRule[] = (input.access_rules ?? []).map((r) => ({ ...r, id: r.id ?? newId() }));
  const id = newId();
  try {
    await store.insertAppCred(deps.db, {
      id,
      name: input.name,
      user_id: userId,
      project_id: projectId,
      secret_hash: await hashPassword(secret, deps.config['identity.password_hash_cost']),
      description: input.description ?? null,
      expires_at: expiresAt,
      unrestricted: input.unrestricted === true,
      access_rules: accessRules,
      role_ids: roleIds,
    });
  } catch (e) {
    if (isPostgresUniqueViolation(e)) {
      throw conflict(`Conflict occurred attempting to store application_credential - Duplicate entry found with name ${input.name}.`);
    }
    throw e;
  }
  const [created] = await withRoles(deps, [(await store.getAppCred(deps.db, id))!]);
  return { ...created, secret };
}

/** The user's credential, or 404 (also when it belongs to someone else). */
export async function getAppCred(deps: Pick<Deps, 'db'>, userId: string, id: string): Promise<AppCred> {
  const row = await store.getAppCred(deps.db, id);
  if (!row || row.user_id !== userId) throw notFoundError(id);
  return (await withRoles(deps, [row]))[0];
}

export async function listAppCreds(deps: Pick<Deps, 'db'>, userId: string, name?: string): Promise<AppCred[]> {
  return withRoles(deps, await store.listAppCreds(deps.db, userId, name));
}

/** Deletes the credential; every token made with it stops working. */
export async function deleteAppCred(deps: Deps, claims: TokenClaims, userId: string, id: string): Promise<void> {
  assertMayManageCredentials(claims);
  await getAppCred(deps, userId, id);
  if (!(await store.deleteAppCred(deps.db, id))) throw notFoundError(id);
  await deps.tokens.revoke({ application_credential_id: id, issued_before: new Date() });
}
