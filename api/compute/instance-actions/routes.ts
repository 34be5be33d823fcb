import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { allowsCompute, authorizeCompute, callerOf, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { novaTime } from '../keypairs/view.ts';
import { collectionLinks, pageOf, queryOf } from '../query.ts';
import { queryTime } from '../servers/list.ts';
import { findServer } from '../servers/access.ts';
import type { InstanceRow } from '../servers/store.ts';
import { hostIdOf } from '../servers/view.ts';
import { getAction, listActions, listEvents, type ActionRow, type EventRow } from './store.ts';

type ServerParams = { server_id: string };
type ActionParams = { server_id: string; request_id: string };

const time = (d: Date | string | null) => (d ? novaTime(new Date(d)) : null);

/** Nova's ACTION_KEYS (and updated_at from 2.58). */
function actionView(request: FastifyRequest, a: ActionRow): Record<string, unknown> {
  const body: Record<string, unknown> = {
    action: a.action,
    instance_uuid: a.instance_uuid,
    request_id: a.request_id,
    user_id: a.user_id,
    project_id: a.project_id,
    start_time: time(a.start_time),
    message: a.message,
  };
  if (request.microversion.atLeast('2.58')) body.updated_at = time(a.updated_at);
  return body;
}

interface EventVisibility {
  traceback: boolean;
  host: boolean;
  hostId: boolean;
  details: boolean;
}

function eventView(e: EventRow, projectId: string, show: EventVisibility): Record<string, unknown> {
  const body: Record<string, unknown> = { event: e.event, start_time: time(e.start_time), finish_time: time(e.finish_time), result: e.result };
  if (show.traceback) body.traceback = e.traceback;
  if (show.host) body.host = e.host;
  if (show.hostId) body.hostId = hostIdOf(e.host, projectId);
  if (show.details) body.details = e.details;
  return body;
}

/** /servers/{id}/os-instance-actions[/{request_id}]: what was done to a server (Nova's InstanceActionsController). */
export function registerInstanceActionRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  /** The server, deleted ones too from 2.21. */
  const server = (request: FastifyRequest<{ Params: ServerParams }>, caller: ComputeCaller): Promise<InstanceRow> =>
    findServer(ctx, caller, request.params.server_id, { readDeleted: request.microversion.atLeast('2.21') });

  app.get<{ Params: ServerParams }>('/servers/:server_id/os-instance-actions', async (request) => {
    const caller = callerOf(request, ctx);
    const v = request.microversion;
    const paged = v.atLeast('2.58');
    const q = queryOf(request);
    if (paged) {
      // From 2.58 the query schema refuses parameters it does not know.
      const known = ['limit', 'marker', 'changes-since', ...(v.atLeast('2.66') ? ['changes-before'] : [])];
      const unknown = Object.keys(q).find((k) => !known.includes(k));
      if (unknown) throw badRequest(`Invalid input for query parameters ${unknown}. Additional properties are not allowed ('${unknown}' was unexpected)`);
    }
    const row = await server(request, caller);
    authorizeCompute(ctx, caller, 'os_compute_api:os-instance-actions:list', { project_id: row.project_id });
    if (!paged) return { instanceActions: (await listActions(ctx.db, row.uuid)).map((a) => actionView(request, a)) };

    const changesSince = queryTime(q, 'changes-since');
    const changesBefore = v.atLeast('2.66') ? queryTime(q, 'changes-before') : undefined;
    if (changesSince && changesBefore && changesBefore < changesSince) {
      throw badRequest('The value of changes-since must be less than or equal to changes-before.');
    }
    const page = pageOf(request, ctx.config['compute.max_limit']);
    let after: ActionRow | undefined;
    if (page.marker !== undefined) {
      after = await getAction(ctx.db, row.uuid, page.marker);
      if (!after) throw badRequest(`Marker ${page.marker} could not be found.`);
    }
    const actions = await listActions(ctx.db, row.uuid, { changesSince, changesBefore, limit: page.limit, after });
    const body: Record<string, unknown> = { instanceActions: actions.map((a) => actionView(request, a)) };
    const links = collectionLinks(request, `servers/${request.params.server_id}/os-instance-actions`, actions.length, actions.at(-1)?.request_id, ctx.config['compute.max_limit']);
    if (links.length) body.links = links;
    return body;
  });

  app.get<{ Params: ActionParams }>('/servers/:server_id/os-instance-actions/:request_id', async (request) => {
    const caller = callerOf(request, ctx);
    const v = request.microversion;
    const row = await server(request, caller);
    const target = { project_id: row.project_id };
    authorizeCompute(ctx, caller, 'os_compute_api:os-instance-actions:show', target);
    const action = await getAction(ctx.db, row.uuid, request.params.request_id);
    if (!action) throw notFound(`Action ${request.params.request_id} not found`);
    const body = actionView(request, action);
    // Events: admins always (with tracebacks, and hosts from 2.62); others from 2.51, without.
    const all = allowsCompute(ctx, caller, 'os_compute_api:os-instance-actions:events', target);
    if (all || v.atLeast('2.51')) {
      const show: EventVisibility = {
        traceback: all,
        host: all && v.atLeast('2.62'),
        hostId: v.atLeast('2.62'),
        details: v.atLeast('2.84') && allowsCompute(ctx, caller, 'os_compute_api:os-instance-actions:events:details', target),
      };
      const projectId = action.project_id ?? row.project_id;
      body.events = (await listEvents(ctx.db, action.id)).map((e) => eventView(e, projectId, show));
    }
    return { instanceAction: body };
  });
}
