import { payloadTooLarge } from '../../lib/errors.ts';
import type { Config } from '../../lib/config/index.ts';
import type { Db } from '../../lib/db/index.ts';
import type { ImageContext } from './context.ts';
import { effectiveLimit } from '../identity/limits/effective.ts';

/** Glance's unified-limits resources (sizes in MiB). */
export type ImageResource = 'image_count_total' | 'image_count_uploading' | 'image_size_total' | 'image_stage_total';

const MiB = 1024 * 1024;
const UPLOADING = ['saving', 'uploading', 'importing'];

/** What a project uses of `resource` now (sizes in bytes). */
export async function imageUsage(db: Db, owner: string, resource: ImageResource): Promise<number> {
  const live = db('images').where({ owner }).whereNull('deleted_at');
  switch (resource) {
    case 'image_count_total': {
      const [{ n }] = await live.count({ n: '*' });
      return Number(n);
    }
    case 'image_count_uploading': {
      const [{ n }] = await live.whereIn('status', UPLOADING).count({ n: '*' });
      return Number(n);
    }
    case 'image_size_total': {
      const [{ n }] = await live.sum({ n: 'size' });
      return Number(n ?? 0);
    }
    case 'image_stage_total': {
      const [{ n }] = await live.sum({ n: 'staged_size' });
      return Number(n ?? 0);
    }
  }
}

/**
 * The limit in force for a project (-1: none): its Keystone limit or the
 * image service's registered default (`openstack limit create --service
 * glance …`), else the configured default.
 */
export async function imageLimit(db: Db, config: Config, project: string, resource: ImageResource): Promise<number> {
  const fromKeystone = await effectiveLimit(db, { serviceType: 'image', regionId: config['identity.region'], projectId: project, resourceName: resource });
  return fromKeystone ?? config[`image.${resource}`];
}

/** Unit of a limit: counts as they are, sizes in MiB. */
const scale = (resource: ImageResource) => (resource === 'image_size_total' || resource === 'image_stage_total' ? MiB : 1);

/**
 * Refuses (413, as Glance) when the project's usage plus `delta` would exceed
 * its limit. For sizes, `delta` is in bytes.
 */
export async function assertImageQuota(ctx: ImageContext, owner: string, resource: ImageResource, delta: number): Promise<void> {
  const limit = await imageLimit(ctx.db, ctx.config, owner, resource);
  if (limit < 0) return;
  const usage = await imageUsage(ctx.db, owner, resource);
  if (usage + delta > limit * scale(resource)) {
    throw payloadTooLarge(`Project ${owner} is over a limit for [Resource ${resource} is over limit of ${limit} due to current usage ${Math.ceil(usage / scale(resource))} and delta ${Math.ceil(delta / scale(resource))}]`);
  }
}

/**
 * Bytes the project may still store (Infinity when unlimited), as image data
 * or, with 'image_stage_total', as staged data: transfers are cut off beyond it.
 */
export async function remainingImageBytes(
  ctx: ImageContext,
  owner: string,
  resource: 'image_size_total' | 'image_stage_total' = 'image_size_total',
): Promise<number> {
  const limit = await imageLimit(ctx.db, ctx.config, owner, resource);
  if (limit < 0) return Infinity;
  return Math.max(0, limit * MiB - (await imageUsage(ctx.db, owner, resource)));
}
