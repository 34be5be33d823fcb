import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ComputeCalls, ComputeCasts, ConsoleTarget } from '../../compute-driver/rpc.ts';
import { computeTopic } from '../../compute-driver/rpc.ts';
import type { Handler } from '../../lib/bus/bus.ts';
import { SCHEDULER_TOPIC, type SchedulerCasts } from '../../scheduler/rpc.ts';
import { computePolicyDefaults } from '../../api/compute/policy-rules.ts';
import { createComputeApp } from '../../api/compute/server.ts';
import { createLogger } from '../../lib/log.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { newId } from '../../lib/ids.ts';
import type { TestDatabase } from './db.ts';
import { startIdentity, type IdentityHarness } from './identity.ts';

export interface CallResult {
  status: number;
  body: any;
  headers: Record<string, any>;
}

export interface ProjectUser {
  projectId: string;
  userId: string;
  token: string;
}

/** A message a recorder received. */
export interface Recorded {
  topic: string;
  method: string;
  args: any;
}

/**
 * Stands in for the conductor and the compute agents on the in-process bus:
 * records what the API sends to `scheduler` and `compute.<host>`.
 */
export interface BusRecorder {
  /** Everything received, in order. */
  readonly messages: Recorded[];
  /** Those sent to `topic` (and `method`). */
  on(topic: string, method?: string): Recorded[];
  /** Waits (up to 2 s) until `topic` has received a message of `method` (whose args `match`, when given); returns the latest such. */
  waitFor(topic: string, method: string, match?: (args: any) => boolean): Promise<Recorded>;
  /**
   * Serves compute.<host>: records each cast; get_console_output answers `consoleOutput`, get_host_uptime `uptime`,
   * get_console_target `consoleTarget` (default 127.0.0.1:9 with a secret); each thrown instead if an Error.
   */
  serveCompute(host: string, opts?: { consoleOutput?: string | Error; uptime?: string | Error | (() => string | Error); consoleTarget?: ConsoleTarget | Error }): Promise<void>;
  clear(): void;
}

const COMPUTE_CASTS: (keyof ComputeCasts)[] = [
  'build_and_run_instance', 'reboot_instance', 'stop_instance', 'start_instance', 'pause_instance', 'unpause_instance', 'suspend_instance',
  'resume_instance', 'rebuild_instance', 'terminate_instance', 'snapshot_instance', 'resize_instance', 'finish_resize', 'confirm_resize',
  'revert_resize', 'finish_revert_resize', 'cleanup_migration',
];
const SCHEDULER_CASTS: (keyof SchedulerCasts)[] = ['build_instances', 'resize_instance'];

