import type { Db } from '../../../lib/db/index.ts';
import type { ImageRow } from '../images/store.ts';

/** The statuses an image has while a process writes or imports its data. */
export type WriteStatus = 'saving' | 'uploading' | 'importing';

/**
 * A writer's hold on an image: the status it moved the image to and the
 * heartbeat value it last wrote. Every later write of the writer is a
 * compare-and-set on both, so a writer whose image was deleted, or reset by
 * the sweeper and taken by another writer, finds out and backs off instead of
 * overwriting the newcomer's state.
 */
export interface WriteLease {
  imageId: string;
  status: WriteStatus;
  beat: Date;
}

const images = (db: Db) => db<ImageRow>('images');
const held = (db: Db, lease: WriteLease) =>
  images(db).where({ id: lease.imageId, status: lease.status }).where('upload_heartbeat_at', lease.beat).whereNull('deleted_at');

/**
 * Moves an image from `from` to `to` and takes the lease, in one conditional
 * update; with `staged`, only when it holds staged data. Undefined when the
 * image was not in `from` (or is deleted).
 */
export async function acquireLease(
  db: Db,
  imageId: string,
  from: string,
  to: WriteStatus,
  opts: { staged?: boolean; fields?: Partial<ImageRow> } = {},
): Promise<{ lease: WriteLease; image: ImageRow } | undefined> {
  const beat = new Date();
  const q = images(db).where({ id: imageId, status: from }).whereNull('deleted_at');
  if (opts.staged) q.whereNotNull('staging_location');
  const [image] = await q.update({ ...opts.fields, status: to, upload_heartbeat_at: beat, updated_at: db.fn.now() } as never).returning('*');
  return image ? { lease: { imageId, status: to, beat }, image: image as ImageRow } : undefined;
}

/** Refreshes the heartbeat; false when the lease is lost (the image deleted, or reset and taken by another writer). */
export async function renewLease(db: Db, lease: WriteLease): Promise<boolean> {
  const beat = new Date(Math.max(Date.now(), lease.beat.getTime() + 1));
  const n = await held(db, lease).update({ upload_heartbeat_at: beat } as never);
  if (n > 0) lease.beat = beat;
  return n > 0;
}

/** Ends the lease, setting `status` and `fields`, if it still holds; the updated row, else undefined. */
export async function releaseLease(db: Db, lease: WriteLease, status: string, fields: Partial<ImageRow> = {}): Promise<ImageRow | undefined> {
  const [row] = await held(db, lease)
    .update({ ...fields, status, upload_heartbeat_at: null, updated_at: db.fn.now() } as never)
    .returning('*');
  return row as ImageRow | undefined;
}

/** An image's data fields cleared, as Glance does when an image goes back to queued. */
export const NO_DATA: Partial<ImageRow> = { size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null };

/**
 * Abandons writes whose writer has not been heard from since `cutoff`: an
 * upload ('saving') or an unfinished stage ('uploading' without staged data)
 * goes back to 'queued'; an import goes back to 'uploading' while its staged
 * data is there (to be imported again), else to 'queued'. Returns what moved.
 */
export async function resetStaleWrites(db: Db, cutoff: Date): Promise<{ id: string; status: string }[]> {
  const keepsStage = "status = 'importing' AND staging_location IS NOT NULL";
  return images(db)
    .whereNull('deleted_at')
    .where((b) => b.whereIn('status', ['saving', 'importing']).orWhere((s) => s.where('status', 'uploading').whereNull('staging_location')))
    .whereRaw('coalesce(upload_heartbeat_at, updated_at) < ?', [cutoff])
    .update({
      status: db.raw(`CASE WHEN ${keepsStage} THEN 'uploading' ELSE 'queued' END`),
      size: db.raw(`CASE WHEN ${keepsStage} THEN size END`),
      staged_size: db.raw(`CASE WHEN ${keepsStage} THEN staged_size END`),
      virtual_size: null,
      upload_heartbeat_at: null,
      updated_at: db.fn.now(),
    } as never)
    .returning(['id', 'status']);
}

/** Which of `locations` a live image holds as its data or staged data. */
export async function heldLocations(db: Db, locations: string[]): Promise<Set<string>> {
  const held = new Set<string>();
  for (let i = 0; i < locations.length; i += 500) {
    const batch = locations.slice(i, i + 500);
    const rows = await images(db)
      .whereNull('deleted_at')
      .where((b) => b.whereIn('location', batch).orWhereIn('staging_location', batch))
      .select('location', 'staging_location');
    for (const r of rows) for (const l of [r.location, r.staging_location]) if (l) held.add(l);
  }
  return held;
}
