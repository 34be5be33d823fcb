import type { FastifyInstance } from 'fastify';
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
 * sharing its token service, with Nova's default policy.
 */
export async function startCompute(
  opts: { database?: TestDatabase; overrides?: Record<string, unknown>; policy?: Record<string, string> } = {},
): Promise<ComputeHarness> {
  const identity = await startIdentity({ database: opts.database, overrides: opts.overrides });
  const logger = createLogger({ level: identity.config['log.level'] });
  const policy = new Enforcer(computePolicyDefaults, opts.policy);
  const app = createComputeApp({ db: identity.database.db, bus: identity.bus, tokens: identity.tokens, policy, config: identity.config, logger });
  await app.ready();
  const db = identity.database.db;
  const { admin } = identity;

  const userToken = async (projectId: string, roles = ['member', 'reader']): Promise<ProjectUser> => {
    const userId = newId();
    const { token } = await identity.tokens.issue({
      user_id: userId,
      user_domain_id: admin.domainId,
      methods: ['password'],
      scope: { type: 'project', project_id: projectId, domain_id: admin.domainId },
      roles: roles.map((name) => ({ id: admin.roleIds[name], name })),
      expires_at: new Date(Date.now() + 3600_000),
    });
    return { projectId, userId, token };
  };

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
    async close() {
      await app.close();
      await identity.close();
    },
  };
}
