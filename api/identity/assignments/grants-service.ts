import { forbidden, notFound } from '../../../lib/errors.ts';
import type { IdentityContext } from '../context.ts';
import { getRoles } from '../roles/store.ts';
import type { RoleRow } from '../roles/store.ts';
import { getRole as getRoleOr404 } from '../roles/service.ts';
import * as dir from './directory-store.ts';
import * as store from './store.ts';
import type { AssignmentRow, AssignmentType } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens'>;

/**
 * Which grant an URL names: an actor (user or group), a target (project,
 * domain or the system) and whether it is inherited to the projects below
 * the target (OS-INHERIT).
 */
export interface GrantSpec {
  actor: { kind: 'user' | 'group'; id: string };
  target: { kind: 'project' | 'domain' | 'system'; id: string };
  inherited: boolean;
}

/** The entities a grant names, those that exist (Keystone's policy target). */
export interface GrantEntities {
  user?: dir.UserRef;
  group?: dir.GroupRef;
  project?: dir.ProjectRef;
  domain?: dir.DomainRef;
  role?: RoleRow;
}

const typeOf = (spec: GrantSpec): AssignmentType =>
  `${spec.actor.kind === 'user' ? 'User' : 'Group'}${spec.target.kind === 'project' ? 'Project' : spec.target.kind === 'domain' ? 'Domain' : 'System'}` as AssignmentType;

const rowOf = (spec: GrantSpec, roleId: string): AssignmentRow => ({
  type: typeOf(spec),
  actor_id: spec.actor.id,
  target_id: spec.target.kind === 'system' ? store.SYSTEM_TARGET : spec.target.id,
  role_id: roleId,
  inherited: spec.inherited,
});

/** Looks up whatever of the grant's actor, target and role exists. */
export async function findGrantEntities(deps: Pick<Deps, 'db'>, spec: GrantSpec, roleId?: string): Promise<GrantEntities> {
  const found: GrantEntities = {};
  if (spec.actor.kind === 'user') found.user = await dir.findUser(deps.db, spec.actor.id);
  else found.group = await dir.findGroup(deps.db, spec.actor.id);
  if (spec.target.kind === 'project') found.project = await dir.findProject(deps.db, spec.target.id);
  if (spec.target.kind === 'domain') found.domain = await dir.findDomain(deps.db, spec.target.id);
  if (roleId) found.role = (await getRoles(deps.db, [roleId]))[0];
  return found;
}

/** 404 for the first of actor, target that does not exist. */
async function requireActorAndTarget(deps: Deps, spec: GrantSpec, found: GrantEntities, actorRequired = true): Promise<void> {
  if (actorRequired && spec.actor.kind === 'user' && !found.user) throw notFound(`Could not find user: ${spec.actor.id}.`);
  if (actorRequired && spec.actor.kind === 'group' && !found.group) throw notFound(`Could not find group: ${spec.actor.id}.`);
  if (spec.target.kind === 'project' && !found.project) throw notFound(`Could not find project: ${spec.target.id}.`);
  if (spec.target.kind === 'domain' && !found.domain) throw notFound(`Could not find domain: ${spec.target.id}.`);
}

const assignmentNotFound = (spec: GrantSpec, roleId: string) =>
  notFound(
    `Could not find role assignment with role: ${roleId}, user or group: ${spec.actor.id}, project, domain, or system: ${spec.target.id}.`,
  );

/** Grants the role (idempotent). A domain-specific role only on projects of its domain. */
export async function createGrant(deps: Deps, spec: GrantSpec, roleId: string): Promise<void> {
  const role = await getRoleOr404(deps, roleId);
  const found = await findGrantEntities(deps, spec);
  await requireActorAndTarget(deps, spec, found);
  if (role.domain_id && found.project && found.project.domain_id !== role.domain_id) {
    throw forbidden(`Project ${found.project.id} must be in the same domain as the role ${roleId} being assigned.`);
  }
  await store.insertAssignment(deps.db, rowOf(spec, roleId));
}

/** 404 unless the grant exists. */
export async function checkGrant(deps: Deps, spec: GrantSpec, roleId: string): Promise<void> {
  await getRoleOr404(deps, roleId);
  await requireActorAndTarget(deps, spec, await findGrantEntities(deps, spec));
  if (!(await store.assignmentExists(deps.db, rowOf(spec, roleId)))) throw assignmentNotFound(spec, roleId);
}

/** The roles granted directly to the actor on the target. */
export async function listGrants(deps: Deps, spec: GrantSpec): Promise<RoleRow[]> {
  await requireActorAndTarget(deps, spec, await findGrantEntities(deps, spec));
  const row = rowOf(spec, '');
  const rows = await store.listAssignments(deps.db, {
    types: [row.type],
    actorIds: [row.actor_id],
    targetIds: [row.target_id],
    inherited: row.inherited,
  });
  const roles = await getRoles(deps.db, rows.map((r) => r.role_id));
  return roles.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Revokes the grant, then every token it could have put the role into: the
 * user's (or each group member's) tokens on that project or domain; for the
 * system or an inherited grant, all of the user's tokens.
 */
export async function deleteGrant(deps: Deps, spec: GrantSpec, roleId: string): Promise<void> {
  await getRoleOr404(deps, roleId);
  await requireActorAndTarget(deps, spec, await findGrantEntities(deps, spec), false);
  if (!(await store.deleteAssignment(deps.db, rowOf(spec, roleId)))) throw assignmentNotFound(spec, roleId);
  const userIds =
    spec.actor.kind === 'user' ? [spec.actor.id] : (await dir.membersOfGroups(deps.db, [spec.actor.id])).map((m) => m.user_id);
  const issued_before = new Date();
  for (const user_id of userIds) {
    if (spec.inherited || spec.target.kind === 'system') await deps.tokens.revoke({ user_id, issued_before });
    else if (spec.target.kind === 'project') await deps.tokens.revoke({ user_id, project_id: spec.target.id, issued_before });
    else await deps.tokens.revoke({ user_id, domain_id: spec.target.id, issued_before });
  }
}
