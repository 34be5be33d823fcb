import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isUuidLike } from '../services/state.ts';
import { getInstance } from '../servers/store.ts';

export interface ExternalEvent {
  name: string;
  server_uuid: string;
  status?: 'failed' | 'completed' | 'in-progress';
  tag?: string;
}

export interface EventResult extends ExternalEvent {
  status: 'failed' | 'completed' | 'in-progress';
  code: number;
}

/**
 * Nova's os-server-external-events create: each event's server must exist
 * (404 otherwise) and be on a host (422 otherwise); the answer is 200 when
 * every event was accepted, 207 when some were, 404 when none was.
 *
 * The events the schema lets through come from a network or volume service
 * (vif plugged, unplugged, deleted, network changed, volume extended). Nubo
 * has neither yet, so no agent is waiting for one: an accepted event is
 * recorded nowhere and changes nothing.
 */
export async function createExternalEvents(ctx: ComputeContext, caller: ComputeCaller, events: ExternalEvent[]): Promise<{ code: number; events: EventResult[] }> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-server-external-events:create', {});
  const results: EventResult[] = [];
  for (const event of events) {
    const row = isUuidLike(event.server_uuid) ? await getInstance(ctx.db, event.server_uuid) : undefined;
    const code = !row || row.deleted_at ? 404 : !row.host ? 422 : 200;
    results.push({ ...event, status: code === 200 ? (event.status ?? 'completed') : 'failed', code });
  }
  const accepted = results.filter((r) => r.code === 200).length;
  return { code: accepted === results.length ? 200 : accepted ? 207 : 404, events: results };
}
