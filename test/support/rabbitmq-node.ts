import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';

/**
 * A RabbitMQ node of a test's own, on free loopback ports, with its data in a
 * temporary directory: a test may stop and restart it without disturbing the
 * shared broker on 5672 (other tests use that one meanwhile). It runs
 * /usr/lib/rabbitmq/bin/rabbitmq-server directly (not the /usr/sbin wrapper,
 * which switches to the rabbitmq user) with HOME in that directory, so the
 * node and its rabbitmqctl share an Erlang cookie of their own.
 */
export interface RabbitNode {
  /** amqp://guest:guest@127.0.0.1:<port> */
  readonly url: string;
  readonly nodename: string;
  /** Starts the node (again, with the same data: durable queues and persistent messages survive). Resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the node (rabbitmqctl stop; its process group is killed if that fails). */
  stop(): Promise<void>;
  /** Stops the node for good and removes its data. */
  close(): Promise<void>;
}

const RABBIT_BIN = '/usr/lib/rabbitmq/bin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Whether RabbitMQ's server scripts are installed (the tests that need a node of their own skip without them). */
export const rabbitmqInstalled = () => spawnSync(`${RABBIT_BIN}/rabbitmqctl`, ['version'], { timeout: 30_000 }).status === 0;

/** Creates (and starts) a private node. */
export async function startRabbitNode(opts: { startTimeoutMs?: number } = {}): Promise<RabbitNode> {
  const dir = mkdtempSync(join(tmpdir(), 'nubo-rabbit-'));
  const [port, distPort] = [await freePort(), await freePort()];
  const nodename = `nubo-test-${randomBytes(4).toString('hex')}@localhost`;
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), [`listeners.tcp.1 = 127.0.0.1:${port}`, 'log.console = false', 'log.file.level = warning', ''].join('\n'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
  };
  let child: ChildProcess | null = null;
  let output = '';
  const ctl = (args: string[], timeout = 60_000) =>
    spawnSync(`${RABBIT_BIN}/rabbitmqctl`, ['-n', nodename, ...args], { env, encoding: 'utf8', timeout });

  const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));

  const node: RabbitNode = {
    url,
    nodename,
    async start() {
      if (child) throw new Error('the node is already running');
      output = '';
      // Its own process group, so that a failed stop can end every process of it (and only those).
      const c = spawn(`${RABBIT_BIN}/rabbitmq-server`, [], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout!.on('data', (d) => (output += d));
      c.stderr!.on('data', (d) => (output += d));
      child = c;
      const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
      for (;;) {
        if (c.exitCode !== null) throw new Error(`rabbitmq-server exited with ${c.exitCode}:\n${output}`);
        try {
          const conn = await amqp.connect(url, { timeout: 2000 });
          await conn.close();
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`the RabbitMQ node did not start in time:\n${output}`);
          await sleep(250);
        }
      }
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = null;
      const r = ctl(['stop']);
      const gone = exited(c);
      const timeout = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), r.status === 0 ? 30_000 : 1000).unref());
      if ((await Promise.race([gone, timeout])) === 'timeout') {
        try {
          process.kill(-c.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await gone;
      }
    },
    async close() {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await node.start();
  } catch (e) {
    await node.close();
    throw e;
  }
  return node;
}
