import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../../lib/errors.ts';
import { callerOf, type ComputeCaller } from '../caller.ts';
import { consoleActions } from '../consoles/routes.ts';
import type { ComputeContext } from '../context.ts';
import { findServer } from '../servers/access.ts';
import { changeAnswerFlags, schemaFor, serverViews } from '../servers/routes.ts';
import { deleteServer } from '../servers/service.ts';
import type { InstanceRow } from '../servers/store.ts';
import { rebuildServer, type RebuildInput } from './rebuild.ts';
import {
  consoleOutput,
  lockServer,
  rebootAction,
  resetState,
  restoreServer,
  runTaskAction,
  TASK_ACTIONS,
  unlockServer,
} from './service.ts';
import { confirmResize, moveServer, revertResize } from './resize.ts';
import { createServerImage, imageLocation, imageServiceUrl } from './snapshot.ts';

type IdParams = { server_id: string };

const REBUILD_SCHEMAS = [
  ['2.1', 'ServerRebuildRequest'],
  ['2.19', 'ServerRebuildRequestV219'],
  ['2.54', 'ServerRebuildRequestV254'],
  ['2.57', 'ServerRebuildRequestV257'],
  ['2.63', 'ServerRebuildRequestV263'],
  ['2.90', 'ServerRebuildRequestV290'],
] as const;

interface ActionContext {
  request: FastifyRequest;
  reply: FastifyReply;
  caller: ComputeCaller;
  body: Record<string, any>;
  /** The server, looked up once the body passed validation (as Nova validates first). */
  server(): Promise<InstanceRow>;
}

type ActionHandler = (a: ActionContext) => Promise<unknown>;

/** An action that answers 202 with no body. */
const accepted = (fn: (a: ActionContext) => Promise<unknown> | unknown): ActionHandler => async (a) => {
  await fn(a);
  return a.reply.code(202).send();
};

/** POST /servers/{id}/action: one key naming the action (Nova's wsgi actions of servers, admin actions, lock, pause…). */
export function registerServerActionRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const validate = (schema: string) => (a: ActionContext) => ctx.validate(schema, a.body);

  const actions: Record<string, ActionHandler> = {
    reboot: accepted(async (a) => {
      validate('ServerRebootRequest')(a);
      const type = String(a.body.reboot.type).toUpperCase() as 'SOFT' | 'HARD';
      await runTaskAction(ctx, a.caller, await a.server(), rebootAction(type), a.request.id);
    }),
    ...Object.fromEntries(
      Object.entries(TASK_ACTIONS).map(([name, def]) => [name, accepted(async (a) => runTaskAction(ctx, a.caller, await a.server(), def, a.request.id))]),
    ),
    lock: accepted(async (a) => {
      let reason: string | null = null;
      if (a.request.microversion.atLeast('2.73')) {
        validate('ServerLockRequestV273')(a);
        reason = a.body.lock?.locked_reason ?? null;
      }
      await lockServer(ctx, a.caller, await a.server(), reason, a.request.id);
    }),
    unlock: accepted(async (a) => unlockServer(ctx, a.caller, await a.server(), a.request.id)),
    'os-resetState': accepted(async (a) => {
      validate('ServerResetStateRequest')(a);
      await resetState(ctx, a.caller, await a.server(), a.body['os-resetState'].state, a.request.id);
    }),
    'os-getConsoleOutput': async (a) => {
      validate('ServerConsoleOutputRequest')(a);
      const raw = a.body['os-getConsoleOutput'].length;
      const output = await consoleOutput(ctx, a.caller, await a.server(), raw === undefined || raw === null ? null : Number(raw));
      return { output };
    },
    rebuild: async (a) => {
      ctx.validate(schemaFor(a.request, REBUILD_SCHEMAS), a.body);
      const { row, adminPass } = await rebuildServer(ctx, a.caller, await a.server(), a.body.rebuild as RebuildInput, a.request.microversion, a.request.id);
      const v = a.request.microversion;
      const flags = { ...changeAnswerFlags(a.request), showKeypair: v.atLeast('2.54'), showUserData: false };
      const [server] = await serverViews(ctx, a.caller, a.request, [row], flags);
      server.adminPass = adminPass;
      if (v.atLeast('2.57')) server.user_data = row.user_data;
      a.reply.header('location', (server.links as { href: string }[])[0].href);
      return a.reply.code(202).send({ server });
    },
    createImage: async (a) => {
      validate('ServerCreateImageRequest')(a);
      const imageBase = await imageServiceUrl(ctx, `${a.request.protocol}://${a.request.hostname}:${ctx.config['image.port']}`);
      const image = await createServerImage(ctx, a.caller, await a.server(), a.body.createImage, a.request.microversion, a.request.id, imageBase);
      if (a.request.microversion.atLeast('2.45')) return a.reply.code(202).send({ image_id: image.id });
      a.reply.header('location', imageLocation(imageBase, image.id));
      return a.reply.code(202).send();
    },
    resize: accepted(async (a) => {
      validate('ServerResizeRequest')(a);
      const { flavorRef, 'OS-DCF:diskConfig': diskConfig } = a.body.resize;
      await moveServer(ctx, a.caller, await a.server(), String(flavorRef), diskConfig, a.request.id);
    }),
    migrate: accepted(async (a) => {
      const body = a.body.migrate;
      if (body !== null && (typeof body !== 'object' || Array.isArray(body) || Object.keys(body).some((k) => k !== 'host'))) {
        throw badRequest("Invalid input for field/attribute migrate. Value: must be null or an object with 'host'");
      }
      if (body?.host) throw badRequest('Migrating to a requested host is not supported.');
      await moveServer(ctx, a.caller, await a.server(), null, undefined, a.request.id);
    }),
    confirmResize: async (a) => {
      await confirmResize(ctx, a.caller, await a.server(), a.request.id);
      return a.reply.code(204).send();
    },
    revertResize: accepted(async (a) => revertResize(ctx, a.caller, await a.server(), a.request.id)),
    forceDelete: accepted(async (a) => deleteServer(ctx, a.caller, await a.server(), 'os_compute_api:os-deferred-delete:force', a.request.id)),
    restore: accepted(async (a) => restoreServer(ctx, a.caller, await a.server())),
    ...consoleActions(ctx),
  };

  app.post<{ Params: IdParams }>('/servers/:server_id/action', async (request, reply) => {
    const caller = callerOf(request, ctx);
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length !== 1) throw badRequest('Malformed request body');
    const name = Object.keys(body)[0];
    const handler = Object.hasOwn(actions, name) ? actions[name] : undefined;
    if (!handler) throw badRequest(`There is no such action: ${name}`);
    return handler({ request, reply, caller, body: body as Record<string, any>, server: () => findServer(ctx, caller, request.params.server_id) });
  });
}
