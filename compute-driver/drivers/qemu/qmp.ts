/**
 * A QMP client (the QEMU Machine Protocol, docs/interop/qmp-spec): one unix
 * socket per guest. On connect QEMU sends a greeting; `qmp_capabilities`
 * leaves negotiation mode; then each command carries an id and gets one
 * `return` or `error` with that id. Asynchronous events (SHUTDOWN, STOP,
 * RESUME, POWERDOWN, GUEST_PANICKED…) arrive in between and go to the
 * listeners. When the socket closes (QEMU exited) pending commands fail and
 * `close` fires.
 */
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../../driver.ts';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpError extends DriverError {
  readonly qmpClass: string;
  constructor(command: string, qmpClass: string, desc: string) {
    super(`QMP ${command} failed: ${qmpClass}: ${desc}`, { name: 'QmpError' });
    this.qmpClass = qmpClass;
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
}

interface Greeting {
  QMP?: { version?: { qemu?: { major: number; minor: number; micro: number } } };
}

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: []; greeting: [Greeting] }> {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  /** The greeting's QEMU version. */
  version: { major: number; minor: number; micro: number } | null = null;

  private constructor(private readonly socket: Socket) {
    super();
  }

  /**
   * Connects to `path` (retrying while QEMU has not started listening yet),
   * reads the greeting and negotiates capabilities; fails after timeoutMs.
   */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await QmpClient.connectOnce(path, Math.max(1000, until - Date.now()));
      } catch (e) {
        const code = (e as { cause?: NodeJS.ErrnoException }).cause?.code;
        if ((code !== 'ECONNREFUSED' && code !== 'ENOENT') || Date.now() > until) throw e;
        await sleep(100);
      }
    }
  }

  private static async connectOnce(path: string, timeoutMs: number): Promise<QmpClient> {
    const socket = createConnection(path);
    const client = new QmpClient(socket);
    const greeting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DriverError(`QMP ${path}: no greeting within ${timeoutMs} ms`, { name: 'QmpError' }));
      }, timeoutMs);
      client.once('greeting', (g) => {
        clearTimeout(timer);
        client.version = g.QMP?.version?.qemu ?? null;
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(Object.assign(new DriverError(`QMP ${path}: ${e.message}`, { name: 'QmpError' }), { cause: e }));
      });
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => client.receive(chunk));
    socket.on('close', () => client.closeAll());
    socket.on('error', () => {}); // 'close' follows and fails what is pending
    await greeting;
    await client.execute('qmp_capabilities');
    return client;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Runs a command; resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    if (this.closed) return Promise.reject(new DriverError(`QMP ${command}: the connection is closed`, { name: 'QmpError' }));
    const id = `nubo-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DriverError(`QMP ${command}: no reply within ${timeoutMs} ms`, { name: 'QmpError' }));
      }, timeoutMs);
      this.pending.set(id, {
        command,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** Resolves with the first event named `name` (or null after timeoutMs, or when the connection closes). */
  waitEvent(name: string, timeoutMs: number): Promise<QmpEvent | null> {
    return new Promise((resolve) => {
      const done = (e: QmpEvent | null) => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
        resolve(e);
      };
      const onEvent = (e: QmpEvent) => e.event === name && done(e);
      const onClose = () => done(null);
      const timer = setTimeout(() => done(null), timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Resolves when the connection is closed (QEMU exited), or false after timeoutMs. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('close', onClose);
        resolve(false);
      }, timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('close', onClose);
    });
  }

  close(): void {
    this.socket.destroy();
    this.closeAll();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.dispatch(line);
    }
  }

  private dispatch(line: string): void {
    let msg: Record<string, any>;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if ('QMP' in msg) {
      this.emit('greeting', msg as Greeting);
    } else if ('event' in msg) {
      this.emit('event', msg as QmpEvent);
    } else if (typeof msg.id === 'string' && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id)!;
      this.pending.delete(msg.id);
      if ('error' in msg) p.reject(new QmpError(p.command, msg.error?.class ?? 'GenericError', msg.error?.desc ?? ''));
      else p.resolve(msg.return);
    }
  }

  private closeAll(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new DriverError(`QMP ${p.command}: QEMU closed the connection`, { name: 'QmpError' }));
    this.pending.clear();
    this.emit('close');
  }
}
