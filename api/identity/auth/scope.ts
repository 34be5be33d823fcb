import type { Db } from '../../../lib/db/index.ts';
import { unauthorized } from '../../../lib/errors.ts';
import { effectiveRoleIdsOnProject } from '../assignments/effective.ts';
import * as dir from '../assignments/directory-store.ts';
import { expectingToFind, idOrNameRequired } from './errors.ts';
import { findDomainRef } from './user-lookup.ts';

/** The scope a token request resolves to, with the records it names. */
export type ResolvedScope =
  | { type: 'project'; project: dir.ProjectRef; domain: dir.DomainRef }
  | { type: 'domain'; domain: dir.DomainRef }
  | { type: 'system' }
  | { type: 'unscoped'; explicit: boolean };

const SCOPE_KINDS = ['project', 'domain', 'unscoped', 'system', 'OS-TRUST:trust'] as const;

/** Keystone answers an unknown or disabled scope target with a bare 401. */
const scopeUnavailable = () => unauthorized();

/** A project that exists, is enabled and is in an enabled domain; otherwise undefined. */
export async function usableProject(db: Db, project: dir.ProjectRef | undefined) {
  if (!project || !project.enabled) return undefined;
  const domain = await dir.findDomain(db, project.domain_id);
  if (!domain || !domain.enabled) return undefined;
  return { project, domain };
}

/**
 * Resolves auth.scope (keystone/auth/core.py AuthInfo): exactly one of
 * project {id} | {name, domain}, domain {id | name}, system, or unscoped
 * (also the bare string "unscoped"). A malformed scope is a 400; one naming
 * something unknown or disabled a 401.
 */
export async function resolveScope(db: Db, scope: unknown): Promise<ResolvedScope> {
  if (scope === undefined || scope === null) return { type: 'unscoped', explicit: false };
  const has = (kind: string) => (typeof scope === 'string' ? scope.includes(kind) : kind in (scope as object));
  if (SCOPE_KINDS.filter(has).length !== 1) throw expectingToFind('system, project, domain, OS-TRUST:trust or unscoped', 'scope');
  if (has('system')) return { type: 'system' };
  if (has('unscoped')) return { type: 'unscoped', explicit: true };
  if (has('OS-TRUST:trust')) throw scopeUnavailable();
  const s = scope as { project?: { id?: string; name?: string; domain?: { id?: string; name?: string } }; domain?: { id?: string; name?: string } };

  if (s.project) {
    const p = s.project;
    if (!p.id && !p.name) throw idOrNameRequired('scope/project');
    let project: dir.ProjectRef | undefined;
    if (p.name) {
      if (!p.domain) throw expectingToFind('domain', 'project');
      const domain = await findDomainRef(db, p.domain, 'scope/project/domain');
      if (!domain || !domain.enabled) throw scopeUnavailable();
      project = await dir.findProjectByName(db, p.name, domain.id);
    } else {
      project = await dir.findProject(db, p.id!);
    }
    const usable = await usableProject(db, project);
    if (!usable) throw scopeUnavailable();
    return { type: 'project', ...usable };
  }
  const domain = await findDomainRef(db, s.domain ?? {}, 'scope/domain');
  if (!domain || !domain.enabled) throw scopeUnavailable();
  return { type: 'domain', domain };
}

/**
 * Keystone's default scoping: a request that names no scope is scoped to the
 * user's default project when it is usable and the user has a role on it;
 * otherwise the token is unscoped.
 */
export async function defaultScope(db: Db, user: dir.UserRef): Promise<ResolvedScope> {
  const unscoped: ResolvedScope = { type: 'unscoped', explicit: false };
  if (!user.default_project_id) return unscoped;
  const usable = await usableProject(db, await dir.findProject(db, user.default_project_id));
  if (!usable) return unscoped;
  const roles = await effectiveRoleIdsOnProject(db, user.id, usable.project.id);
  return roles.length ? { type: 'project', ...usable } : unscoped;
}
