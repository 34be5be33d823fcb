/**
 * A Nubo cloud of separate processes for the benches: a fresh PostgreSQL
 * database, a dedicated RabbitMQ vhost (the bus does not namespace its
 * queues by anything a bench could vary, so a vhost keeps them apart from
 * everyone else's on the shared broker), `nubo bootstrap`, then `nubo api`,
 * `nubo scheduler` × n and `nubo compute` × n (fake driver unless agentEnv
 * says otherwise, distinct hosts).
 * stop() ends every process by its PID and removes the database, the vhost
 * and the temporary directory, whatever state the start reached.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';

const root = fileURLToPath(new URL('../..', import.meta.url));
const adminUrl = process.env.NUBO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const rabbitHost = process.env.NUBO_BENCH_RABBITMQ ?? 'guest:guest@127.0.0.1:5672';

export interface CloudOptions {
  agents: number;
  schedulers: number;
  /** Run the compiled tree (.build/, as `npm start`) rather than the sources through tsx. */
  built: boolean;
  /** Extra NUBO_* settings for every process. */
  env?: NodeJS.ProcessEnv;
  /** Settings of the i-th compute agent over the defaults (fake driver), e.g. { NUBO_COMPUTE_DRIVER: 'qemu' }. */
  agentEnv?: (i: number) => NodeJS.ProcessEnv;
  /** Extra node flags per role, e.g. { api: ['--cpu-prof'] }. */
  nodeFlags?: Partial<Record<'api' | 'scheduler' | 'compute', string[]>>;
}

export interface Cloud {
  dir: string;
  identityUrl: string;
  computeUrl: string;
  imageUrl: string;
  adminPassword: string;
  /** The bench's own connection to the cloud's database (for counting, never for changes). */
  db: Knex;
  /** PIDs by role, e.g. for CPU figures. */
  pids: Record<string, number[]>;
  stop(): Promise<void>;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function rabbitmqctl(args: string[]): void {
  const r = spawnSync('rabbitmqctl', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

async function waitFor(what: string, ms: number, check: () => Promise<boolean>, alive: () => void): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    alive();
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startCloud(opts: CloudOptions): Promise<Cloud> {
  const id = randomBytes(5).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'nubo-bench-compute-'));
  const dbName = `nubo_bench_${id}`;
  const vhost = `nubo-bench-${id}`;
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;
  const children: { role: string; child: ChildProcess }[] = [];
  let db: Knex | undefined;
  const made = { database: false, vhost: false };

  const stop = async () => {
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await db?.destroy().catch(() => undefined);
    if (made.database) await admin.raw(`drop database if exists ${dbName} with (force)`).catch((e) => console.error(`could not drop ${dbName}: ${e}`));
    await admin.destroy().catch(() => undefined);
    if (made.vhost) {
      try {
        rabbitmqctl(['delete_vhost', vhost]);
      } catch (e) {
        console.error(String(e));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await admin.raw(`create database ${dbName}`);
    made.database = true;
    rabbitmqctl(['add_vhost', vhost]);
    made.vhost = true;
    rabbitmqctl(['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);

    const [identityPort, computePort, imagePort] = [await freePort(), await freePort(), await freePort()];
    const adminPassword = randomBytes(12).toString('hex');
    const base: NodeJS.ProcessEnv = {
      ...process.env,
      NUBO_DATABASE_URL: dbUrl.toString(),
      NUBO_BUS_URL: `amqp://${rabbitHost}/${encodeURIComponent(vhost)}`,
      NUBO_LOG_LEVEL: 'warn',
      NUBO_CLOUDS_YAML: '',
      NUBO_IDENTITY_PORT: String(identityPort),
      NUBO_COMPUTE_PORT: String(computePort),
      NUBO_IMAGE_PORT: String(imagePort),
      // Any free port: the default 6080 may be taken by another cloud on the machine.
      NUBO_COMPUTE_CONSOLE_PORT: '0',
      NUBO_IDENTITY_ADMIN_PASSWORD: adminPassword,
      NUBO_IDENTITY_PASSWORD_HASH_COST: '12',
      ...opts.env,
    };
    // tsx by its resolved URL: the processes' working directory is the temporary one, with no node_modules.
    const entry = opts.built ? [join(root, '.build/bin/main.js')] : ['--import', import.meta.resolve('tsx'), join(root, 'bin/main.ts')];
    const run = (role: 'api' | 'scheduler' | 'compute', name: string, env: NodeJS.ProcessEnv = {}) => {
      const out = createWriteStream(join(dir, `${name}.log`));
      const child = spawn(process.execPath, [...(opts.nodeFlags?.[role] ?? []), ...entry, role], {
        cwd: dir,
        env: { ...base, NUBO_DATA_DIR: join(dir, name), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.pipe(out);
      child.stderr!.pipe(out);
      children.push({ role, child });
      return child;
    };
    const alive = () => {
      for (const { role, child } of children) {
        if (child.exitCode !== null) throw new Error(`${role} (pid ${child.pid}) exited with ${child.exitCode}; logs in ${dir}`);
      }
    };

    const boot = spawnSync(process.execPath, [...entry, 'bootstrap'], { cwd: dir, env: { ...base, NUBO_DATA_DIR: join(dir, 'bootstrap') }, encoding: 'utf8' });
    if (boot.status !== 0) throw new Error(`nubo bootstrap failed: ${boot.stderr}`);

    run('api', 'api');
    for (let i = 0; i < opts.schedulers; i++) run('scheduler', `scheduler-${i}`);
    for (let i = 0; i < opts.agents; i++) {
      run('compute', `compute-${i}`, { NUBO_COMPUTE_HOST: `bench-${String(i).padStart(3, '0')}`, NUBO_COMPUTE_DRIVER: 'fake', ...opts.agentEnv?.(i) });
    }
    const identityUrl = `http://127.0.0.1:${identityPort}`;
    // Generous: a loaded machine (or tsx compiling the sources) starts a dozen processes slowly.
    await waitFor('nubo api', 180_000, async () => (await fetch(`${identityUrl}/v3`)).ok, alive);
    db = knexFactory({ client: 'pg', connection: dbUrl.toString(), pool: { min: 0, max: 2 } });
    const conn = db;
    await waitFor(`${opts.agents} compute services`, 180_000, async () => {
      const [{ n }] = await conn('compute_nodes').count({ n: '*' });
      return Number(n) >= opts.agents;
    }, alive);
    const pids: Record<string, number[]> = {};
    for (const { role, child } of children) (pids[role] ??= []).push(child.pid!);
    return {
      dir,
      identityUrl,
      computeUrl: `http://127.0.0.1:${computePort}/v2.1`,
      imageUrl: `http://127.0.0.1:${imagePort}`,
      adminPassword,
      db: conn,
      pids,
      stop,
    };
  } catch (e) {
    const logs = children.length ? `\nlast lines of the api's log:\n${tail(join(dir, 'api.log'))}` : '';
    await stop();
    throw new Error(`${(e as Error).message}${logs}`);
  }
}

const tail = (file: string) => {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-5).join('\n');
  } catch {
    return '(none)';
  }
};
