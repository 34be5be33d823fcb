import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { computePolicyDefaults } from '../../api/compute/policy-rules.ts';
import { createComputeApp } from '../../api/compute/server.ts';
import { createRabbitBus, type RabbitBus } from '../../lib/bus/rabbitmq/index.ts';
import type { Db } from '../../lib/db/index.ts';
import { newId } from '../../lib/ids.ts';
import { createLogger } from '../../lib/log.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { computeProblems, type QuotaInUse } from './compute-consistency.ts';
import { addImage, type CallResult } from './compute.ts';
import { postgresDatabase } from './db.ts';
import { jsonLines } from './json-lines.ts';
import { startIdentity, type IdentityHarness } from './identity.ts';

const nubo = fileURLToPath(new URL('../../bin/nubo.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A `nubo scheduler` or `nubo compute` child process. */
export interface NuboProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Its JSON log lines so far. */
  readonly logs: any[];
  /** Resolves with the exit code (or signal) once it has exited. */
  readonly exited: Promise<number | string | null>;
  /** kill -9 by its PID, as a crash; resolves once it is gone. */
  crash(): Promise<void>;
  /** Waits until it has logged `msg` (at least `count` times); fails after `ms`. */
  logged(msg: string, opts?: { count?: number; ms?: number }): Promise<any[]>;
}

/** Timeouts of the processes, in seconds (short, so that the sweep acts within a test). */
export interface CloudTimings {
  buildTimeout: number;
  sweepInterval: number;
  serviceDownTime: number;
  reportInterval: number;
}

export interface ProcessCloud {
  db: Db;
  identity: IdentityHarness;
  /** The compute API in this process, on the cloud's RabbitMQ. */
  app: FastifyInstance;
  bus: RabbitBus;
  project: { projectId: string; token: string };
  imageId: string;
  flavorId: string;
  /** app.inject with the project member's token (or `token`). */
  call(method: string, url: string, body?: unknown, token?: string): Promise<CallResult>;
  scheduler(env?: NodeJS.ProcessEnv): NuboProcess;
  compute(host: string, env?: NodeJS.ProcessEnv): NuboProcess;
  /** Waits until each of `hosts` has a compute node and a heartbeat. */
  hostsUp(hosts: string[], ms?: number): Promise<void>;
  /** The project's quota usage as GET /os-quota-sets/{p}/detail reports it. */
  quotaInUse(projectId: string): Promise<QuotaInUse>;
  /** Waits until computeProblems finds nothing (returns []), or returns what is left after `ms`. */
  settle(ms: number): Promise<string[]>;
  /** Every log line of every process started so far. */
  logs(): any[];
  /** Ends the processes (SIGTERM, then SIGKILL), the API, the bus and drops the database. */
  close(): Promise<void>;
}

/**
 * A cloud of separate processes on a fresh PostgreSQL database and the
 * RabbitMQ at `busUrl`: the compute API in this process (requests go through
 * its HTTP routes with app.inject, so quotas are consumed as users consume
 * them), and `nubo scheduler` / `nubo compute` (fake driver) children
 * started by the test. A project with room for `quota` servers of the
 * flavor (1 vCPU, 512 MB, 1 GB) and an image are ready.
 */
export async function startProcessCloud(opts: { busUrl: string; timings: CloudTimings; quota?: number; logLevel?: string }): Promise<ProcessCloud> {
  const database = await postgresDatabase();
  const quota = opts.quota ?? 200;
  const identity = await startIdentity({
    database,
    overrides: { 'compute.quota.instances': quota, 'compute.quota.cores': quota, 'compute.quota.ram': quota * 512 },
  });
  const { db } = database;
  const logger = createLogger({ level: process.env.NUBO_LOG_LEVEL ?? 'silent', name: 'process-cloud' });
  const bus = await createRabbitBus(opts.busUrl, { logger, closeGraceMs: 500, sendTimeoutMs: 20_000 });
  const app = createComputeApp({ db, bus, tokens: identity.tokens, policy: new Enforcer(computePolicyDefaults), config: identity.config, logger });
  await app.ready();

  const { admin } = identity;
  const projectId = newId();
  await db('projects').insert({ id: projectId, name: `faults-${projectId.slice(0, 8)}`, domain_id: admin.domainId, parent_id: null, enabled: true });
  const { token } = await identity.tokens.issue({
    user_id: newId(),
    user_domain_id: admin.domainId,
    methods: ['password'],
    scope: { type: 'project', project_id: projectId, domain_id: admin.domainId },
    roles: ['member', 'reader'].map((name) => ({ id: admin.roleIds[name], name })),
    expires_at: new Date(Date.now() + 3600_000),
  });

  const call = async (method: string, url: string, body?: unknown, tok = token): Promise<CallResult> => {
    const headers: Record<string, string> = { 'x-auth-token': tok };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.inject({ method: method as never, url, headers, payload: body === undefined ? undefined : JSON.stringify(body) });
    let parsed: unknown;
    try {
      parsed = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      parsed = res.body;
    }
    return { status: res.statusCode, body: parsed, headers: res.headers };
  };
  const flavorId = `faults-${randomBytes(3).toString('hex')}`;
  const made = await call('POST', '/v2.1/flavors', { flavor: { id: flavorId, name: flavorId, ram: 512, vcpus: 1, disk: 1 } }, admin.token);
  if (made.status !== 200) throw new Error(`could not create the flavor: ${JSON.stringify(made.body)}`);
  const imageId = await addImage(db, { owner: projectId });

  const t = opts.timings;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NUBO_CONFIG: '',
    NUBO_DATABASE_URL: database.url,
    NUBO_BUS_URL: opts.busUrl,
    NUBO_LOG_LEVEL: opts.logLevel ?? 'info',
    NUBO_COMPUTE_DRIVER: 'fake',
    NUBO_COMPUTE_REPORT_INTERVAL: String(t.reportInterval),
    NUBO_COMPUTE_FAKE_MEMORY_MB: '65536',
    NUBO_SCHEDULER_SWEEP_INTERVAL: String(t.sweepInterval),
    NUBO_SCHEDULER_BUILD_TIMEOUT: String(t.buildTimeout),
    NUBO_SCHEDULER_SERVICE_DOWN_TIME: String(t.serviceDownTime),
    NUBO_BUS_CALL_TIMEOUT_MS: '10000',
  };
  const processes: NuboProcess[] = [];
  const start = (name: string, args: string[], extra: NodeJS.ProcessEnv): NuboProcess => {
    const child = spawn(process.execPath, [nubo, ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: any[] = [];
    const take = jsonLines((parsed, line) => logs.push(parsed && typeof parsed === 'object' ? { proc: name, ...parsed } : { proc: name, msg: line }));
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    const p: NuboProcess = {
      name,
      child,
      logs,
      exited,
      async crash() {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
        await exited;
      },
      async logged(msg, { count = 1, ms = 60_000 } = {}) {
        const deadline = Date.now() + ms;
        for (;;) {
          const found = logs.filter((l) => l.msg === msg);
          if (found.length >= count) return found;
          if (Date.now() > deadline) throw new Error(`${name} did not log "${msg}" ${count} time(s) within ${ms} ms; its last lines:\n${logs.slice(-20).map((l) => JSON.stringify(l)).join('\n')}`);
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before logging "${msg}"`);
          await sleep(20);
        }
      },
    };
    processes.push(p);
    return p;
  };
  let schedulers = 0;

  const quotaInUse = async (p: string): Promise<QuotaInUse> => {
    const r = await call('GET', `/v2.1/os-quota-sets/${p}/detail`, undefined, admin.token);
    if (r.status !== 200) throw new Error(`quota detail: ${r.status} ${JSON.stringify(r.body)}`);
    const q = r.body.quota_set;
    return { instances: q.instances.in_use, cores: q.cores.in_use, ram: q.ram.in_use };
  };

  return {
    db,
    identity,
    app,
    bus,
    project: { projectId, token },
    imageId,
    flavorId,
    call,
    scheduler: (extra = {}) => start(`scheduler-${++schedulers}`, ['scheduler'], extra),
    compute: (host, extra = {}) => start(host, ['compute'], { NUBO_COMPUTE_HOST: host, ...extra }),
    async hostsUp(hosts, ms = 60_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const nodes = await db('compute_nodes').whereIn('host', hosts);
        const up = await db('compute_services').whereIn('host', hosts).whereNotNull('last_seen_up');
        if (nodes.length === hosts.length && up.length === hosts.length) return;
        if (Date.now() > deadline) throw new Error(`hosts ${hosts.join(', ')} did not come up within ${ms} ms`);
        await sleep(200);
      }
    },
    quotaInUse,
    async settle(ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const problems = await computeProblems(db, { quotaInUse, projects: [projectId] });
        if (problems.length === 0 || Date.now() > deadline) return problems;
        await sleep(500);
      }
    },
    logs: () => processes.flatMap((p) => p.logs),
    async close() {
      const running = processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
      for (const p of running) p.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      }, 10_000);
      await Promise.all(running.map((p) => p.exited));
      clearTimeout(timer);
      await app.close();
      await bus.close();
      await identity.close();
    },
  };
}
