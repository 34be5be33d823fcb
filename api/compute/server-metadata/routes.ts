import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { authorizeCompute, callerOf, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { effectiveQuotas } from '../quotas/service.ts';
import { assertMetadataQuota } from '../servers/create.ts';
import { assertNotLocked, assertState, findServer, type StateCheck } from '../servers/access.ts';
import * as store from '../servers/store.ts';
import type { InstanceRow } from '../servers/store.ts';

type ServerParams = { server_id: string };
type KeyParams = { server_id: string; key: string };

const itemNotFound = () => notFound('Metadata item was not found');

/** The states Nova lets metadata change in (update_instance_metadata): active, paused, suspended or stopped, whatever the task. */
const METADATA_STATES: StateCheck = { vmStates: ['active', 'paused', 'suspended', 'stopped'], taskStates: 'any' };

/**
 * Nova's update_instance_metadata: locked servers refuse (409 unless
 * admin), as do servers in other states; the result must fit the
 * metadata_items quota (403). `replace` drops the keys not given.
 */
async function changeMetadata(
  ctx: ComputeContext,
  caller: ComputeCaller,
  row: InstanceRow,
  action: string,
  metadata: Record<string, string>,
  replace: boolean,
): Promise<Record<string, string>> {
  assertNotLocked(caller, row);
  assertState(action, row, METADATA_STATES);
  const next = replace ? { ...metadata } : { ...row.metadata, ...metadata };
  assertMetadataQuota((await effectiveQuotas(ctx, row.project_id, row.user_id)).metadata_items, next);
  await store.updateInstance(ctx.db, row.uuid, { metadata: next });
  return next;
}

/** /servers/{id}/metadata[/{key}]: a server's key/value metadata (Nova's ServerMetadataController). */
export function registerServerMetadataRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const server = async (request: { params: ServerParams }, caller: ComputeCaller, rule: string) => {
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, `os_compute_api:server-metadata:${rule}`, { project_id: row.project_id });
    return row;
  };

  app.get<{ Params: ServerParams }>('/servers/:server_id/metadata', async (request) => {
    const caller = callerOf(request, ctx);
    return { metadata: (await server(request, caller, 'index')).metadata };
  });

  // Adds or replaces the keys given (200, as Nova).
  app.post<{ Params: ServerParams }>('/servers/:server_id/metadata', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('ServerMetadataRequest', request.body);
    const row = await server(request, caller, 'create');
    return { metadata: await changeMetadata(ctx, caller, row, 'update metadata', (request.body as { metadata: Record<string, string> }).metadata, false) };
  });

  // Replaces all of it.
  app.put<{ Params: ServerParams }>('/servers/:server_id/metadata', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('ServerMetadataRequest', request.body);
    const row = await server(request, caller, 'update_all');
    return { metadata: await changeMetadata(ctx, caller, row, 'update metadata', (request.body as { metadata: Record<string, string> }).metadata, true) };
  });

  app.get<{ Params: KeyParams }>('/servers/:server_id/metadata/:key', async (request) => {
    const caller = callerOf(request, ctx);
    const row = await server(request, caller, 'show');
    if (!Object.hasOwn(row.metadata, request.params.key)) throw itemNotFound();
    return { meta: { [request.params.key]: row.metadata[request.params.key] } };
  });

  app.put<{ Params: KeyParams }>('/servers/:server_id/metadata/:key', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('ServerMetaItemRequest', request.body);
    const row = await server(request, caller, 'update');
    const meta = (request.body as { meta: Record<string, string> }).meta;
    if (!Object.hasOwn(meta, request.params.key)) throw badRequest('Request body and URI mismatch');
    await changeMetadata(ctx, caller, row, 'update metadata', meta, false);
    return { meta };
  });

  app.delete<{ Params: KeyParams }>('/servers/:server_id/metadata/:key', async (request, reply) => {
    const caller = callerOf(request, ctx);
    const row = await server(request, caller, 'delete');
    if (!Object.hasOwn(row.metadata, request.params.key)) throw itemNotFound();
    assertNotLocked(caller, row);
    assertState('delete metadata', row, METADATA_STATES);
    const { [request.params.key]: _removed, ...rest } = row.metadata;
    await store.updateInstance(ctx.db, row.uuid, { metadata: rest });
    return reply.code(204).send();
  });
}
