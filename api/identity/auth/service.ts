import { unauthorized } from '../../../lib/errors.ts';
import type { NewTokenClaims, TokenClaims, TokenRole, TokenScope } from '../../../lib/tokens/claims.ts';
import type { components } from '../../../spec/identity.d.ts';
import type { AppCredRow } from '../application-credentials/store.ts';
import { effectiveRoleIdsOnDomain, effectiveRoleIdsOnProject, effectiveRoleIdsOnSystem } from '../assignments/effective.ts';
import * as dir from '../assignments/directory-store.ts';
import type { IdentityContext } from '../context.ts';
import { getRoles } from '../roles/store.ts';
import { authenticateAppCred } from './application-credential-method.ts';
import { authenticationFailed, expectingToFind } from './errors.ts';
import { authenticatePassword } from './password-method.ts';
import { defaultScope, resolveScope, usableProject, type ResolvedScope } from './scope.ts';
import type { TokenBodyCache } from './token-body-cache.ts';
import { ResolutionCache } from './resolution-cache.ts';
import { renderTokenBody, tokenNotFound, type TokenSubjectView } from './token-body.ts';
import { authenticateWithToken } from './token-method.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens' | 'config'>;
type AuthRequest = components['schemas']['AuthTokenRequest']['auth'];

export const SUPPORTED_METHODS = ['password', 'token', 'application_credential'] as const;

/** What the methods of one request established together. */
interface Authenticated {
  userId: string;
  methods: string[];
  expiresAt?: Date;
  parentAuditId?: string;
  appCred?: AppCredRow;
}

async function runMethods(deps: Deps, auth: AuthRequest): Promise<Authenticated> {
  const identity = auth.identity as Record<string, unknown> & { methods: string[] };
  const methods = [...new Set(identity.methods)];
  for (const m of methods) if (!(m in identity)) throw expectingToFind(m, 'identity');
  for (const m of methods) {
    if (!(SUPPORTED_METHODS as readonly string[]).includes(m)) throw unauthorized('Attempted to authenticate with an unsupported method.');
  }
  if (methods.includes('application_credential') && auth.scope !== undefined) {
    throw unauthorized('Error authenticating with application credential: Application credentials cannot request a scope.');
  }
  if (methods.length === 0) throw authenticationFailed();

  const result: Authenticated = { userId: '', methods: [] };
  const userIds = new Set<string>();
  for (const m of methods) {
    const data = (identity[m] ?? {}) as Record<string, any>;
    if (m === 'password') {
      userIds.add((await authenticatePassword(deps, data)).userId);
      result.methods.push('password');
    } else if (m === 'token') {
      const parent = authenticateWithToken(deps.tokens, data, auth.scope);
      userIds.add(parent.userId);
      result.methods.push('token', ...parent.methods);
      result.expiresAt = parent.expiresAt;
      result.parentAuditId = parent.parentAuditId;
    } else {
      const { userId, appCred } = await authenticateAppCred(deps, data);
      userIds.add(userId);
      result.methods.push('application_credential');
      result.appCred = appCred;
    }
  }
  if (userIds.size !== 1) throw authenticationFailed();
  result.userId = [...userIds][0];
  result.methods = [...new Set(result.methods)];
  return result;
}

