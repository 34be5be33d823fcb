import { badRequest } from '../../../lib/errors.ts';
import type { IdentityContext } from '../context.ts';
import { getRoles } from '../roles/store.ts';
import type { RoleRow } from '../roles/store.ts';
import * as dir from './directory-store.ts';
import { listDirectAssignments, listEffectiveAssignments, type AssignmentRef } from './effective.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** The filters of GET /v3/role_assignments, already read from the query string. */
export interface RoleAssignmentFilters {
  userId?: string;
  groupId?: string;
  roleId?: string;
  projectId?: string;
  domainId?: string;
  system: boolean;
  inherited?: boolean;
  effective: boolean;
  includeNames: boolean;
  includeSubtree: boolean;
}

/** Names of everything the listed assignments mention (include_names). */
export interface NameBook {
  users: Map<string, dir.UserRef>;
  groups: Map<string, dir.GroupRef>;
  projects: Map<string, dir.ProjectRef>;
  domains: Map<string, dir.DomainRef>;
  roles: Map<string, RoleRow>;
}

/** Keystone's 400s for filter combinations that contradict each other or can only be empty. */
export function assertFiltersCompatible(f: RoleAssignmentFilters): void {
  if (f.domainId && f.projectId) throw badRequest('Specify a domain or project, not both');
  if (f.domainId && f.system) throw badRequest('Specify system or domain, not both');
  if (f.projectId && f.system) throw badRequest('Specify system or project, not both');
  if (f.userId && f.groupId) throw badRequest('Specify a user or group, not both');
  if (f.includeSubtree && !f.projectId) throw badRequest('scope.project.id must be specified if include_subtree is also specified');
  if (f.effective && f.groupId) throw badRequest('Combining effective and group filter will always result in an empty list.');
  if (f.effective && f.inherited && f.domainId) {
    throw badRequest('Combining effective, domain and inherited filters will always result in an empty list.');
  }
}

/**
 * Lists role assignments. With `scopeDomainId` (a domain-scoped caller), only
 * those on that domain or on its projects are kept, as Keystone does.
 */
export async function listRoleAssignments(
  deps: Deps,
  f: RoleAssignmentFilters,
  scopeDomainId?: string,
): Promise<{ refs: AssignmentRef[]; names?: NameBook }> {
  assertFiltersCompatible(f);
  const query = {
    userId: f.userId,
    groupId: f.groupId,
    roleId: f.roleId,
    projectId: f.projectId,
    domainId: f.domainId,
    system: f.system,
    inherited: f.inherited,
    includeSubtree: f.includeSubtree,
  };
  let refs = f.effective ? await listEffectiveAssignments(deps.db, query) : await listDirectAssignments(deps.db, query);
  if (scopeDomainId) {
    const projects = new Map(
      (await dir.projectsByIds(deps.db, refs.flatMap((r) => (r.project_id ? [r.project_id] : [])))).map((p) => [p.id, p]),
    );
    refs = refs.filter(
      (r) => r.domain_id === scopeDomainId || (r.project_id !== undefined && projects.get(r.project_id)?.domain_id === scopeDomainId),
    );
  }
  return { refs, names: f.includeNames ? await namesOf(deps, refs) : undefined };
}

async function namesOf(deps: Deps, refs: AssignmentRef[]): Promise<NameBook> {
  const ids = (key: 'user_id' | 'group_id' | 'project_id' | 'domain_id' | 'role_id') =>
    refs.flatMap((r) => (r[key] ? [r[key] as string] : []));
  const users = await dir.usersByIds(deps.db, ids('user_id'));
  const groups = await dir.groupsByIds(deps.db, ids('group_id'));
  const projects = await dir.projectsByIds(deps.db, ids('project_id'));
  const roles = await getRoles(deps.db, ids('role_id'));
  const domainIds = [
    ...ids('domain_id'),
    ...users.map((u) => u.domain_id),
    ...groups.map((g) => g.domain_id),
    ...projects.map((p) => p.domain_id),
    ...roles.flatMap((r) => (r.domain_id ? [r.domain_id] : [])),
  ];
  const domains = await dir.domainsByIds(deps.db, domainIds);
  const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, r]));
  return { users: byId(users), groups: byId(groups), projects: byId(projects), domains: byId(domains), roles: byId(roles) };
}

/** The project named by scope.project.id, for the list_role_assignments_for_tree policy target. */
export async function findProjectForPolicy(deps: Deps, projectId: string): Promise<dir.ProjectRef | undefined> {
  return dir.findProject(deps.db, projectId);
}
