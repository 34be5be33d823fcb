/**
 * Remote consoles (Nova's remote_consoles.py and console_auth_tokens.py):
 * a console is a one-time token the API's console proxy (proxy.ts) accepts
 * once, for compute.console_token_ttl seconds, to reach the guest's vnc or
 * serial console through the agent of its host (get_console_target).
 */
import { randomBytes } from 'node:crypto';
import { computeClient, type ConsoleTarget } from '../../../compute-driver/rpc.ts';
import type { ConsoleKind } from '../../../compute-driver/driver.ts';
import { BusRemoteError, BusTimeoutError } from '../../../lib/bus/bus.ts';
import { badRequest, conflict, notFound, notImplemented, unauthorized } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { instanceTarget } from '../servers/access.ts';
import type { InstanceRow } from '../servers/store.ts';
import * as store from './store.ts';

/** The console types Nubo serves, with the protocol each belongs to and the driver's console kind. */
const SERVED: Record<string, { protocol: string; kind: ConsoleKind }> = {
  novnc: { protocol: 'vnc', kind: 'vnc' },
  serial: { protocol: 'serial', kind: 'serial' },
};

/** Nova's protocol → types (remote_consoles.py handlers; mks from 2.8 is not served). */
const PROTOCOL_TYPES: Record<string, string[]> = {
  vnc: ['novnc', 'xvpvnc'],
  spice: ['spice-html5'],
  rdp: ['rdp-html5'],
  serial: ['serial'],
};

/** How long the API waits for the agent's get_console_target. */
const TARGET_TIMEOUT_MS = 30_000;

const consoleTypeUnavailable = (type: string) => badRequest(`Unavailable console type ${type}.`);

export interface RemoteConsole {
  protocol: string;
  type: string;
  url: string;
}

/** The proxy's base URL, as clients reach it. */
export function consoleBaseUrl(ctx: ComputeContext): string {
  const configured = ctx.config['compute.console_base_url'];
  if (configured) return configured.replace(/\/+$/, '');
  const host = ctx.config['api.public_host'] || ctx.config['api.host'];
  return `http://${host}:${ctx.config['compute.console_port']}`;
}

/** What clients open: the noVNC page with the WebSocket path (as Nova's novncproxy_base_url), or the serial WebSocket. */
function consoleUrl(ctx: ComputeContext, type: string, token: string): string {
  const base = consoleBaseUrl(ctx);
  if (type === 'novnc') return `${base}/vnc_lite.html?path=${encodeURIComponent(`?token=${token}`)}`;
  return `${base.replace(/^http/, 'ws')}/?token=${token}`;
}

async function askTarget(ctx: ComputeContext, row: InstanceRow, type: string, kind: ConsoleKind): Promise<ConsoleTarget> {
  try {
    return await computeClient(ctx.bus, row.host!).call('get_console_target', { instance: { uuid: row.uuid, name: instanceTarget(row).name }, kind }, { timeoutMs: TARGET_TIMEOUT_MS });
  } catch (e) {
    if (e instanceof BusRemoteError) {
      if (e.remoteName === 'InstanceNotFound') throw notFound(`Instance ${row.uuid} could not be found.`);
      if (e.remoteName === 'ConsoleTypeUnavailable') throw consoleTypeUnavailable(type);
      if (e.remoteName === 'NotSupported') throw notImplemented('Unable to get console');
    }
    if (e instanceof BusTimeoutError) throw conflict(`Instance ${row.uuid} is not ready`);
    throw e;
  }
}

/**
 * Makes a console of `type` for the server: policy os-remote-consoles, 400
 * for a type that does not go with the protocol or that Nubo does not serve,
 * 409 unless the server is active on a host, then the agent's target and a
 * new token.
 */
export async function createRemoteConsole(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, protocol: string, type: string): Promise<RemoteConsole> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-remote-consoles', { project_id: row.project_id });
  if (!PROTOCOL_TYPES[protocol]?.includes(type)) throw badRequest(`Invalid console type ${type} for protocol ${protocol}.`);
  const served = SERVED[type];
  if (!served) throw consoleTypeUnavailable(type);
  if (row.vm_state !== 'active' || !row.host) throw conflict(`Instance ${row.uuid} is not ready`);
  const target = await askTarget(ctx, row, type, served.kind);
  const token = randomBytes(32).toString('base64url');
  await store.deleteExpired(ctx.db);
  await store.insertToken(ctx.db, token, {
    console_type: type,
    host: target.host,
    port: target.port,
    internal_access_path: target.secret,
    instance_uuid: row.uuid,
    compute_host: row.host,
    expires: new Date(Date.now() + ctx.config['compute.console_token_ttl'] * 1000),
  });
  return { protocol, type, url: consoleUrl(ctx, type, token) };
}

/**
 * GET /os-console-auth-tokens/{token} (admins): where an unused, unexpired
 * token leads. Before 2.31 only rdp-html5 tokens may be shown (Nova's 401),
 * which Nubo never makes. The agent's secret is not shown.
 */
export async function showConsoleToken(ctx: ComputeContext, caller: ComputeCaller, token: string, anyType: boolean) {
  authorizeCompute(ctx, caller, 'os_compute_api:os-console-auth-tokens', {});
  const row = token ? await store.findToken(ctx.db, token) : undefined;
  if (!row) throw notFound('Token not found');
  if (!anyType && row.console_type !== 'rdp-html5') throw unauthorized('The requested console type details are not accessible');
  return { instance_uuid: row.instance_uuid, host: row.host, port: row.port, internal_access_path: null };
}
