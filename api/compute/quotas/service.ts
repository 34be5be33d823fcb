import { badRequest, forbidden } from '../../../lib/errors.ts';
import { authorizeCompute, verifyProjectId, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { parseBool } from '../query.ts';
import { configuredDefaults, isUnlimited, QUOTA_RESOURCES, type QuotaResource, type QuotaValues } from './resources.ts';
import * as store from './store.ts';
import { computeUsage, type ComputeUsage } from './usage.ts';

export interface QuotaDetail {
  limit: number;
  in_use: number;
  reserved: number;
}
export type QuotaDetails = Record<QuotaResource, QuotaDetail>;

/** The class every project falls back to; its rows replace the configured defaults. */
const DEFAULT_CLASS = 'default';

/** Limits over fallbacks, for every resource. */
function overlay(base: QuotaValues, ...layers: Record<string, number>[]): QuotaValues {
  const out = { ...base };
  for (const r of QUOTA_RESOURCES) {
    for (const layer of layers) if (r in layer) out[r] = layer[r];
  }
  return out;
}

/** The defaults: the `default` quota class, else compute.quota.* (Nova's get_defaults). */
export async function defaultQuotas(ctx: ComputeContext): Promise<QuotaValues> {
  return overlay(configuredDefaults(ctx.config), await store.classLimits(ctx.db, DEFAULT_CLASS));
}

/** A project's limits: its own, else the defaults; with `userId`, that user's own over those. */
export async function effectiveQuotas(ctx: ComputeContext, projectId: string, userId?: string): Promise<QuotaValues> {
  const { project, user, classes } = await store.limitLayers(ctx.db, projectId, userId, DEFAULT_CLASS);
  return overlay(configuredDefaults(ctx.config), classes, project, user);
}

export interface QuotaLayers {
  /** The project's limits. */
  project: QuotaValues;
  /** The user's limits within the project (its own over the project's). */
  user: QuotaValues;
  /** The limits set for the user itself. */
  own: Record<string, number>;
}

/** The project's and the user's limits, read at once (a create checks both). */
export async function quotaLayers(ctx: ComputeContext, projectId: string, userId: string): Promise<QuotaLayers> {
  const { project, user: own, classes } = await store.limitLayers(ctx.db, projectId, userId, DEFAULT_CLASS);
  const defaults = overlay(configuredDefaults(ctx.config), classes);
  return { project: overlay(defaults, project), user: overlay(defaults, project, own), own };
}

/**
 * What Nova reports as in use: the counted resources (instances, cores, ram,
 * server groups); key_pairs and server_group_members are per-user or
 * per-group limits whose use Nova always shows as 0 here, and the rest are
 * not counted.
 */
function inUse(usage: ComputeUsage, r: QuotaResource): number {
  switch (r) {
    case 'instances':
    case 'cores':
    case 'ram':
    case 'server_groups':
      return usage[r];
    default:
      return 0;
  }
}

/** Limits with their use (GET /os-quota-sets/{id}/detail, GET /limits). */
export async function quotaDetails(ctx: ComputeContext, projectId: string, userId?: string): Promise<QuotaDetails> {
  const limits = await effectiveQuotas(ctx, projectId, userId);
  const usage = await computeUsage(ctx.db, projectId, userId);
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, { limit: limits[r], in_use: inUse(usage, r), reserved: 0 }])) as QuotaDetails;
}

// os-quota-sets

/** GET /os-quota-sets/{project}[?user_id]: the project's (or user's) limits. */
export async function showQuotas(ctx: ComputeContext, caller: ComputeCaller, projectId: string, userId?: string): Promise<QuotaValues> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-quota-sets:show', { project_id: projectId });
  await verifyProjectId(ctx.db, projectId);
  return effectiveQuotas(ctx, projectId, userId);
}

/** GET /os-quota-sets/{project}/detail[?user_id] */
export async function showQuotaDetails(ctx: ComputeContext, caller: ComputeCaller, projectId: string, userId?: string): Promise<QuotaDetails> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-quota-sets:detail', { project_id: projectId });
  await verifyProjectId(ctx.db, projectId);
  return quotaDetails(ctx, projectId, userId);
}

/** GET /os-quota-sets/{project}/defaults */
export async function showDefaultQuotas(ctx: ComputeContext, caller: ComputeCaller, projectId: string): Promise<QuotaValues> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-quota-sets:defaults', { project_id: projectId });
  await verifyProjectId(ctx.db, projectId);
  return defaultQuotas(ctx);
}

const sum = (a: number, b: number) => (isUnlimited(a) || isUnlimited(b) ? -1 : a + b);
const diff = (a: number, b: number) => (isUnlimited(a) || isUnlimited(b) ? -1 : a - b);
const asInfinity = (v: number) => (isUnlimited(v) ? Infinity : v);

/**
 * The range a new limit may take (Nova's get_settable_quotas). For a
 * project: at least what its users' own limits add up to and what it uses.
 * For a user: at least what the user uses, at most what the project has left
 * (its limit less all users' limits) plus the user's current limit.
 */
