import type { Db } from '../../../lib/db/index.ts';

export interface ImageMemberRow {
  image_id: string;
  member_id: string;
  status: string;
  created_at: Date;
  updated_at: Date;
}

const table = (db: Db) => db<ImageMemberRow>('image_members');

/** The membership of `memberId` (a project) in an image, if any. */
export async function getMember(db: Db, imageId: string, memberId: string): Promise<ImageMemberRow | undefined> {
  return table(db).where({ image_id: imageId, member_id: memberId }).first();
}
