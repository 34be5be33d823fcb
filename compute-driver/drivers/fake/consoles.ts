/**
 * The fake driver's remote consoles: one unix-socket server per guest and
 * kind, so that a console reached through the proxy and the agent is real end
 * to end. vnc greets as an RFB 3.8 server does (`RFB 003.008\n`) and then
 * ignores what it is sent; serial echoes every byte back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsoleKind } from '../../driver.ts';

export const RFB_GREETING = 'RFB 003.008\n';

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
        socket.write(RFB_GREETING);
        socket.resume();
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
