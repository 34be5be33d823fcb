/**
 * The console proxy (Nova's nova-novncproxy and nova-serialproxy in one),
 * served by the API process on compute.console_port:
 * - GET /vnc_lite.html, /vnc.html: the console page (page.ts), and noVNC's
 *   files under /core/ and /vendor/ from the npm package @novnc/novnc (404
 *   when it is not installed);
 * - a WebSocket on any path with `?token=` (Nova's /?token= and noVNC's
 *   websockify path): the token is used up in the database, then the proxy
 *   connects to the compute agent's console listener, sends the agent's
 *   one-time secret, and pipes bytes both ways. A browser's Origin must be
 *   this host or an allowed one (origin.ts).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createConnection, type Socket } from 'node:net';
import { dirname, extname, join, normalize, sep } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Db } from '../../../lib/db/index.ts';
import type { Logger } from '../../../lib/log.ts';
import { originProblem, parseAllowedOrigins } from './origin.ts';
import { CONSOLE_PAGE } from './page.ts';
import { consumeToken } from './store.ts';
import { acceptWebSocket, refuseUpgrade, upgradeProblem } from './websocket.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
};

/** The directory of the installed @novnc/novnc, or null. */
export function novncDir(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve('@novnc/novnc/package.json'));
  } catch {
    return null;
  }
}

/** How long the proxy waits to reach the agent. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface ConsoleProxyOptions {
  db: Db;
  logger: Logger;
  /** Where noVNC's files are (default: the installed @novnc/novnc); null serves none. */
  novnc?: string | null;
  /** compute.console_allowed_origins: other host names a browser page may connect from. */
  allowedOrigins?: string;
}

export function createConsoleProxyApp(opts: ConsoleProxyOptions): FastifyInstance {
  const log = opts.logger.child({ component: 'console-proxy' });
  const allowedOrigins = parseAllowedOrigins(opts.allowedOrigins ?? '');
  const novnc = opts.novnc === undefined ? novncDir() : opts.novnc;
  // Console connections are long-lived: close() ends them (and any kept-alive page request) rather than waiting.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const sockets = new Set<Duplex | Socket>();
  const track = (s: Duplex | Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  const page = async (_req: unknown, reply: { type(t: string): { send(b: string): unknown } }) => reply.type('text/html; charset=utf-8').send(CONSOLE_PAGE);
  app.get('/vnc_lite.html', page);
  app.get('/vnc.html', page);
  for (const dir of ['core', 'vendor']) {
    app.get<{ Params: { '*': string } }>(`/${dir}/*`, async (request, reply) => {
      if (!novnc) return reply.code(404).type('text/plain').send('noVNC is not installed (npm install @novnc/novnc)');
      const root = join(novnc, dir);
      const file = normalize(join(root, request.params['*']));
      if (!file.startsWith(root + sep)) return reply.code(404).send();
      try {
        const body = await readFile(file);
        return reply.type(CONTENT_TYPES[extname(file)] ?? 'application/octet-stream').send(body);
      } catch {
        return reply.code(404).type('text/plain').send('Not found');
      }
    });
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    track(socket);
    socket.on('error', () => socket.destroy());
    const problem = upgradeProblem(req);
    if (problem) return refuseUpgrade(socket, 400, 'Bad Request');
    const badOrigin = originProblem(req, allowedOrigins);
    if (badOrigin) {
      log.warn({ remote: req.socket.remoteAddress, origin: req.headers.origin }, `console connection refused: ${badOrigin}`);
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    const token = new URL(req.url ?? '/', 'http://proxy').searchParams.get('token');
    const row = token ? await consumeToken(opts.db, token) : undefined;
    if (!row) {
      log.info({ remote: req.socket.remoteAddress }, 'console connection with an invalid or used token refused');
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    const target = createConnection({ host: row.host, port: row.port });
    track(target);
    const connected = await new Promise<boolean>((resolve) => {
      target.setTimeout(CONNECT_TIMEOUT_MS, () => resolve(false));
      target.once('connect', () => resolve(true));
      target.once('error', () => resolve(false));
    });
    target.setTimeout(0);
    if (!connected || socket.destroyed) {
      log.warn({ uuid: row.instance_uuid, host: row.host, port: row.port }, 'console proxy could not reach the compute agent');
      target.destroy();
      return refuseUpgrade(socket, 502, 'Bad Gateway');
    }
    target.write(`${row.internal_access_path ?? ''}\n`);
    const ws = acceptWebSocket(req, socket, head, {
      message: (data) => {
        if (!target.write(data)) ws.pause();
      },
      close: () => target.destroy(),
    });
    target.on('drain', () => ws.resume());
    target.on('data', (data: Buffer) => {
      if (!ws.send(data)) target.pause();
    });
    ws.onDrain(() => target.resume());
    target.on('close', () => ws.close(1000));
    target.on('error', () => target.destroy());
    log.info({ uuid: row.instance_uuid, type: row.console_type }, 'console connected');
  }

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch((err) => {
      log.error({ err }, 'console proxy failed');
      if (!socket.destroyed) refuseUpgrade(socket, 500, 'Internal Server Error');
    });
  });
  app.addHook('preClose', async () => {
    for (const s of sockets) s.destroy();
  });
  return app;
}
