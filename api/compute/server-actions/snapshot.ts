import { randomUUID } from 'node:crypto';
import { computeClient, TaskState } from '../../../compute-driver/rpc.ts';
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
import { assertState, instanceTarget, invalidState } from '../servers/access.ts';
import * as store from '../servers/store.ts';
import type { InstanceRow } from '../servers/store.ts';
import { callerAgentToken } from './agent-token.ts';
import { notReady } from './service.ts';

const SNAPSHOT_STATES = { vmStates: ['active', 'stopped', 'paused', 'suspended'] };

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
 * In one transaction the image is created (queued, qcow2/bare: what the
 * drivers upload), the `createImage` action recorded and task_state set to
 * image_snapshot by a conditional update (a request that lost a race gets
 * the 409 and no image). Then snapshot_instance is cast to the host with
 * where to upload (`imageBase`, the image service's URL) and a token to do
 * it as the caller; the agent moves task_state on and back to null, and the
 * image goes active once the data is in (or is deleted if the snapshot
 * fails).
 */
export async function createServerImage(
  ctx: ComputeContext,
  caller: ComputeCaller,
  row: InstanceRow,
  input: { name: string; metadata?: Record<string, string> },
  microversion: Microversion,
  requestId: string,
  imageBase: string,
): Promise<ImageRow> {
  authorizeCompute(ctx, caller, 'os_compute_api:servers:create_image', { project_id: row.project_id });
  const metadata = input.metadata ?? {};
  // Up to 2.38 Nova proxies the image metadata quota.
  if (!microversion.atLeast('2.39') && Object.keys(metadata).length) {
    const limit = (await effectiveQuotas(ctx, row.project_id)).metadata_items;
    if (!isUnlimited(limit) && Object.keys(metadata).length > limit) throw forbidden('Image metadata limit exceeded');
  }
  assertState('createImage', row, SNAPSHOT_STATES);
  if (!row.host) throw notReady(row);

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
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: owner === row.project_id ? 'private' : 'shared',
      min_ram: Number(source.min_ram ?? 0),
      min_disk: Math.max(Number(source.min_disk ?? 0), row.root_gb),
      properties,
      tags: [],
    });
    if (owner !== row.project_id) await insertMember(trx, created.id, row.project_id);
    await store.recordAction(trx, { uuid: row.uuid, action: 'createImage', requestId, userId: caller.userId, projectId: caller.projectId });
    const updated = await store.updateInstance(trx, row.uuid, { task_state: TaskState.IMAGE_SNAPSHOT }, { taskStates: [null], vmStates: SNAPSHOT_STATES.vmStates });
    if (!updated) throw invalidState('createImage', row.uuid, 'task_state', (await store.getInstance(trx, row.uuid))?.task_state ?? null);
    return created;
  });
  await computeClient(ctx.bus, row.host).cast('snapshot_instance', {
    instance: { ...instanceTarget(row), task_state: TaskState.IMAGE_SNAPSHOT },
    request_id: requestId,
    image: { image_id: image.id, url: `${imageBase.replace(/\/+$/, '')}/v2/images/${image.id}/file`, token: await callerAgentToken(ctx, caller) },
  });
  return image;
}

/** The image service's URL: the catalog's image endpoint, else `fallbackBase` (the image port of this host). */
export async function imageServiceUrl(ctx: ComputeContext, fallbackBase: string): Promise<string> {
  return ((await imageEndpoint(ctx.db)) ?? fallbackBase).replace(/\/+$/, '');
}

/** Where the image service shows an image (Nova's glance generate_image_url). */
export const imageLocation = (imageBase: string, id: string) => `${imageBase}/images/${id}`;
