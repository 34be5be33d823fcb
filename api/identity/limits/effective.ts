import type { Db } from '../../../lib/db/index.ts';
import { registeredLimitsWithProjectLimit } from './store.ts';

export interface EffectiveLimitQuery {
  /** The catalog type of the service enforcing the quota ('image', 'compute', …). */
  serviceType: string;
  /** The region the service runs in; null or absent for region-less limits only. */
  regionId?: string | null;
  projectId: string;
  resourceName: string;
}

/**
 * The limit a project has on a resource under the flat model, for a service
 * to enforce its quota: the project's own limit if one is set, else the
 * registered default; undefined when the resource has no registered limit
 * (the service decides what unregistered means). -1 means unlimited.
 *
 * Registered limits are found by the service's type in the catalog. With a
 * region, one registered for that region is preferred over a region-less one
 * of the same kind (a project limit still wins over any default). Domain
 * limits do not apply to projects under the flat model.
 */
export async function effectiveLimit(db: Db, q: EffectiveLimitQuery): Promise<number | undefined> {
  const regionId = q.regionId ?? null;
  const rows = await registeredLimitsWithProjectLimit(db, { ...q, regionId });
  // Most specific first: the region's before the region-less one (order by service id otherwise).
  const ranked = [...rows].sort((a, b) => Number(a.region_id === null) - Number(b.region_id === null));
  const own = ranked.find((r) => r.resource_limit !== null);
  if (own) return own.resource_limit!;
  return ranked[0]?.default_limit;
}
