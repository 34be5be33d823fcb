/**
 * The fake driver's remote consoles: one unix-socket server per guest and
 * kind, so that a console reached through the proxy and the agent is real end
 * to end. vnc goes through an RFB 3.8 server's handshake (version, security
 * type None, ServerInit of a 640x480 desktop named after nothing in
 * particular) and then ignores what it is sent; serial echoes every byte back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsoleKind } from '../../driver.ts';

export const RFB_GREETING = 'RFB 003.008\n';

/** ServerInit: 640x480, 32 bpp true colour, the name `fake`. */
function serverInit(): Buffer {
  const name = Buffer.from('fake');
  const b = Buffer.alloc(24 + name.length);
  b.writeUInt16BE(640, 0);
  b.writeUInt16BE(480, 2);
  Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]).copy(b, 4);
  b.writeUInt32BE(name.length, 20);
  name.copy(b, 24);
  return b;
}

/** The server side of the RFB 3.8 handshake, one message per step (as a client reads them). */
function speakRfb(socket: Socket): void {
  socket.write(RFB_GREETING);
  let buffered = Buffer.alloc(0);
  let step = 0;
  /** Bytes each step waits for from the client: its version, its security type, ClientInit. */
  const needs = [12, 1, 1];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (step < needs.length && buffered.length >= needs[step]) {
      buffered = buffered.subarray(needs[step]);
      socket.write([Buffer.from([1, 1]), Buffer.alloc(4), serverInit()][step]);
      step++;
    }
    if (step >= needs.length) buffered = Buffer.alloc(0);
  });
}

export class FakeConsoles {
  private dir: string | null = null;
  private readonly servers = new Map<string, { server: Server; path: string; sockets: Set<Socket> }>();

  /** The socket of `uuid`'s `kind` console, listening from now on. */
  async socket(uuid: string, kind: ConsoleKind): Promise<string> {
    const key = `${uuid}-${kind}`;
    const open = this.servers.get(key);
    if (open) return open.path;
    this.dir ??= mkdtempSync(join(tmpdir(), 'nubo-fake-console-'));
    const path = join(this.dir, `${key}.sock`);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      if (kind === 'vnc') {
        speakRfb(socket);
      } else {
        socket.pipe(socket);
      }
    });
    this.servers.set(key, { server, path, sockets });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return path;
  }

  /** Closes `uuid`'s consoles (the guest is gone). */
  async close(uuid: string): Promise<void> {
    await Promise.all([...this.servers.keys()].filter((k) => k.startsWith(`${uuid}-`)).map((k) => this.closeOne(k)));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((k) => this.closeOne(k)));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private async closeOne(key: string): Promise<void> {
    const entry = this.servers.get(key);
    if (!entry) return;
    this.servers.delete(key);
    for (const s of entry.sockets) s.destroy();
    await new Promise<void>((resolve) => entry.server.close(() => resolve()));
  }
}
