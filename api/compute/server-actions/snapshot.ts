import { randomUUID } from 'node:crypto';
import { forbidden } from '../../../lib/errors.ts';
import { imageEndpoint } from '../../../scheduler/conductor/store.ts';
import { insertMember } from '../../image/members/store.ts';
import { insertImage, type ImageRow } from '../../image/images/store.ts';
import { imageLimit, imageUsage } from '../../image/quota.ts';
import type { Microversion } from '../../http/microversion.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { effectiveQuotas } from '../quotas/service.ts';
import { isUnlimited } from '../quotas/resources.ts';
import { assertState } from '../servers/access.ts';
import * as store from '../servers/store.ts';
import type { InstanceRow } from '../servers/store.ts';

/** Image properties a snapshot never inherits (nova/compute/utils.py NON_INHERITABLE_IMAGE_PROPERTIES and namespaces). */
const NON_INHERITABLE = new Set([
  'cinder_encryption_key_id', 'cinder_encryption_key_deletion_policy', 'img_signature', 'img_signature_hash_method', 'img_signature_key_type',
  'img_signature_certificate_uuid',
]);
const inheritable = (key: string) => !NON_INHERITABLE.has(key) && !key.startsWith('os_glance');

/**
 * createImage (Nova's compute API snapshot): a new image in the image
 * service, owned by the caller's project, private — or shared with the
 * server's project when the caller is of another (an admin) — with the
 * server's image properties and min_ram/min_disk (Nova's
 * initialize_instance_snapshot_metadata), image_type snapshot, the server's
 * uuid and the caller's user, and the metadata given. The server must be
 * active, stopped, paused or suspended with no task (no lock check, as Nova).
 *
 * The image stays `queued`: uploading the guest's disk into it needs a
 * snapshot operation of the agents (the KVM driver), so no task_state is set
 * and nothing is cast; the `createImage` action is recorded.
 */
export async function createServerImage(
  ctx: ComputeContext,
  caller: ComputeCaller,
  row: InstanceRow,
  input: { name: string; metadata?: Record<string, string> },
  microversion: Microversion,
  requestId: string,
): Promise<ImageRow> {
  authorizeCompute(ctx, caller, 'os_compute_api:servers:create_image', { project_id: row.project_id });
  const metadata = input.metadata ?? {};
  // Up to 2.38 Nova proxies the image metadata quota.
  if (!microversion.atLeast('2.39') && Object.keys(metadata).length) {
    const limit = (await effectiveQuotas(ctx, row.project_id)).metadata_items;
    if (!isUnlimited(limit) && Object.keys(metadata).length > limit) throw forbidden('Image metadata limit exceeded');
  }
  assertState('createImage', row, { vmStates: ['active', 'stopped', 'paused', 'suspended'] });

  const owner = caller.projectId ?? row.project_id;
  const limit = await imageLimit(ctx.db, ctx.config, owner, 'image_count_total');
  if (limit >= 0 && (await imageUsage(ctx.db, owner, 'image_count_total')) + 1 > limit) {
    throw forbidden(`Quota exceeded for image_count_total: the project's image limit is ${limit}`);
  }

  const source = row.image_meta ?? {};
  const sourceProps = (source.properties ?? {}) as Record<string, unknown>;
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(sourceProps)) if (inheritable(k) && v !== null && v !== undefined) properties[k] = String(v);
  Object.assign(properties, {
    instance_uuid: row.uuid,
    user_id: caller.userId,
    image_type: 'snapshot',
    ...(row.image_ref ? { base_image_ref: row.image_ref } : {}),
    ...(owner !== row.project_id ? { instance_owner: row.project_id } : {}),
  });
  for (const [k, v] of Object.entries(metadata)) properties[k] = String(v);

  const image = await ctx.db.transaction(async (trx) => {
    const created = await insertImage(trx, {
      id: randomUUID(),
      name: input.name.trim(),
      owner,
      status: 'queued',
      visibility: owner === row.project_id ? 'private' : 'shared',
      min_ram: Number(source.min_ram ?? 0),
      min_disk: Math.max(Number(source.min_disk ?? 0), row.root_gb),
      properties,
      tags: [],
    });
    if (owner !== row.project_id) await insertMember(trx, created.id, row.project_id);
    await store.recordAction(trx, { uuid: row.uuid, action: 'createImage', requestId, userId: caller.userId, projectId: caller.projectId });
    return created;
  });
  return image;
}

/** Where the image service shows an image (Nova's glance generate_image_url): the catalog's image endpoint, else the image port of this host. */
export async function imageLocation(ctx: ComputeContext, fallbackBase: string, id: string): Promise<string> {
  const endpoint = (await imageEndpoint(ctx.db)) ?? fallbackBase;
  return `${endpoint.replace(/\/+$/, '')}/images/${id}`;
}
