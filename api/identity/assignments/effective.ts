import type { Db } from '../../../lib/db/index.ts';
import { listAllImpliedRoles } from '../roles/implied-store.ts';
import { getRoles } from '../roles/store.ts';
import * as dir from './directory-store.ts';
import { listAssignments, SYSTEM_TARGET, type AssignmentRow, type AssignmentType } from './store.ts';

/**
 * Role assignments as Keystone's assignment manager reasons about them
 * (keystone/assignment/core.py): direct grants, and the "effective" view in
 * which group grants become grants to each member, inherited grants land on
 * the projects below their target, implied roles are added, and
 * domain-specific roles (which only serve to imply others) are dropped.
 */
export interface AssignmentRef {
  role_id: string;
  user_id?: string;
  group_id?: string;
  project_id?: string;
  domain_id?: string;
  system?: true;
  /** A direct grant flagged OS-INHERIT (applies to the projects below its target). */
  inherited_to_projects?: true;
  /** Where an effective assignment came from. */
  indirect?: { group_id?: string; project_id?: string; domain_id?: string; role_id?: string };
}

export interface AssignmentQuery {
  userId?: string;
  groupId?: string;
  roleId?: string;
  projectId?: string;
  domainId?: string;
  system?: boolean;
  /** undefined: both; true: only inherited grants; false: only non-inherited. */
  inherited?: boolean;
  /** With projectId: also the projects below it. */
  includeSubtree?: boolean;
}

const USER_TYPES: AssignmentType[] = ['UserProject', 'UserDomain'];
const GROUP_TYPES: AssignmentType[] = ['GroupProject', 'GroupDomain'];
const PROJECT_TYPES: AssignmentType[] = ['UserProject', 'GroupProject'];
const DOMAIN_TYPES: AssignmentType[] = ['UserDomain', 'GroupDomain'];

const isGroupRow = (row: AssignmentRow) => row.type.startsWith('Group');
const isProjectRow = (row: AssignmentRow) => row.type.endsWith('Project');
const isDomainRow = (row: AssignmentRow) => row.type.endsWith('Domain');

const intersect = <T>(a: readonly T[], b: readonly T[] | undefined) => (b ? a.filter((x) => b.includes(x)) : [...a]);

/** A direct grant row as an assignment ref. */
export function refOfRow(row: AssignmentRow): AssignmentRef {
  const ref: AssignmentRef = { role_id: row.role_id };
  if (isGroupRow(row)) ref.group_id = row.actor_id;
  else ref.user_id = row.actor_id;
  if (isProjectRow(row)) ref.project_id = row.target_id;
  else if (isDomainRow(row)) ref.domain_id = row.target_id;
  else ref.system = true;
  if (row.inherited) ref.inherited_to_projects = true;
  return ref;
}

/** Direct grants matching the query, unexpanded (GET /v3/role_assignments without effective). */
export async function listDirectAssignments(db: Db, q: AssignmentQuery): Promise<AssignmentRef[]> {
  const actorIds = q.userId ? [q.userId] : q.groupId ? [q.groupId] : undefined;
  const rows: AssignmentRow[] = [];
  if (!q.system) {
    let types: AssignmentType[] = [...PROJECT_TYPES, ...DOMAIN_TYPES];
    if (q.userId) types = intersect(types, USER_TYPES);
    if (q.groupId) types = intersect(types, GROUP_TYPES);
    if (q.projectId) types = intersect(types, PROJECT_TYPES);
    if (q.domainId) types = intersect(types, DOMAIN_TYPES);
    let targetIds: string[] | undefined;
    if (q.projectId) {
      targetIds = [q.projectId, ...(q.includeSubtree ? await dir.projectDescendantIds(db, q.projectId) : [])];
    } else if (q.domainId) {
      targetIds = [q.domainId];
    }
    rows.push(...(await listAssignments(db, { types, actorIds, targetIds, roleId: q.roleId, inherited: q.inherited })));
  }
  if ((q.system || (!q.projectId && !q.domainId)) && q.inherited !== true) {
    const types: AssignmentType[] = q.userId ? ['UserSystem'] : q.groupId ? ['GroupSystem'] : ['UserSystem', 'GroupSystem'];
    rows.push(...(await listAssignments(db, { types, actorIds, targetIds: [SYSTEM_TARGET], roleId: q.roleId })));
  }
  return rows.map(refOfRow);
}

