/**
 * The agent's console listener: a TCP port the API's console proxy connects
 * to, so that the API needs no access to the compute host's filesystem and
 * nothing unauthenticated reaches a guest's console.
 *
 * get_console_target asks the driver for the console's unix socket and
 * hands out {host, port, secret}; the secret works once, for secretTtlMs. A
 * connection must send its secret and a newline first (within
 * handshakeMs); the listener then connects to the socket and pipes both
 * ways. A wrong, used or expired secret closes the connection.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../lib/log.ts';
import { NotSupported, type ComputeDriver } from '../driver.ts';
import type { ConsoleTarget, GetConsoleTarget } from '../rpc.ts';

export interface ConsoleListenerOptions {
  driver: ComputeDriver;
  log: Logger;
  /** The address to listen on (compute.console_listen). Default 127.0.0.1. */
  listen?: string;
  /** The port (compute.console_listen_port); 0 picks a free one. Default 0. */
  port?: number;
  /** The address the proxy connects to (compute.console_proxyclient_address); `listen` when empty. */
  address?: string;
  /** How long a secret stays usable. Default 60 s. */
  secretTtlMs?: number;
  /** How long a connection may take to send its secret. Default 10 s. */
  handshakeMs?: number;
}

export interface ConsoleListener {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The get_console_target call. */
  target(args: GetConsoleTarget): Promise<ConsoleTarget>;
}

/** The longest line a secret comes in (64 hex characters and a newline, with room). */
const MAX_SECRET_LINE = 256;

export function createConsoleListener(opts: ConsoleListenerOptions): ConsoleListener {
  const { driver, log } = opts;
  const listen = opts.listen || '127.0.0.1';
  const secretTtlMs = opts.secretTtlMs ?? 60_000;
  const handshakeMs = opts.handshakeMs ?? 10_000;
  const secrets = new Map<string, { path: string; uuid: string; kind: string; expires: number }>();
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;

  const forget = () => {
    const now = Date.now();
    for (const [s, e] of secrets) if (e.expires <= now) secrets.delete(s);
  };

  function accept(client: Socket): void {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.setTimeout(handshakeMs, () => client.destroy());
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl < 0) {
        if (buffered.length > MAX_SECRET_LINE) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      client.setTimeout(0);
      const secret = buffered.subarray(0, nl).toString('latin1').trim();
      const rest = buffered.subarray(nl + 1);
      const entry = secrets.get(secret);
      secrets.delete(secret);
      if (!entry || entry.expires <= Date.now()) {
        log.warn({ remote: client.remoteAddress }, 'console connection with an unknown or expired secret refused');
        client.destroy();
        return;
      }
      const guest = createConnection(entry.path);
      sockets.add(guest);
      guest.on('close', () => {
        sockets.delete(guest);
        client.destroy();
      });
      guest.on('error', (err) => {
        log.warn({ err, uuid: entry.uuid, kind: entry.kind }, 'console socket of the guest failed');
        client.destroy();
      });
      client.on('close', () => guest.destroy());
      guest.once('connect', () => {
        log.info({ uuid: entry.uuid, kind: entry.kind }, 'console connected');
        if (rest.length) guest.write(rest);
        client.pipe(guest);
        guest.pipe(client);
        client.resume();
      });
    };
    client.on('data', onData);
  }

  return {
    async start() {
      const s = createServer(accept);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(opts.port ?? 0, listen, () => resolve());
      });
      server = s;
      port = (s.address() as { port: number }).port;
      log.info({ listen, port }, 'console listener started');
    },

    async stop() {
      const s = server;
      server = null;
      secrets.clear();
      for (const socket of sockets) socket.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },

    async target({ instance, kind }) {
      if (!driver.consoleSocket) throw new NotSupported('Remote consoles');
      if (!server) throw new Error('the console listener is not running');
      const path = await driver.consoleSocket(instance, kind);
      forget();
      const secret = randomBytes(32).toString('hex');
      secrets.set(secret, { path, uuid: instance.uuid, kind, expires: Date.now() + secretTtlMs });
      return { host: opts.address || listen, port, secret };
    },
  };
}
