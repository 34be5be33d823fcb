/**
 * A minimal WebSocket client for tests (Node 20 has none): the handshake
 * with Sec-WebSocket-Accept checked, masked binary frames out, frames in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

export interface TestWebSocket {
  /** The subprotocol the server chose. */
  protocol: string | undefined;
  send(data: Buffer | string, opcode?: number): void;
  /** The next data frame's payload (pings are answered by the server side, not here); rejects on close or after timeoutMs. */
  next(timeoutMs?: number): Promise<Buffer>;
  /** Waits for `n` bytes of data frames in all. */
  read(n: number, timeoutMs?: number): Promise<Buffer>;
  /** Next frame of any kind: opcode and payload. */
  frame(timeoutMs?: number): Promise<{ opcode: number; payload: Buffer }>;
  close(): void;
  socket: Socket;
}

export type Connected = { ok: true; ws: TestWebSocket } | { ok: false; status: number; body: string };

function encode(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

export function connectWebSocket(url: string, protocols: string[] = ['binary'], headers: Record<string, string> = {}): Promise<Connected> {
  const u = new URL(url.replace(/^ws/, 'http'));
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': protocols.join(', '), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const expected = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (res.headers['sec-websocket-accept'] !== expected) return reject(new Error('bad Sec-WebSocket-Accept'));
      let buffered = Buffer.from(head);
      let closed = false;
      const waiters: (() => void)[] = [];
      const wake = () => waiters.splice(0).forEach((w) => w());
      socket.on('data', (c: Buffer) => {
        buffered = Buffer.concat([buffered, c]);
        wake();
      });
      socket.on('close', () => {
        closed = true;
        wake();
      });
      const take = (): { opcode: number; payload: Buffer } | null => {
        if (buffered.length < 2) return null;
        let len = buffered[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buffered.length < 4) return null;
          len = buffered.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buffered.length < 10) return null;
          len = Number(buffered.readBigUInt64BE(2));
          off = 10;
        }
        if (buffered.length < off + len) return null;
        const f = { opcode: buffered[0] & 0x0f, payload: Buffer.from(buffered.subarray(off, off + len)) };
        buffered = buffered.subarray(off + len);
        return f;
      };
      const frame = async (timeoutMs = 10_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const f = take();
          if (f) return f;
          if (closed) throw new Error('websocket closed');
          if (Date.now() > deadline) throw new Error('no websocket frame in time');
          await new Promise<void>((r) => {
            const t = setTimeout(r, 100);
            waiters.push(() => {
              clearTimeout(t);
              r();
            });
          });
        }
      };
      const next = async (timeoutMs?: number) => {
        for (;;) {
          const f = await frame(timeoutMs);
          if (f.opcode <= 2) return f.payload;
          if (f.opcode === 8) throw new Error('websocket closed by the server');
        }
      };
      const ws: TestWebSocket = {
        protocol: res.headers['sec-websocket-protocol'] as string | undefined,
        send: (data, opcode = 2) => void socket.write(encode(opcode, Buffer.from(data))),
        next,
        async read(n, timeoutMs) {
          let out = Buffer.alloc(0);
          while (out.length < n) out = Buffer.concat([out, await next(timeoutMs)]);
          return out;
        },
        frame,
        close: () => socket.destroy(),
        socket,
      };
      resolve({ ok: true, ws });
    });
    req.end();
  });
}
