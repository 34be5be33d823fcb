import type { Db } from '../../../lib/db/index.ts';

export interface ActionRow {
  id: number;
  instance_uuid: string;
  action: string;
  request_id: string;
  user_id: string | null;
  project_id: string | null;
  start_time: Date;
  finish_time: Date | null;
  message: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface EventRow {
  id: number;
  action_id: number;
  event: string;
  start_time: Date | null;
  finish_time: Date | null;
  result: string | null;
  traceback: string | null;
  host: string | null;
  details: string | null;
}

export interface ActionFilter {
  changesSince?: Date;
  changesBefore?: Date;
  limit?: number;
  /** The row after which the page starts. */
  after?: ActionRow;
}

/** An instance's actions, newest first (created_at, id descending), as Nova's actions_get. */
export async function listActions(db: Db, uuid: string, f: ActionFilter = {}): Promise<ActionRow[]> {
  if (f.limit === 0) return [];
  const q = db<ActionRow>('instance_actions').where({ instance_uuid: uuid });
  if (f.changesSince) q.where('updated_at', '>=', f.changesSince);
  if (f.changesBefore) q.where('updated_at', '<=', f.changesBefore);
  if (f.after) {
    const { created_at, id } = f.after;
    q.where((w) => w.where('created_at', '<', created_at).orWhere((w2) => w2.where('created_at', created_at).where('id', '<', id)));
  }
  q.orderBy([
    { column: 'created_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  if (f.limit !== undefined) q.limit(f.limit);
  return q;
}

/** The instance's latest action under `requestId`. */
export async function getAction(db: Db, uuid: string, requestId: string): Promise<ActionRow | undefined> {
  return db<ActionRow>('instance_actions')
    .where({ instance_uuid: uuid, request_id: requestId })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .first();
}

/** An action's events, oldest first. */
export async function listEvents(db: Db, actionId: number): Promise<EventRow[]> {
  return db<EventRow>('instance_action_events').where({ action_id: actionId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
}
