import { badRequest } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isCompute } from '../services/state.ts';
import { listServices } from '../services/store.ts';

/** Nova's instance usage audit report for one audit period. */
export interface AuditReport {
  period_beginning: string;
  period_ending: string;
  num_hosts: number;
  num_hosts_done: number;
  num_hosts_running: number;
  num_hosts_not_run: number;
  hosts_not_run: string[];
  total_instances: number;
  total_errors: number;
  overall_status: string;
  log: Record<string, { state: string; instances: number; errors: number; message: string }>;
}

/** Python's str(datetime) of a whole-second UTC time: 2026-11-01 00:00:00 */
const pyTime = (d: Date) => d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');

/**
 * Nova's last_completed_audit_period with its default period, a month: the
 * calendar month (UTC) before the one `before` falls in.
 */
export function lastCompletedAuditPeriod(before: Date): { begin: Date; end: Date } {
  const end = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth(), 1));
  const begin = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth() - 1, 1));
  return { begin, end };
}

/** The timestamp of GET /os-instance_usage_audit_log/{before}: `%Y-%m-%d %H:%M:%S[.%f]`, else Nova's 400. */
export function parseBefore(raw: string): Date {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$/.exec(raw);
  const invalid = () => badRequest(`Invalid timestamp for date ${raw}`);
  if (!m) throw invalid();
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, m[7] ? Number(m[7].padEnd(6, '0')) / 1000 : 0));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw invalid();
  return date;
}

/**
 * The report of the instance usage audit for the last completed period
 * before `before` (a timestamp; now by default), over every compute host (disabled ones too). Nubo does
 * not run that audit (Nova runs it only with instance_usage_audit = True,
 * off by default), so no host has a task log: all of them "not run", as a
 * default Nova reports.
 */
export async function auditReport(ctx: ComputeContext, caller: ComputeCaller, before?: string): Promise<AuditReport> {
  authorizeCompute(ctx, caller, `os_compute_api:os-instance-usage-audit-log:${before === undefined ? 'list' : 'show'}`, {});
  const { begin, end } = lastCompletedAuditPeriod(before === undefined ? new Date() : parseBefore(before));
  const hosts = [...new Set((await listServices(ctx.db)).filter(isCompute).map((s) => s.host))];
  return {
    period_beginning: pyTime(begin),
    period_ending: pyTime(end),
    num_hosts: hosts.length,
    num_hosts_done: 0,
    num_hosts_running: 0,
    num_hosts_not_run: hosts.length,
    hosts_not_run: hosts,
    total_instances: 0,
    total_errors: 0,
    overall_status: `${hosts.length === 0 ? 'ALL' : `0 of ${hosts.length}`} hosts done. 0 errors.`,
    log: {},
  };
}
