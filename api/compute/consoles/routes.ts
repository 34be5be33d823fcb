import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callerOf, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { findServer } from '../servers/access.ts';
import type { InstanceRow } from '../servers/store.ts';
import { versionNotFound } from '../services/state.ts';
import { createRemoteConsole, showConsoleToken } from './service.ts';

/** POST /servers/{id}/remote-consoles (2.6 on) and GET /os-console-auth-tokens/{token} (admins). */
export function registerConsoleRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.post<{ Params: { server_id: string } }>('/servers/:server_id/remote-consoles', async (request) => {
    if (!request.microversion.atLeast('2.6')) throw versionNotFound();
    ctx.validate('RemoteConsoleCreateRequest', request.body);
    const { protocol, type } = (request.body as { remote_console: { protocol: string; type: string } }).remote_console;
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    return { remote_console: await createRemoteConsole(ctx, caller, row, protocol, type) };
  });

  app.get<{ Params: { token: string } }>('/os-console-auth-tokens/:token', async (request) => {
    const caller = callerOf(request, ctx);
    return { console: await showConsoleToken(ctx, caller, request.params.token, request.microversion.atLeast('2.31')) };
  });
}

/** What a server action handler is given (server-actions/routes.ts). */
interface ConsoleActionContext {
  request: FastifyRequest;
  caller: ComputeCaller;
  body: Record<string, any>;
  server(): Promise<InstanceRow>;
}

/**
 * The console actions of POST /servers/{id}/action, up to 2.5 (then
 * remote-consoles): os-getVNCConsole, os-getSerialConsole, and
 * os-getSPICEConsole / os-getRDPConsole, which Nubo's drivers never offer
 * (400 ConsoleTypeUnavailable once the server and policy are checked).
 */
export function consoleActions(ctx: ComputeContext): Record<string, (a: ConsoleActionContext) => Promise<unknown>> {
  const action = (name: string, schema: string, protocol: string) => async (a: ConsoleActionContext) => {
    if (a.request.microversion.atLeast('2.6')) throw versionNotFound();
    ctx.validate(schema, a.body);
    const type = String(a.body[name].type);
    const console = await createRemoteConsole(ctx, a.caller, await a.server(), protocol, type);
    return { console: { type: console.type, url: console.url } };
  };
  return {
    'os-getVNCConsole': action('os-getVNCConsole', 'ServerGetVNCConsoleRequest', 'vnc'),
    'os-getSerialConsole': action('os-getSerialConsole', 'ServerGetSerialConsoleRequest', 'serial'),
    'os-getSPICEConsole': action('os-getSPICEConsole', 'ServerGetSPICEConsoleRequest', 'spice'),
    'os-getRDPConsole': action('os-getRDPConsole', 'ServerGetRDPConsoleRequest', 'rdp'),
  };
}
