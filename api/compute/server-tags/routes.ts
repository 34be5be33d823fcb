import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { authorizeCompute, callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { apiBase } from '../query.ts';
import { assertState, findServer } from '../servers/access.ts';
import * as store from '../servers/store.ts';
import type { InstanceRow } from '../servers/store.ts';
import { versionNotFound } from '../services/state.ts';

type ServerParams = { server_id: string };
type TagParams = { server_id: string; tag: string };

/** nova/objects/instance.py MAX_TAG_COUNT and nova/objects/tag.py MAX_TAG_LENGTH. */
export const MAX_TAG_COUNT = 50;
const MAX_TAG_LENGTH = 60;

/** Tags change only on active, paused, suspended or stopped servers (Nova's _check_instance_in_valid_state). */
const TAG_STATES = { vmStates: ['active', 'paused', 'suspended', 'stopped'], taskStates: 'any', mustHaveLaunched: false } as const;

function tagError(tag: string): string | undefined {
  if (tag.length < 1) return `'${tag}' is too short`;
  if (tag.length > MAX_TAG_LENGTH) return `'${tag}' is too long`;
  if (/[,/]/.test(tag)) return `'${tag}' does not match '^[^,/]*$'`;
  return undefined;
}

/** /servers/{id}/tags[/{tag}] from 2.26 (Nova's ServerTagsController). */
export function registerServerTagRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const server = async (request: FastifyRequest<{ Params: ServerParams }>, rule: string, changeAction?: string): Promise<InstanceRow> => {
    if (!request.microversion.atLeast('2.26')) throw versionNotFound();
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, `os_compute_api:os-server-tags:${rule}`, { project_id: row.project_id });
    if (changeAction) assertState(changeAction, row, TAG_STATES);
    return row;
  };
  const setTags = (row: InstanceRow, tags: string[]) => store.updateInstance(ctx.db, row.uuid, { tags });

  app.get<{ Params: ServerParams }>('/servers/:server_id/tags', async (request) => ({ tags: (await server(request, 'index')).tags }));

  app.put<{ Params: ServerParams }>('/servers/:server_id/tags', async (request) => {
    if (request.microversion.atLeast('2.26')) ctx.validate('ServerTagsRequest', request.body);
    const row = await server(request, 'update_all', 'update tags');
    const tags = [...new Set((request.body as { tags: string[] }).tags)];
    await setTags(row, tags);
    return { tags };
  });

  app.delete<{ Params: ServerParams }>('/servers/:server_id/tags', async (request, reply) => {
    await setTags(await server(request, 'delete_all', 'delete tags'), []);
    return reply.code(204).send();
  });

  app.get<{ Params: TagParams }>('/servers/:server_id/tags/:tag', async (request, reply) => {
    const row = await server(request, 'show');
    if (!row.tags.includes(request.params.tag)) throw notFound(`Server ${request.params.server_id} has no tag '${request.params.tag}'`);
    return reply.code(204).send();
  });

  app.put<{ Params: TagParams }>('/servers/:server_id/tags/:tag', async (request, reply) => {
    const row = await server(request, 'update', 'update tag');
    const tag = request.params.tag;
    const error = tagError(tag);
    if (error) {
      throw badRequest(`Tag '${tag}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: ${error}`);
    }
    if (row.tags.length >= MAX_TAG_COUNT) throw badRequest(`The number of tags exceeded the per-server limit ${MAX_TAG_COUNT}`);
    if (row.tags.includes(tag)) return reply.code(204).send();
    await setTags(row, [...row.tags, tag]);
    reply.header('location', `${apiBase(request)}/servers/${row.uuid}/tags/${encodeURIComponent(tag)}`);
    return reply.code(201).send();
  });

  app.delete<{ Params: TagParams }>('/servers/:server_id/tags/:tag', async (request, reply) => {
    const row = await server(request, 'delete', 'delete tag');
    if (!row.tags.includes(request.params.tag)) throw notFound(`Instance ${row.uuid} has no tag '${request.params.tag}'`);
    await setTags(
      row,
      row.tags.filter((t) => t !== request.params.tag),
    );
    return reply.code(204).send();
  });
}
