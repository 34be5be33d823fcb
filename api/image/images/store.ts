import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

/** An images row as stored (timestamps as Dates, bigints as strings from pg). */
export interface ImageRow {
  id: string;
  name: string | null;
  owner: string | null;
  status: string;
  visibility: string;
  protected: boolean;
  os_hidden: boolean;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  size: string | number | null;
  virtual_size: string | number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  properties: Record<string, string>;
  tags: string[];
  location: string | null;
  staging_location: string | null;
  staged_size: string | number | null;
  upload_heartbeat_at: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** The columns a caller may set on create or update. */
export type ImageFields = Partial<
  Pick<
    ImageRow,
    'name' | 'owner' | 'visibility' | 'protected' | 'os_hidden' | 'disk_format' | 'container_format' | 'min_disk' | 'min_ram' | 'properties' | 'tags'
  >
>;

const table = (db: Db | Knex.Transaction) => db<ImageRow>('images');

const asJson = (fields: Partial<ImageRow>): Record<string, unknown> => {
  const row: Record<string, unknown> = { ...fields };
  if (fields.properties !== undefined) row.properties = JSON.stringify(fields.properties);
  if (fields.tags !== undefined) row.tags = JSON.stringify(fields.tags);
  return row;
};

export async function insertImage(db: Db, row: Partial<ImageRow> & { id: string; status: string; visibility: string }): Promise<ImageRow> {
  const [inserted] = await table(db).insert(asJson(row) as Partial<ImageRow>).returning('*');
  return inserted as ImageRow;
}

/** The image, deleted or not. */
export async function getImage(db: Db | Knex.Transaction, id: string): Promise<ImageRow | undefined> {
  return table(db).where({ id }).first();
}

/** The image row locked for update within `trx`. */
export async function lockImage(trx: Knex.Transaction, id: string): Promise<ImageRow | undefined> {
  return table(trx).where({ id }).forUpdate().first();
}

/**
 * Updates an image that is not deleted; with `fromStatus`, only while its
 * status is one of those (a conditional write: the state machine's guard).
 * Returns the updated row, or undefined when the guard did not hold.
 */
export async function updateImage(
  db: Db | Knex.Transaction,
  id: string,
  fields: Partial<ImageRow>,
  fromStatus?: string[],
): Promise<ImageRow | undefined> {
  let q = table(db).where({ id }).whereNull('deleted_at');
  if (fromStatus) q = q.whereIn('status', fromStatus);
  const [row] = await q.update({ ...asJson(fields), updated_at: db.fn.now() } as never).returning('*');
  return row as ImageRow | undefined;
}

/** The oldest image named `name` that `owner` has and has not deleted. */
export async function findOwnedImageByName(db: Db, owner: string, name: string): Promise<ImageRow | undefined> {
  return table(db).where({ owner, name }).whereNull('deleted_at').orderBy('created_at').first();
}

/** Images a project owns that are not deleted. */
export async function countImages(db: Db, owner: string): Promise<number> {
  const [{ n }] = await table(db).where({ owner }).whereNull('deleted_at').count({ n: '*' });
  return Number(n);
}

/** Adds a tag in one statement, so concurrent tag changes never lose one. */
export async function addTag(db: Db, id: string, tag: string): Promise<void> {
  await table(db)
    .where({ id })
    .whereNull('deleted_at')
    .update({
      tags: db.raw('CASE WHEN jsonb_exists(tags, ?) THEN tags ELSE tags || jsonb_build_array(?::text) END', [tag, tag]),
      updated_at: db.fn.now(),
    } as never);
}

/** Removes a tag in one statement; false when the image did not have it. */
export async function removeTag(db: Db, id: string, tag: string): Promise<boolean> {
  const rows = await table(db)
    .where({ id })
    .whereNull('deleted_at')
    .whereRaw('jsonb_exists(tags, ?)', [tag])
    .update({ tags: db.raw('tags - ?::text', [tag]), updated_at: db.fn.now() } as never)
    .returning('id');
  return rows.length > 0;
}