async function settableRanges(ctx: ComputeContext, projectId: string, userId?: string): Promise<Record<QuotaResource, { min: number; max: number }>> {
  const project = await quotaDetails(ctx, projectId);
  const assigned: Record<string, number> = {};
  for (const row of await store.userQuotaRows(ctx.db, projectId)) assigned[row.resource] = (assigned[row.resource] ?? 0) + row.hard_limit;
  const remains = (r: QuotaResource) => project[r].limit - (assigned[r] ?? 0);
  const out = {} as Record<QuotaResource, { min: number; max: number }>;
  if (userId === undefined) {
    for (const r of QUOTA_RESOURCES) out[r] = { min: Math.max(diff(project[r].limit, remains(r)), project[r].in_use), max: -1 };
    return out;
  }
  const own = await store.quotaLimits(ctx.db, projectId, userId);
  const user = await quotaDetails(ctx, projectId, userId);
  for (const r of QUOTA_RESOURCES) out[r] = { min: user[r].in_use, max: sum(remains(r), own[r] ?? 0) };
  return out;
}

/**
 * PUT /os-quota-sets/{project}[?user_id]: sets the given limits. Each must
 * lie in its settable range unless `force` is true; nothing changes unless
 * all do. Empty values are skipped; the removed networks quota is a 400.
 */
export async function updateQuotas(
  ctx: ComputeContext,
  caller: ComputeCaller,
  projectId: string,
  userId: string | undefined,
  quotaSet: Record<string, unknown>,
): Promise<QuotaValues> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-quota-sets:update', { project_id: projectId });
  await verifyProjectId(ctx.db, projectId);
  if ('networks' in quotaSet) throw badRequest('The networks quota has been removed');
  const force = parseBool(String(quotaSet.force ?? 'False')) === true;
  const ranges = force ? undefined : await settableRanges(ctx, projectId, userId);
  const limits: Record<string, number> = {};
  for (const [key, raw] of Object.entries(quotaSet)) {
    if (key === 'force' || raw === null || raw === '' || raw === undefined) continue;
    const value = Number(raw);
    const range = ranges?.[key as QuotaResource];
    if (range) {
      if (asInfinity(value) < asInfinity(range.min)) {
        throw badRequest(`Quota limit ${value} for ${key} must be greater than or equal to already used and reserved ${range.min}.`);
      }
      if (asInfinity(value) > asInfinity(range.max)) throw badRequest(`Quota limit ${value} for ${key} must be less than or equal to ${range.max}.`);
    }
    limits[key] = value;
  }
  await store.setQuotaLimits(ctx.db, projectId, userId, limits);
  return effectiveQuotas(ctx, projectId, userId);
}

/** DELETE /os-quota-sets/{project}[?user_id]: back to the defaults (a project's users' limits go too). */
export async function deleteQuotas(ctx: ComputeContext, caller: ComputeCaller, projectId: string, userId?: string): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-quota-sets:delete', { project_id: projectId });
  await store.deleteQuotaLimits(ctx.db, projectId, userId);
}

// os-quota-class-sets

/** GET /os-quota-class-sets/{class}: the class's limits, else the configured defaults. */
export async function showQuotaClass(ctx: ComputeContext, caller: ComputeCaller, className: string): Promise<QuotaValues> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-quota-class-sets:show', {});
  return overlay(configuredDefaults(ctx.config), await store.classLimits(ctx.db, className));
}

/** PUT /os-quota-class-sets/{class}: the `default` class changes every project's defaults. */
export async function updateQuotaClass(
  ctx: ComputeContext,
  caller: ComputeCaller,
  className: string,
  quotaClassSet: Record<string, number | string>,
): Promise<QuotaValues> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-quota-class-sets:update', {});
  if (className.length < 1 || className.length > 255) {
    throw badRequest('Invalid input received: quota_class_name has a length outside 1 to 255 characters.');
  }
  const limits = Object.fromEntries(Object.entries(quotaClassSet).map(([k, v]) => [k, Number(v)]));
  await store.setClassLimits(ctx.db, className, limits);
  return showQuotaClass(ctx, caller, className);
}

// Enforcement

/**
 * Nova's keypair quota: how many keypairs a user may hold — the user's own
 * limit in the caller's project, else the project's, else the default.
 */
export async function keypairQuota(ctx: ComputeContext, projectId: string | null, userId: string): Promise<number> {
  return (projectId === null ? await defaultQuotas(ctx) : await effectiveQuotas(ctx, projectId, userId)).key_pairs;
}

/** One more keypair for a user who holds `held` must stay within `limit`: else a 403 "Quota exceeded, too many key pairs.". */
export function assertKeypairQuota(limit: number, held: number): void {
  if (!isUnlimited(limit) && held + 1 > limit) throw forbidden('Quota exceeded, too many key pairs.');
}
