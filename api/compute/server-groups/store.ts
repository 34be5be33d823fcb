import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

export type ServerGroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface ServerGroupRow {
  uuid: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: ServerGroupPolicy;
  rules: { max_server_per_host?: number };
  created_at: Date;
  updated_at: Date;
}

type Conn = Db | Knex.Transaction;

const groups = (db: Conn) => db<ServerGroupRow>('server_groups');

export async function insertGroup(db: Conn, row: Pick<ServerGroupRow, 'uuid' | 'name' | 'project_id' | 'user_id' | 'policy' | 'rules'>): Promise<ServerGroupRow> {
  const [created] = await groups(db)
    .insert({ ...row, rules: JSON.stringify(row.rules) as never })
    .returning('*');
  return created as ServerGroupRow;
}

export async function getGroup(db: Conn, uuid: string): Promise<ServerGroupRow | undefined> {
  return groups(db).where({ uuid }).first();
}

/** Groups oldest first: a project's (or, projectId undefined, every project's), `limit` of them from `offset`. */
export async function listGroups(db: Conn, projectId: string | undefined, page: { limit: number; offset: number }): Promise<ServerGroupRow[]> {
  const q = groups(db);
  if (projectId !== undefined) q.where({ project_id: projectId });
  return q.orderBy([{ column: 'created_at' }, { column: 'uuid' }]).offset(page.offset).limit(page.limit);
}

/** How many groups a project has (or one user in it has): their server_groups quota usage. */
export async function countGroups(db: Conn, projectId: string, userId?: string): Promise<number> {
  const q = groups(db).where({ project_id: projectId });
  if (userId !== undefined) q.where({ user_id: userId });
  const [{ n }] = await q.count({ n: '*' });
  return Number(n);
}

/** Deletes the group (its member rows go with it); false when there was none. */
export async function deleteGroup(db: Conn, uuid: string): Promise<boolean> {
  return (await groups(db).where({ uuid }).delete().returning('uuid')).length > 0;
}

/** The uuids of each group's members whose instance is not deleted, oldest instance first. */
export async function membersOf(db: Conn, groupUuids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(groupUuids.map((g) => [g, []]));
  if (!groupUuids.length) return out;
  const rows: { group_uuid: string; instance_uuid: string }[] = await db('server_group_members as m')
    .join('instances as i', 'i.uuid', 'm.instance_uuid')
    .whereIn('m.group_uuid', groupUuids)
    .whereNull('i.deleted_at')
    .select('m.group_uuid', 'm.instance_uuid')
    .orderBy([{ column: 'i.created_at' }, { column: 'i.uuid' }]);
  for (const r of rows) out.get(r.group_uuid)!.push(r.instance_uuid);
  return out;
}

/** How many of the group's (not deleted) members belong to `userId`: their server_group_members quota usage. */
export async function countMembers(db: Conn, groupUuid: string, userId: string): Promise<number> {
  const [{ n }] = await db('server_group_members as m')
    .join('instances as i', 'i.uuid', 'm.instance_uuid')
    .where({ 'm.group_uuid': groupUuid, 'i.user_id': userId })
    .whereNull('i.deleted_at')
    .count({ n: '*' });
  return Number(n);
}

/** Serialises server group creation per project within `trx`, so quota counts stay true under concurrency. */
export async function lockProjectGroups(trx: Knex.Transaction, projectId: string): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`server_groups:${projectId}`]);
}