/**
 * Effective assignments: what reaches each user. Group and domain-inherited
 * grants cannot appear, so a group filter (or domain + inherited) yields
 * nothing; system grants are not part of this view, as in Keystone.
 */
export async function listEffectiveAssignments(db: Db, q: AssignmentQuery): Promise<AssignmentRef[]> {
  if (q.groupId || (q.domainId && q.inherited === true)) return [];
  const inherited = q.domainId ? false : q.inherited;
  const actorIds = q.userId ? [q.userId, ...(await dir.groupIdsOfUser(db, q.userId))] : undefined;

  // Only fetch the grants that could reach the filtered target.
  const rows: AssignmentRow[] = [];
  let interest: string[] | undefined;
  if (q.projectId) {
    interest = [q.projectId, ...(q.includeSubtree ? await dir.projectDescendantIds(db, q.projectId) : [])];
    if (inherited !== true) {
      rows.push(...(await listAssignments(db, { types: PROJECT_TYPES, actorIds, targetIds: interest, inherited: false })));
    }
    if (inherited !== false) {
      const project = await dir.findProject(db, q.projectId);
      if (project) {
        rows.push(...(await listAssignments(db, { types: DOMAIN_TYPES, actorIds, targetIds: [project.domain_id], inherited: true })));
        const sources = [...(await dir.projectAncestorIds(db, q.projectId)), ...(q.includeSubtree ? interest : [])];
        if (sources.length) {
          rows.push(...(await listAssignments(db, { types: PROJECT_TYPES, actorIds, targetIds: sources, inherited: true })));
        }
      }
    }
  } else if (q.domainId) {
    rows.push(...(await listAssignments(db, { types: DOMAIN_TYPES, actorIds, targetIds: [q.domainId], inherited: false })));
  } else {
    rows.push(...(await listAssignments(db, { types: [...PROJECT_TYPES, ...DOMAIN_TYPES], actorIds, inherited })));
  }
  // A user's own grants only: group rows are kept only for the user's groups (actorIds covers both).
  const userRows = q.userId ? rows.filter((r) => isGroupRow(r) || r.actor_id === q.userId) : rows;

  const members = await memberLookup(db, userRows, q.userId);
  const projectsBelow = projectExpansion(db, interest, q.includeSubtree ?? false);
  let refs: AssignmentRef[] = [];
  for (const row of userRows) {
    const users = isGroupRow(row) ? members(row.actor_id) : [row.actor_id];
    const via = isGroupRow(row) ? { group_id: row.actor_id } : {};
    if (row.inherited) {
      const source = isDomainRow(row) ? { domain_id: row.target_id } : { project_id: row.target_id };
      for (const projectId of await projectsBelow(row)) {
        for (const userId of users) {
          refs.push({ role_id: row.role_id, user_id: userId, project_id: projectId, indirect: { ...via, ...source } });
        }
      }
    } else {
      const target = isDomainRow(row) ? { domain_id: row.target_id } : { project_id: row.target_id };
      for (const userId of users) {
        refs.push({ role_id: row.role_id, user_id: userId, ...target, ...(isGroupRow(row) ? { indirect: { ...via } } : {}) });
      }
    }
  }
  refs = await addImpliedRoles(db, refs);
  refs = await stripDomainRoles(db, refs);
  if (q.roleId) refs = refs.filter((r) => r.role_id === q.roleId);
  return refs;
}

/** Members of each group in `rows` (just `userId` when the query is for one user). */
async function memberLookup(db: Db, rows: AssignmentRow[], userId: string | undefined): Promise<(groupId: string) => string[]> {
  if (userId) return () => [userId];
  const groupIds = rows.filter(isGroupRow).map((r) => r.actor_id);
  const byGroup = new Map<string, string[]>();
  for (const m of await dir.membersOfGroups(db, groupIds)) {
    const list = byGroup.get(m.group_id) ?? [];
    list.push(m.user_id);
    byGroup.set(m.group_id, list);
  }
  return (groupId) => byGroup.get(groupId) ?? [];
}

