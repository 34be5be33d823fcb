import type { components } from '../../../spec/compute.d.ts';
import { badRequest } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isUuidLike } from '../services/state.ts';
import * as store from './store.ts';
import type { UsageInstanceRow } from './store.ts';

/** One server's usage in the period (Nova's server_usages entry), its times as dates. */
export type ServerUsage = Omit<components['schemas']['ServerUsage'], 'started_at' | 'ended_at'> & { started_at: Date; ended_at: Date | null };

/** One project's totals (size × hours) over the period, with its servers' usages when detailed. */
export interface TenantUsage {
  tenant_id: string;
  server_usages?: ServerUsage[];
  total_local_gb_usage: number;
  total_vcpus_usage: number;
  total_memory_mb_usage: number;
  total_hours: number;
  start: Date;
  stop: Date;
}

export interface Period {
  start: Date;
  stop: Date;
}

const DATETIME = /^(\d{4})-(\d{1,2})-(\d{1,2})([T ])(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$/;

/**
 * Nova's _parse_datetime: `%Y-%m-%dT%H:%M:%S`, the same with `.%f`, or
 * `%Y-%m-%d %H:%M:%S.%f`, in UTC; nothing means now. Else a 400.
 */
function parseDatetime(text: string | undefined, now: Date): Date {
  if (!text) return now;
  const m = DATETIME.exec(text);
  const invalid = () => badRequest('Invalid datetime string: Datetime is in invalid format');
  if (!m || (m[4] === ' ' && m[8] === undefined)) throw invalid();
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[5], m[6], m[7]].map(Number);
  const ms = m[8] === undefined ? 0 : Math.floor(Number(m[8].padEnd(6, '0')) / 1000);
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (at.getUTCFullYear() !== y || at.getUTCMonth() !== mo - 1 || at.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw invalid();
  return at;
}

/** Nova's _get_datetime_range: start must come before end (400 otherwise). */
function periodOf(start: string | undefined, end: string | undefined, now: Date): Period {
  const period = { start: parseDatetime(start, now), stop: parseDatetime(end, now) };
  if (!(period.start < period.stop)) throw badRequest('Invalid start time. The start time cannot occur after the end time.');
  return period;
}

/** Nova's _hours_for: the hours of the period the instance ran (launched, not yet terminated). */
function hoursFor(i: UsageInstanceRow, period: Period): number {
  const { launched_at: launched, terminated_at: terminated } = i;
  if (!launched) return 0;
  if (terminated && terminated < period.start) return 0;
  if (launched > period.stop) return 0;
  const start = Math.max(launched.getTime(), period.start.getTime());
  const stop = terminated ? Math.min(period.stop.getTime(), terminated.getTime()) : period.stop.getTime();
  return (stop - start) / 3_600_000;
}

function serverUsage(i: UsageInstanceRow, period: Period, now: Date): ServerUsage {
  const startedAt = i.launched_at!;
  const endedAt = i.terminated_at;
  return {
    instance_id: i.uuid,
    name: i.display_name,
    tenant_id: i.project_id,
    flavor: i.flavor?.name ?? '',
    hours: hoursFor(i, period),
    vcpus: i.vcpus,
    memory_mb: i.memory_mb,
    local_gb: i.root_gb + (i.flavor?.ephemeral_gb ?? 0),
    started_at: startedAt,
    ended_at: endedAt,
    state: endedAt ? 'terminated' : i.vm_state,
    uptime: Math.trunc(((endedAt ?? now).getTime() - startedAt.getTime()) / 1000),
  };
}

export interface UsageQuery {
  /** The period's bounds as given (start, end); absent means now. */
  start?: string;
  end?: string;
  detailed: boolean;
  limit: number;
  /** The uuid of the last instance of the previous page (2.40 on); an unknown one is a 400. */
  marker?: string;
}

export interface UsageResult {
  usages: TenantUsage[];
  /** Every server counted, detailed or not (what the page's next link is made from). */
  servers: ServerUsage[];
}

/** Nova's _tenant_usages_for_period: usages per project (in the order met) over the instances active in the period. */
async function usagesFor(ctx: ComputeContext, q: UsageQuery, projectId?: string): Promise<UsageResult> {
  const now = new Date();
  const asked = periodOf(q.start, q.end, now);
  // The period ends now at the latest.
  const period = { start: asked.start, stop: asked.stop > now ? now : asked.stop };
  let after: { project_id: string; uuid: string } | undefined;
  if (q.marker !== undefined) {
    after = isUuidLike(q.marker) ? await store.getInstanceKey(ctx.db, q.marker) : undefined;
    if (!after) throw badRequest(`Marker ${q.marker} could not be found.`);
  }
  const instances = await store.instancesActiveIn(ctx.db, { ...period, projectId, limit: q.limit, after });
  const byProject = new Map<string, TenantUsage>();
  const servers: ServerUsage[] = [];
  for (const i of instances) {
    const info = serverUsage(i, period, now);
    let summary = byProject.get(info.tenant_id);
    if (!summary) {
      summary = {
        tenant_id: info.tenant_id,
        ...(q.detailed ? { server_usages: [] } : {}),
        total_local_gb_usage: 0,
        total_vcpus_usage: 0,
        total_memory_mb_usage: 0,
        total_hours: 0,
        start: period.start,
        stop: period.stop,
      };
      byProject.set(info.tenant_id, summary);
    }
    summary.total_local_gb_usage += info.local_gb * info.hours;
    summary.total_vcpus_usage += info.vcpus * info.hours;
    summary.total_memory_mb_usage += info.memory_mb * info.hours;
    summary.total_hours += info.hours;
    summary.server_usages?.push(info);
    servers.push(info);
  }
  return { usages: [...byProject.values()], servers };
}

/** GET /os-simple-tenant-usage: every project's usage over the period (admin). */
export async function listUsages(ctx: ComputeContext, caller: ComputeCaller, q: UsageQuery): Promise<UsageResult> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-simple-tenant-usage:list');
  return usagesFor(ctx, q);
}

/** GET /os-simple-tenant-usage/{project}: one project's usage, always detailed; none is `undefined` (shown as {}). */
export async function showUsage(ctx: ComputeContext, caller: ComputeCaller, projectId: string, q: Omit<UsageQuery, 'detailed'>): Promise<{ usage?: TenantUsage; servers: ServerUsage[] }> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-simple-tenant-usage:show', { project_id: projectId });
  const { usages, servers } = await usagesFor(ctx, { ...q, detailed: true }, projectId);
  return { usage: usages[0], servers };
}
