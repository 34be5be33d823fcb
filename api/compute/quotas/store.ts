import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

type Conn = Db | Knex.Transaction;

/** '' stands for "the project itself" in quotas.user_id. */
const PROJECT = '';

/** The limits set for a project (userId undefined) or for one user within it: resource → limit. */
export async function quotaLimits(db: Conn, projectId: string, userId?: string): Promise<Record<string, number>> {
  const rows = await db('quotas').where({ project_id: projectId, user_id: userId ?? PROJECT }).select('resource', 'hard_limit');
  return Object.fromEntries(rows.map((r: { resource: string; hard_limit: number }) => [r.resource, r.hard_limit]));
}

/** In one query: the limits set for the project, for the user within it (when given), and those of the quota class. */
export async function limitLayers(
  db: Conn,
  projectId: string,
  userId: string | undefined,
  className: string,
): Promise<{ project: Record<string, number>; user: Record<string, number>; classes: Record<string, number> }> {
  const layer = (name: string) => db.raw('?::text as layer', [name]);
  const q = db('quotas').select(layer('project'), 'resource', 'hard_limit').where({ project_id: projectId, user_id: PROJECT });
  if (userId !== undefined) q.unionAll(db('quotas').select(layer('user'), 'resource', 'hard_limit').where({ project_id: projectId, user_id: userId }));
  q.unionAll(db('quota_classes').select(layer('classes'), 'resource', 'hard_limit').where({ class_name: className }));
  const out = { project: {} as Record<string, number>, user: {} as Record<string, number>, classes: {} as Record<string, number> };
  for (const r of (await q) as { layer: keyof typeof out; resource: string; hard_limit: number }[]) out[r.layer][r.resource] = r.hard_limit;
  return out;
}

/** Every per-user limit set within a project. */
export async function userQuotaRows(db: Conn, projectId: string): Promise<{ user_id: string; resource: string; hard_limit: number }[]> {
  return db('quotas').where({ project_id: projectId }).whereNot({ user_id: PROJECT }).select('user_id', 'resource', 'hard_limit');
}

/** Sets limits of a project (userId undefined) or of a user within it. */
export async function setQuotaLimits(db: Conn, projectId: string, userId: string | undefined, limits: Record<string, number>): Promise<void> {
  const rows = Object.entries(limits).map(([resource, hard_limit]) => ({ project_id: projectId, user_id: userId ?? PROJECT, resource, hard_limit }));
  if (!rows.length) return;
  await db('quotas')
    .insert(rows)
    .onConflict(['project_id', 'user_id', 'resource'])
    .merge({ hard_limit: db.raw('excluded.hard_limit'), updated_at: db.fn.now() });
}

/** Forgets a user's limits within a project, or (userId undefined) every limit of the project and its users. */
export async function deleteQuotaLimits(db: Conn, projectId: string, userId?: string): Promise<void> {
  const q = db('quotas').where({ project_id: projectId });
  if (userId !== undefined) q.where({ user_id: userId });
  await q.delete();
}

/** The limits of a quota class: resource → limit. */
export async function classLimits(db: Conn, className: string): Promise<Record<string, number>> {
  const rows = await db('quota_classes').where({ class_name: className }).select('resource', 'hard_limit');
  return Object.fromEntries(rows.map((r: { resource: string; hard_limit: number }) => [r.resource, r.hard_limit]));
}

export async function setClassLimits(db: Conn, className: string, limits: Record<string, number>): Promise<void> {
  const rows = Object.entries(limits).map(([resource, hard_limit]) => ({ class_name: className, resource, hard_limit }));
  if (!rows.length) return;
  await db('quota_classes')
    .insert(rows)
    .onConflict(['class_name', 'resource'])
    .merge({ hard_limit: db.raw('excluded.hard_limit'), updated_at: db.fn.now() });
}
