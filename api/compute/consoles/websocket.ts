/**
 * The server side of WebSocket (RFC 6455), as small as a byte pipe needs:
 * the handshake (Sec-WebSocket-Accept, the `binary` subprotocol websockify
 * and noVNC ask for), masked client frames, fragments, ping/pong and close.
 * Text and binary payloads alike are bytes to the console.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The largest frame accepted (a console sends keystrokes and pointer events). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

export const acceptKey = (key: string) => createHash('sha1').update(key + GUID).digest('base64');

/** Why a request cannot be upgraded, or null when it can. */
export function upgradeProblem(req: IncomingMessage): string | null {
  if (req.method !== 'GET') return 'not a GET';
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'not a websocket upgrade';
  if (req.headers['sec-websocket-version'] !== '13') return 'unsupported websocket version';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) return 'bad Sec-WebSocket-Key';
  return null;
}

/**
 * Answers an HTTP error on a socket that asked to upgrade, and closes it. No
 * body: a client that reads on as if upgraded (Tempest's test_novnc_bad_token)
 * finds nothing but the close.
 */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export interface WebSocketHandlers {
  message(data: Buffer): void;
  close(): void;
}

export interface WebSocket {
  send(data: Buffer): boolean;
  close(code?: number): void;
  /** Stops (and resumes) reading from the client: backpressure. */
  pause(): void;
  resume(): void;
  onDrain(fn: () => void): void;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (len < 126) head[1] = len;
  else if (len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Completes the handshake (101) on `socket` and returns the connection. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, handlers: WebSocketHandlers): WebSocket {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}`,
    ...(offered.includes('binary') ? ['Sec-WebSocket-Protocol: binary'] : []),
  ];
  socket.write(lines.join('\r\n') + '\r\n\r\n');

  let buffered: Buffer = head.length ? Buffer.from(head) : Buffer.alloc(0);
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    handlers.close();
  };
  const close = (code = 1000) => {
    if (!closed && socket.writable) {
      const body = Buffer.alloc(2);
      body.writeUInt16BE(code);
      socket.end(frame(0x8, body));
    } else socket.destroy();
    finish();
  };

  /** Takes every complete frame off the buffer. */
  const parse = () => {
    while (!closed && buffered.length >= 2) {
      const opcode = buffered[0] & 0x0f;
      const masked = (buffered[1] & 0x80) !== 0;
      let len = buffered[1] & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buffered.length < 4) return;
        len = buffered.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (buffered.length < 10) return;
        const big = buffered.readBigUInt64BE(2);
        if (big > BigInt(MAX_PAYLOAD)) return close(1009);
        len = Number(big);
        offset = 10;
      }
      if (!masked) return close(1002);
      if (len > MAX_PAYLOAD) return close(1009);
      if (buffered.length < offset + 4 + len) return;
      const mask = buffered.subarray(offset, offset + 4);
      const payload = Buffer.from(buffered.subarray(offset + 4, offset + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      buffered = buffered.subarray(offset + 4 + len);
      if (opcode === 0x0 || opcode === 0x1 || opcode === 0x2) {
        if (payload.length) handlers.message(payload);
      } else if (opcode === 0x8) {
        return close(payload.length >= 2 ? payload.readUInt16BE(0) : 1000);
      } else if (opcode === 0x9) {
        socket.write(frame(0xa, payload));
      } else if (opcode !== 0xa) {
        return close(1002);
      }
    }
  };

  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    parse();
  });
  socket.on('close', finish);
  socket.on('error', () => socket.destroy());
  if (buffered.length) queueMicrotask(parse);

  return {
    send: (data) => (closed ? false : socket.write(frame(0x2, data))),
    close,
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    onDrain: (fn) => socket.on('drain', fn),
  };
}
