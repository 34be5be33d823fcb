import { forbidden } from '../../../lib/errors.ts';
import type { TokenClaims } from '../../../lib/tokens/claims.ts';
import { listEffectiveAssignments } from '../assignments/effective.ts';
import * as dir from '../assignments/directory-store.ts';
import { listAssignments, SYSTEM_TARGET } from '../assignments/store.ts';
import { listCatalog } from '../catalog/store.ts';
import type { IdentityContext } from '../context.ts';
import { catalogForToken, type CatalogEntry } from './catalog-view.ts';

/**
 * What a token's user can reach: the catalog of a project-scoped token, and
 * the projects, domains and system the user could scope a token to
 * (GET /v3/auth/{catalog,projects,domains,system}).
 */
type Deps = Pick<IdentityContext, 'db'>;

/** GET /v3/auth/catalog: only a project-scoped token has a catalog. */
export async function catalogOf(deps: Deps, claims: TokenClaims): Promise<CatalogEntry[]> {
  if (claims.scope.type !== 'project') throw forbidden('A project-scoped token is required to produce a service catalog.');
  return catalogForToken((await listCatalog(deps.db)) as CatalogEntry[], { user_id: claims.user_id, project_id: claims.scope.project_id });
}

/** GET /v3/auth/projects: every project the user has an effective role on. */
export async function scopableProjects(deps: Deps, userId: string): Promise<dir.ProjectRef[]> {
  const refs = await listEffectiveAssignments(deps.db, { userId });
  return dir.projectsByIds(deps.db, refs.flatMap((r) => (r.project_id ? [r.project_id] : [])));
}

/** GET /v3/auth/domains: every domain the user has an effective role on. */
export async function scopableDomains(deps: Deps, userId: string): Promise<dir.DomainRef[]> {
  const refs = await listEffectiveAssignments(deps.db, { userId });
  return dir.domainsByIds(deps.db, refs.flatMap((r) => (r.domain_id ? [r.domain_id] : [])));
}

/** GET /v3/auth/system: whether the user (or one of their groups) holds a role on the system. */
export async function canScopeToSystem(deps: Deps, userId: string): Promise<boolean> {
  const groupIds = await dir.groupIdsOfUser(deps.db, userId);
  const rows = await listAssignments(deps.db, {
    types: ['UserSystem', 'GroupSystem'],
    actorIds: [userId, ...groupIds],
    targetIds: [SYSTEM_TARGET],
  });
  return rows.some((r) => (r.type === 'UserSystem' ? r.actor_id === userId : groupIds.includes(r.actor_id)));
}