/** The user's effective roles on the scope; for an application credential, only its roles the user still holds. */
async function rolesOnScope(deps: Deps, userId: string, scope: ResolvedScope, appCred?: AppCredRow): Promise<TokenRole[]> {
  let ids: string[] = [];
  if (scope.type === 'project') {
    ids = await effectiveRoleIdsOnProject(deps.db, userId, scope.project.id);
    if (appCred) ids = ids.filter((id) => appCred.role_ids.includes(id));
    if (!ids.length) throw unauthorized(`User ${userId} has no access to project ${scope.project.id}`);
  } else if (scope.type === 'domain') {
    ids = await effectiveRoleIdsOnDomain(deps.db, userId, scope.domain.id);
    if (!ids.length) throw unauthorized(`User ${userId} has no access to domain ${scope.domain.id}`);
  } else if (scope.type === 'system') {
    ids = await effectiveRoleIdsOnSystem(deps.db, userId);
    if (!ids.length) throw unauthorized(`User ${userId} has no access to the system`);
  }
  const roles = await getRoles(deps.db, ids);
  return roles.map((r) => ({ id: r.id, name: r.name })).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

function tokenScopeOf(scope: ResolvedScope): TokenScope {
  if (scope.type === 'project') return { type: 'project', project_id: scope.project.id, domain_id: scope.project.domain_id };
  if (scope.type === 'domain') return { type: 'domain', domain_id: scope.domain.id };
  if (scope.type === 'system') return { type: 'system' };
  return { type: 'unscoped' };
}

/** Who the token is for and what it may hold: the user, the resolved scope, the roles there. */
interface Authorization {
  user: { id: string; domain_id: string };
  scope: TokenScope;
  roles: TokenRole[];
}

async function resolveAuthorization(deps: Deps, who: Authenticated, requestedScope: AuthRequest['scope']): Promise<Authorization> {
  const user = await dir.findUser(deps.db, who.userId);
  const userDomain = user ? await dir.findDomain(deps.db, user.domain_id) : undefined;
  if (!user || !userDomain || !user.enabled || !userDomain.enabled) throw authenticationFailed();

  let scope: ResolvedScope;
  if (who.appCred) {
    const usable = await usableProject(deps.db, who.appCred.project_id ? await dir.findProject(deps.db, who.appCred.project_id) : undefined);
    if (!usable) throw authenticationFailed();
    scope = { type: 'project', ...usable };
  } else {
    scope = await resolveScope(deps.db, requestedScope);
    if (scope.type === 'unscoped' && !scope.explicit) scope = await defaultScope(deps.db, user);
  }
  const roles = await rolesOnScope(deps, user.id, scope, who.appCred);
  return { user: { id: user.id, domain_id: user.domain_id }, scope: tokenScopeOf(scope), roles };
}

/**
 * POST /v3/auth/tokens: runs the methods, resolves the scope (the
 * application credential's project, the requested one, or the user's
 * default project), computes the roles and issues the token. The
 * resolution is memoized per (user, credential, requested scope) until the
 * next identity change; the methods themselves (password, secret, parent
 * token) are checked on every request.
 */
export async function issueToken(
  deps: Deps,
  auth: AuthRequest,
  resolutions: ResolutionCache<Authorization> = new ResolutionCache(0),
): Promise<{ token: string; claims: TokenClaims }> {
  const who = await runMethods(deps, auth);
  const key = JSON.stringify([who.userId, who.appCred?.id ?? null, auth.scope ?? null]);
  const { user, scope, roles } = await resolutions.get(key, () => resolveAuthorization(deps, who, auth.scope));

  let expiresAt = Date.now() + deps.config['identity.token_expiration'] * 1000;
  if (who.expiresAt) expiresAt = Math.min(expiresAt, who.expiresAt.getTime());
  if (who.appCred?.expires_at) expiresAt = Math.min(expiresAt, who.appCred.expires_at.getTime());

  const claims: NewTokenClaims = {
    user_id: user.id,
    user_domain_id: user.domain_id,
    methods: who.methods,
    scope,
    roles,
    expires_at: new Date(expiresAt),
  };
  if (who.parentAuditId) claims.parent_audit_id = who.parentAuditId;
  if (who.appCred) {
    claims.application_credential_id = who.appCred.id;
    claims.application_credential_unrestricted = who.appCred.unrestricted;
  }
  return deps.tokens.issue(claims);
}

/** The claims of the token in X-Subject-Token, or 404 (Keystone: could not find token). */
export function verifySubjectToken(deps: Pick<Deps, 'tokens'>, subject: unknown): TokenClaims {
  if (typeof subject !== 'string' || subject === '') throw tokenNotFound();
  try {
    return deps.tokens.verify(subject);
  } catch {
    throw tokenNotFound();
  }
}

/** The JSON text of the token's body: from the cache, or rendered from its claims and cached. */
export async function tokenBodyJson(
  deps: Pick<Deps, 'db'>,
  cache: TokenBodyCache,
  token: string,
  claims: TokenClaims,
  includeCatalog: boolean,
  subjects?: ResolutionCache<TokenSubjectView>,
): Promise<string> {
  const cached = cache.get(token, includeCatalog);
  if (cached !== undefined) return cached;
  const json = JSON.stringify(await renderTokenBody(deps, claims, includeCatalog, subjects));
  cache.set(token, includeCatalog, json, claims.expires_at);
  return json;
}

/** DELETE /v3/auth/tokens: revokes the token (by its audit id, so copies and caches everywhere stop it). */
export async function revokeToken(deps: Pick<Deps, 'tokens'>, cache: TokenBodyCache, token: string, claims: TokenClaims): Promise<void> {
  await deps.tokens.revoke({ audit_id: claims.audit_ids[0], issued_before: new Date() });
  cache.delete(token);
}

export type { Authorization };
