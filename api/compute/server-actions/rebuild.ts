import { computeClient, type TaskState, type VmState } from '../../../compute-driver/rpc.ts';
import { badRequest } from '../../../lib/errors.ts';
import { blockDeviceInfoOf, flavorOf, imageMetaOf as messageImageMeta, instanceSpecOf } from '../../../scheduler/conductor/messages.ts';
import type { InstanceRow as ConductorRow } from '../../../scheduler/conductor/store.ts';
import { imageEndpoint } from '../../../scheduler/conductor/store.ts';
import type { Microversion } from '../../http/microversion.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { getKeypair } from '../keypairs/store.ts';
import { parseBool } from '../query.ts';
import { effectiveQuotas } from '../quotas/service.ts';
import { assertMetadataQuota, generatePassword } from '../servers/create.ts';
import { assertNotLocked, assertState, invalidState, serverTarget } from '../servers/access.ts';
import { assertImageFitsFlavor, imageMetaOf, visibleImage } from '../servers/image.ts';
import * as store from '../servers/store.ts';
import type { InstanceRow } from '../servers/store.ts';
import { callerAgentToken } from './agent-token.ts';
import { notReady } from './service.ts';
import { canonicalIpv6 } from '../servers/access-ip.ts';

/** `rebuild`, as the spec validated it for the request's microversion. */
export interface RebuildInput {
  imageRef: string;
  name?: string;
  adminPass?: string;
  metadata?: Record<string, string>;
  preserve_ephemeral?: boolean | string;
  'OS-DCF:diskConfig'?: 'AUTO' | 'MANUAL';
  accessIPv4?: string;
  accessIPv6?: string;
  personality?: { path?: string; contents?: string }[];
  description?: string | null;
  key_name?: string | null;
  user_data?: string | null;
  trusted_image_certificates?: string[] | null;
  hostname?: string;
}

export interface Rebuilt {
  row: InstanceRow;
  adminPass: string;
}

/**
 * rebuild (Nova's compute API rebuild): the server is made again from
 * `imageRef` (which may be another image) keeping its id, with the name,
 * metadata, key (2.54), user data (2.57), certificates (2.63) and hostname
 * (2.90) given. Checks as create does for the image; the server must be
 * active, stopped or in error with no task, and not locked (but for
 * admins). task_state becomes rebuilding; the `rebuild` action is recorded
 * and rebuild_instance cast to the host, with a token for the agent to
 * download the image as the caller (agent-token.ts).
 */
export async function rebuildServer(
  ctx: ComputeContext,
  caller: ComputeCaller,
  row: InstanceRow,
  input: RebuildInput,
  microversion: Microversion,
  requestId: string,
): Promise<Rebuilt> {
  authorizeCompute(ctx, caller, 'os_compute_api:servers:rebuild', serverTarget(row));
  if (microversion.atLeast('2.63') && 'trusted_image_certificates' in input) {
    authorizeCompute(ctx, caller, 'os_compute_api:servers:rebuild:trusted_certs', serverTarget(row));
  }
  assertNotLocked(caller, row);
  assertState('rebuild', row, { vmStates: ['active', 'stopped', 'error'] });
  if (!row.host) throw notReady(row);

  const changes: Partial<InstanceRow> = {};
  if (microversion.atLeast('2.54') && 'key_name' in input) {
    if (input.key_name) {
      const kp = await getKeypair(ctx.db, caller.userId, input.key_name);
      if (!kp) throw badRequest('Invalid key_name provided.');
      changes.key_name = kp.name;
      changes.key_data = kp.public_key;
    } else {
      changes.key_name = null;
      changes.key_data = null;
    }
  }
  if (microversion.atLeast('2.63') && 'trusted_image_certificates' in input) changes.trusted_certs = input.trusted_image_certificates ?? null;
  if (microversion.atLeast('2.90') && input.hostname !== undefined) changes.hostname = input.hostname;
  if (microversion.atLeast('2.57') && 'user_data' in input) changes.user_data = input.user_data ?? null;
  if (input.name !== undefined) changes.display_name = input.name.trim();
  if ('description' in input) changes.display_description = input.description ?? null;
  if (input.accessIPv4 !== undefined) changes.access_ip_v4 = input.accessIPv4;
  if (input.accessIPv6 !== undefined) changes.access_ip_v6 = canonicalIpv6(input.accessIPv6);
  if (input['OS-DCF:diskConfig'] !== undefined) changes.auto_disk_config = input['OS-DCF:diskConfig'] === 'AUTO';

  const imageId = input.imageRef.split('/').pop()!;
  const image = await visibleImage(ctx, caller, imageId);
  if (!image) throw badRequest('Cannot find image for rebuild');
  assertImageFitsFlavor(ctx, caller, image, row.flavor);
  const limits = await effectiveQuotas(ctx, row.project_id, row.user_id);
  if (input.metadata !== undefined) {
    assertMetadataQuota(limits.metadata_items, input.metadata);
    changes.metadata = input.metadata;
  }
  const files = microversion.atLeast('2.57') ? [] : (input.personality ?? []).map((f) => ({ path: f.path ?? '', contents: f.contents ?? '' }));

  const origImageRef = row.image_ref ?? '';
  const adminPass = input.adminPass ?? generatePassword();
  const updated = await store.updateInstance(
    ctx.db,
    row.uuid,
    {
      ...changes,
      task_state: 'rebuilding',
      image_ref: image.id,
      image_meta: imageMetaOf(image),
      system_metadata: { ...row.system_metadata, image_base_image_ref: image.id },
      progress: 0,
    },
    { taskStates: [null], vmStates: ['active', 'stopped', 'error'] },
  );
  if (!updated) {
    const now = await store.getInstance(ctx.db, row.uuid);
    throw invalidState('rebuild', row.uuid, 'task_state', now?.task_state ?? null);
  }
  await store.recordAction(ctx.db, { uuid: row.uuid, action: 'rebuild', requestId, userId: caller.userId, projectId: caller.projectId });

  // The row as the conductor reads it (the same table, the conductor's names for its fields).
  const asConductorRow = updated as unknown as ConductorRow;
  await computeClient(ctx.bus, updated.host!).cast('rebuild_instance', {
    request_id: requestId,
    instance: { ...instanceSpecOf(asConductorRow), vm_state: updated.vm_state as VmState, task_state: updated.task_state as TaskState | null },
    image: messageImageMeta(asConductorRow, await imageEndpoint(ctx.db), await callerAgentToken(ctx, caller)),
    orig_image_ref: origImageRef,
    network_info: [],
    block_device_info: blockDeviceInfoOf(flavorOf(asConductorRow)),
    admin_password: adminPass,
    injected_files: files,
    preserve_ephemeral: input.preserve_ephemeral !== undefined && parseBool(input.preserve_ephemeral) === true,
  });
  return { row: updated, adminPass };
}
