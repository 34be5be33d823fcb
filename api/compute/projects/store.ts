import type { Db } from '../../../lib/db/index.ts';

/** Whether Keystone's projects table holds `projectId` (the compute API reads it, never writes it). */
export async function projectExists(db: Db, projectId: string): Promise<boolean> {
  return (await db('projects').where({ id: projectId }).first('id')) !== undefined;
}
