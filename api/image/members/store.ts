import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

export interface ImageMemberRow {
  image_id: string;
  member_id: string;
  status: string;
  created_at: Date;
  updated_at: Date;
}

type Conn = Db | Knex.Transaction;

const table = (db: Conn) => db<ImageMemberRow>('image_members');

/** The membership of `memberId` (a project) in an image, if any. */
export async function getMember(db: Db, imageId: string, memberId: string): Promise<ImageMemberRow | undefined> {
  return table(db).where({ image_id: imageId, member_id: memberId }).first();
}

/** The members of an image, oldest first; with `onlyMember`, just that project's membership. */
export async function listMembers(db: Db, imageId: string, onlyMember?: string): Promise<ImageMemberRow[]> {
  const q = table(db).where({ image_id: imageId });
  if (onlyMember !== undefined) q.where({ member_id: onlyMember });
  return q.orderBy([{ column: 'created_at' }, { column: 'member_id' }]);
}

export async function countMembers(db: Conn, imageId: string): Promise<number> {
  const [{ n }] = await table(db).where({ image_id: imageId }).count({ n: '*' });
  return Number(n);
}

/** Adds a pending membership; a second one for the same project is a unique violation. */
export async function insertMember(db: Conn, imageId: string, memberId: string): Promise<ImageMemberRow> {
  const [row] = await table(db).insert({ image_id: imageId, member_id: memberId, status: 'pending' }).returning('*');
  return row as ImageMemberRow;
}

/** Sets a membership's status; undefined when there is no such membership. */
export async function updateMemberStatus(db: Db, imageId: string, memberId: string, status: string): Promise<ImageMemberRow | undefined> {
  const [row] = await table(db)
    .where({ image_id: imageId, member_id: memberId })
    .update({ status, updated_at: db.fn.now() } as never)
    .returning('*');
  return row as ImageMemberRow | undefined;
}

/** Removes a membership; false when there was none. */
export async function deleteMember(db: Db, imageId: string, memberId: string): Promise<boolean> {
  const rows = await table(db).where({ image_id: imageId, member_id: memberId }).delete().returning('member_id');
  return rows.length > 0;
}