async function startRecorder(bus: IdentityHarness['bus'], serveScheduler: boolean): Promise<BusRecorder> {
  const messages: Recorded[] = [];
  const handlers = (topic: string, methods: string[], calls: Record<string, Handler> = {}) => {
    const out: Record<string, Handler> = {};
    for (const method of methods) out[method] = (args) => void messages.push({ topic, method, args });
    for (const [method, fn] of Object.entries(calls)) {
      out[method] = (args) => {
        messages.push({ topic, method, args });
        return fn(args);
      };
    }
    return out;
  };
  if (serveScheduler) await bus.serve(SCHEDULER_TOPIC, handlers(SCHEDULER_TOPIC, SCHEDULER_CASTS));
  const on = (topic: string, method?: string) => messages.filter((m) => m.topic === topic && (method === undefined || m.method === method));
  return {
    messages,
    on,
    async waitFor(topic, method, match = () => true) {
      const deadline = Date.now() + 2000;
      for (;;) {
        const found = on(topic, method).filter((m) => match(m.args));
        if (found.length) return found[found.length - 1];
        if (Date.now() > deadline) throw new Error(`no ${method} on ${topic} (have: ${messages.map((m) => `${m.topic}.${m.method}`).join(', ') || 'nothing'})`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async serveCompute(host, opts = {}) {
      const topic = computeTopic(host);
      const consoleOutput: Handler = () => {
        if (opts.consoleOutput instanceof Error) throw opts.consoleOutput;
        return opts.consoleOutput ?? '';
      };
      const uptime: Handler = () => {
        const answer = typeof opts.uptime === 'function' ? opts.uptime() : opts.uptime;
        if (answer instanceof Error) throw answer;
        return answer ?? ' 10:00:00 up 1 min,  0 users,  load average: 0.00, 0.00, 0.00';
      };
            const consoleTarget: Handler = () => {
        if (opts.consoleTarget instanceof Error) throw opts.consoleTarget;
        return opts.consoleTarget ?? { host: '127.0.0.1', port: 9, secret: 'test-secret' };
      };
      const calls: Record<keyof ComputeCalls, Handler> = { get_console_output: consoleOutput, get_host_uptime: uptime, get_console_target: consoleTarget };
      await bus.serve(topic, handlers(topic, COMPUTE_CASTS, calls));
    },
    clear() {
      messages.length = 0;
    },
  };
}

export interface ComputeHarness {
  identity: IdentityHarness;
  app: FastifyInstance;
  adminToken: string;
  adminProjectId: string;
  adminUserId: string;
  /**
   * app.inject on the compute API with the admin's token unless `token` is
   * given, a JSON body, and the microversion `version` (sent as
   * OpenStack-API-Version: compute <version>) when given.
   */
  call(method: string, url: string, opts?: { body?: unknown; token?: string | null; version?: string; headers?: Record<string, string> }): Promise<CallResult>;
  /** A new project and a user's token in it with the given roles (default member and reader). */
  projectToken(roles?: string[]): Promise<ProjectUser>;
  /** Another user's token in an existing project. */
  userToken(projectId: string, roles?: string[]): Promise<ProjectUser>;
  /** What the API sent to the scheduler and the compute hosts served with serveCompute. */
  bus: BusRecorder;
  close(): Promise<void>;
}

const jsonOrText = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/**
 * The compute API on a bootstrapped identity database (PGlite unless given),
 * sharing its token service, with Nova's default policy, and a recorder
 * serving the scheduler topic in place of the conductor.
 */
export async function startCompute(
  opts: {
    database?: TestDatabase;
    overrides?: Record<string, unknown>;
    policy?: Record<string, string>;
    /** false: no recorder serves the scheduler topic (a real conductor will). */
    recordBus?: boolean;
  } = {},
): Promise<ComputeHarness> {
  const identity = await startIdentity({ database: opts.database, overrides: opts.overrides });
  const logger = createLogger({ level: identity.config['log.level'] });
  const policy = new Enforcer(computePolicyDefaults, opts.policy);
  const app = createComputeApp({ db: identity.database.db, bus: identity.bus, tokens: identity.tokens, policy, config: identity.config, logger });
  await app.ready();
  const recorder = await startRecorder(identity.bus, opts.recordBus !== false);
  const db = identity.database.db;
  const { admin } = identity;

  const userToken = (projectId: string, roles = ['member', 'reader']) => issueUserToken(identity, newId(), projectId, roles);

  return {
    identity,
    app,
    adminToken: admin.token,
    adminProjectId: admin.projectId,
    adminUserId: admin.userId,
    async call(method, url, { body, token, version, headers = {} } = {}) {
      const h: Record<string, string> = { ...headers };
      const t = token === undefined ? admin.token : token;
      if (t) h['x-auth-token'] = t;
      if (version) h['openstack-api-version'] = `compute ${version}`;
      if (body !== undefined) h['content-type'] = 'application/json';
      const res = await app.inject({ method: method as never, url, headers: h, payload: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.statusCode, body: res.body ? jsonOrText(res.body) : undefined, headers: res.headers };
    },
    async projectToken(roles) {
      const projectId = newId();
      await db('projects').insert({ id: projectId, name: `p-${projectId.slice(0, 8)}`, domain_id: admin.domainId, parent_id: null, enabled: true });
      return userToken(projectId, roles);
    },
    userToken,
    bus: recorder,
    async close() {
      await app.close();
      await identity.close();
    },
  };
}

/** A token for `userId` on the project (of the admin's domain) with the roles named, for an hour. */
export async function issueUserToken(identity: IdentityHarness, userId: string, projectId: string, roles: string[]): Promise<ProjectUser> {
  const { admin } = identity;
  const { token } = await identity.tokens.issue({
    user_id: userId,
    user_domain_id: admin.domainId,
    methods: ['password'],
    scope: { type: 'project', project_id: projectId, domain_id: admin.domainId },
    roles: roles.map((name) => ({ id: admin.roleIds[name], name })),
    expires_at: new Date(Date.now() + 3600_000),
  });
  return { projectId, userId, token };
}

/** An image row as the image API would have it (active and public unless said otherwise); returns its id. */
export async function addImage(
  db: TestDatabase['db'],
  s: { owner: string; status?: string; visibility?: string; minRam?: number; minDisk?: number; size?: number | null; properties?: Record<string, string>; name?: string },
): Promise<string> {
  const id = randomUUID();
  await db('images').insert({
    id,
    name: s.name ?? `image-${id.slice(0, 8)}`,
    owner: s.owner,
    status: s.status ?? 'active',
    visibility: s.visibility ?? 'public',
    disk_format: 'qcow2',
    container_format: 'bare',
    min_ram: s.minRam ?? 0,
    min_disk: s.minDisk ?? 0,
    size: s.size === undefined ? 1024 : s.size,
    properties: JSON.stringify(s.properties ?? {}),
  });
  return id;
}

/**
 * What the conductor and the agent of `host` would have made of a server:
 * on the host, active (or `vmState`) with no task, running, launched now.
 */
export async function placeServer(db: TestDatabase['db'], uuid: string, host: string, vmState = 'active'): Promise<void> {
  await db('instances')
    .where({ uuid })
    .update({ host, node: host, launched_on: host, vm_state: vmState, task_state: null, power_state: vmState === 'stopped' ? 4 : 1, launched_at: new Date() });
}