/** The projects an inherited grant lands on, restricted to the projects of interest when filtering. */
function projectExpansion(db: Db, interest: string[] | undefined, includeSubtree: boolean) {
  const cache = new Map<string, Promise<string[]>>();
  const memo = (key: string, f: () => Promise<string[]>) => {
    if (!cache.has(key)) cache.set(key, f());
    return cache.get(key)!;
  };
  return async (row: AssignmentRow): Promise<string[]> => {
    if (interest) {
      // Filtering by project: a domain or ancestor grant reaches every project of interest;
      // one inside the subtree of interest reaches only the projects below it.
      if (isProjectRow(row) && includeSubtree && interest.includes(row.target_id)) {
        return memo(`below:${row.target_id}`, () => dir.projectDescendantIds(db, row.target_id));
      }
      return interest;
    }
    return isDomainRow(row)
      ? memo(`domain:${row.target_id}`, () => dir.projectIdsInDomain(db, row.target_id))
      : memo(`below:${row.target_id}`, () => dir.projectDescendantIds(db, row.target_id));
  };
}

/**
 * Adds, for each assignment of a prior role, one of each role it implies
 * (transitively), recording the immediate prior role in indirect.role_id.
 */
export async function addImpliedRoles(db: Db, refs: AssignmentRef[]): Promise<AssignmentRef[]> {
  if (refs.length === 0) return refs;
  const implies = impliedRoleGraph(await listAllImpliedRoles(db));
  if (implies.size === 0) return refs;
  const out = [...refs];
  for (const ref of refs) {
    const seen = new Set([ref.role_id]);
    const queue: AssignmentRef[] = [ref];
    while (queue.length) {
      const prior = queue.shift()!;
      for (const impliedId of implies.get(prior.role_id) ?? []) {
        if (seen.has(impliedId)) continue;
        seen.add(impliedId);
        const copy: AssignmentRef = { ...prior, role_id: impliedId, indirect: { ...prior.indirect, role_id: prior.role_id } };
        out.push(copy);
        queue.push(copy);
      }
    }
  }
  return out;
}

export function impliedRoleGraph(rules: { prior_role_id: string; implied_role_id: string }[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const r of rules) {
    const list = graph.get(r.prior_role_id) ?? [];
    list.push(r.implied_role_id);
    graph.set(r.prior_role_id, list);
  }
  return graph;
}

/** The role ids reachable from `roleIds` through inference rules, themselves included. */
export function expandRoleIds(roleIds: Iterable<string>, graph: Map<string, string[]>): Set<string> {
  const out = new Set<string>();
  const queue = [...roleIds];
  while (queue.length) {
    const id = queue.shift()!;
    if (out.has(id)) continue;
    out.add(id);
    queue.push(...(graph.get(id) ?? []));
  }
  return out;
}

/** Drops assignments of domain-specific roles: they only imply others and never reach a token. */
async function stripDomainRoles(db: Db, refs: AssignmentRef[]): Promise<AssignmentRef[]> {
  const roles = await getRoles(db, refs.map((r) => r.role_id));
  const global = new Set(roles.filter((r) => r.domain_id === '').map((r) => r.id));
  return refs.filter((r) => global.has(r.role_id));
}

/** The user's effective role ids on a project (direct, through groups, inherited, implied). */
export async function effectiveRoleIdsOnProject(db: Db, userId: string, projectId: string): Promise<string[]> {
  const refs = await listEffectiveAssignments(db, { userId, projectId });
  return [...new Set(refs.map((r) => r.role_id))];
}

/** The user's effective role ids on a domain (direct and through groups, non-inherited, implied). */
export async function effectiveRoleIdsOnDomain(db: Db, userId: string, domainId: string): Promise<string[]> {
  const refs = await listEffectiveAssignments(db, { userId, domainId });
  return [...new Set(refs.map((r) => r.role_id))];
}

/** The user's role ids on the system (direct and through groups, implied). */
export async function effectiveRoleIdsOnSystem(db: Db, userId: string): Promise<string[]> {
  const groupIds = await dir.groupIdsOfUser(db, userId);
  const rows = [
    ...(await listAssignments(db, { types: ['UserSystem'], actorIds: [userId], targetIds: [SYSTEM_TARGET] })),
    ...(groupIds.length ? await listAssignments(db, { types: ['GroupSystem'], actorIds: groupIds, targetIds: [SYSTEM_TARGET] }) : []),
  ];
  if (rows.length === 0) return [];
  const graph = impliedRoleGraph(await listAllImpliedRoles(db));
  return [...expandRoleIds(rows.map((r) => r.role_id), graph)];
}
