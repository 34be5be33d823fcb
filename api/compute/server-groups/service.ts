import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { badRequest, forbidden, notFound } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isUnlimited } from '../quotas/resources.ts';
import { effectiveQuotas } from '../quotas/service.ts';
import { isUuidLike } from '../services/state.ts';
import * as store from './store.ts';
import type { ServerGroupPolicy, ServerGroupRow } from './store.ts';

export interface ServerGroupInput {
  name: string;
  policy: ServerGroupPolicy;
  rules?: { max_server_per_host?: number | string };
}

/** A group with its members (the uuids of its instances that are not deleted). */
export interface ServerGroup extends ServerGroupRow {
  members: string[];
}

const groupNotFound = (id: string) => notFound(`Instance group ${id} could not be found.`);

const withMembers = async (ctx: ComputeContext, rows: ServerGroupRow[]): Promise<ServerGroup[]> => {
  const members = await store.membersOf(ctx.db, rows.map((r) => r.uuid));
  return rows.map((r) => ({ ...r, members: members.get(r.uuid) ?? [] }));
};

/** A group by id; an id that is no uuid, or names no group, is a 404. */
async function findGroup(ctx: ComputeContext, id: string): Promise<ServerGroupRow> {
  const group = isUuidLike(id) ? await store.getGroup(ctx.db, id) : undefined;
  if (!group) throw groupNotFound(id);
  return group;
}

/**
 * One more server group must fit the project's server_groups quota and the
 * user's (the user's own limit, else the project's), counted in `conn`: else
 * a 403 (Nova's check_deltas).
 */
async function assertServerGroupQuota(ctx: ComputeContext, conn: Knex.Transaction, projectId: string, userId: string): Promise<void> {
  const inTrx = { ...ctx, db: conn };
  const checks: [limit: number, used: number][] = [
    [(await effectiveQuotas(inTrx, projectId)).server_groups, await store.countGroups(conn, projectId)],
    [(await effectiveQuotas(inTrx, projectId, userId)).server_groups, await store.countGroups(conn, projectId, userId)],
  ];
  if (checks.some(([limit, used]) => !isUnlimited(limit) && used + 1 > limit)) throw forbidden('Quota exceeded, too many server groups.');
}

/**
 * POST /os-server-groups: a group of the caller's project. Only
 * anti-affinity takes rules (max_server_per_host); the server_groups quota is
 * counted under a per-project lock, so concurrent creations cannot both slip
 * under it.
 */
export async function createServerGroup(ctx: ComputeContext, caller: ComputeCaller, input: ServerGroupInput): Promise<ServerGroup> {
  const projectId = caller.projectId;
  authorizeCompute(ctx, caller, 'os_compute_api:os-server-groups:create', { project_id: projectId });
  if (projectId === null) throw badRequest('Server groups belong to a project: use a project-scoped token.');
  const rules: ServerGroupRow['rules'] = {};
  if (input.rules && Object.keys(input.rules).length) {
    if (input.policy !== 'anti-affinity') throw badRequest('Only anti-affinity policy supports rules.');
    if (input.rules.max_server_per_host !== undefined) rules.max_server_per_host = Number(input.rules.max_server_per_host);
  }
  const row = await ctx.db.transaction(async (trx) => {
    await store.lockProjectGroups(trx, projectId);
    await assertServerGroupQuota(ctx, trx, projectId, caller.userId);
    return store.insertGroup(trx, { uuid: randomUUID(), name: input.name, project_id: projectId, user_id: caller.userId, policy: input.policy, rules });
  });
  return { ...row, members: [] };
}

/** GET /os-server-groups/{id}: another project's group is a 403 unless the caller is an admin. */
export async function showServerGroup(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<ServerGroup> {
  const group = await findGroup(ctx, id);
  authorizeCompute(ctx, caller, 'os_compute_api:os-server-groups:show', { project_id: group.project_id });
  return (await withMembers(ctx, [group]))[0];
}

export interface ListQuery {
  /** all_projects was given (whatever its value): every project's groups, for admins. */
  allProjects: boolean;
  limit: number;
  offset: number;
}

/**
 * GET /os-server-groups: the caller's project's groups; every project's when
 * an admin asks all_projects (a non-admin asking gets their own, as Nova).
 */
export async function listServerGroups(ctx: ComputeContext, caller: ComputeCaller, query: ListQuery): Promise<ServerGroup[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-server-groups:index', { project_id: caller.projectId });
  let projectId: string | undefined = caller.projectId ?? '';
  if (query.allProjects && caller.isAdmin) {
    authorizeCompute(ctx, caller, 'os_compute_api:os-server-groups:index:all_projects', { project_id: caller.projectId });
    projectId = undefined;
  }
  return withMembers(ctx, await store.listGroups(ctx.db, projectId, query));
}

/** DELETE /os-server-groups/{id} */
export async function deleteServerGroup(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<void> {
  const group = await findGroup(ctx, id);
  authorizeCompute(ctx, caller, 'os_compute_api:os-server-groups:delete', { project_id: group.project_id });
  if (!(await store.deleteGroup(ctx.db, group.uuid))) throw groupNotFound(id);
}

/**
 * For creating servers in a group (the servers API): `adding` more servers of
 * `userId` must fit the group's server_group_members quota, Nova's count being
 * the group's members that user owns, all read in `conn` (the caller's
 * transaction). Else a 403, as Nova's "Quota exceeded, too many servers in
 * group".
 */
export async function assertServerGroupMembersQuota(
  ctx: ComputeContext,
  conn: Knex.Transaction,
  group: Pick<ServerGroupRow, 'uuid' | 'project_id'>,
  userId: string,
  adding: number,
): Promise<void> {
  const limit = (await effectiveQuotas({ ...ctx, db: conn }, group.project_id, userId)).server_group_members;
  if (!isUnlimited(limit) && (await store.countMembers(conn, group.uuid, userId)) + adding > limit) {
    throw forbidden('Quota exceeded, too many servers in group');
  }
}
