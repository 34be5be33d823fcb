import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createIdentityApp } from '../../api/identity/server.ts';
import { bootstrapIdentity, type BootstrapResult } from '../../api/identity/bootstrap/service.ts';
import { identityPolicyDefaults } from '../../api/identity/policy-rules.ts';
import { createMemoryBus } from '../../lib/bus/memory.ts';
import type { Bus } from '../../lib/bus/bus.ts';
import { loadConfig, type Config } from '../../lib/config/index.ts';
import { createLogger } from '../../lib/log.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { createTokenService } from '../../lib/tokens/index.ts';
import { newId } from '../../lib/ids.ts';
import type { TokenService } from '../../lib/tokens/claims.ts';
import { pgliteDatabase, type TestDatabase } from './db.ts';

export interface IdentityHarness {
  app: FastifyInstance;
  database: TestDatabase;
  bus: Bus;
  tokens: TokenService;
  config: Config;
  admin: BootstrapResult & { token: string; roleIds: Record<string, string> };
  /** app.inject with JSON body and X-Auth-Token (the admin's unless `token` is given). */
  call(method: string, url: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any; headers: Record<string, any> }>;
  /** A new user's token scoped to the admin project with member and reader (no admin). */
  memberToken(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A bootstrapped identity API on a fresh database (PGlite unless given), an
 * in-memory bus, cheap password hashing, and an admin token minted directly
 * (project-scoped on the admin project with admin ⊃ member ⊃ reader).
 */
export async function startIdentity(
  opts: { database?: TestDatabase; overrides?: Record<string, unknown>; policy?: Record<string, string> } = {},
): Promise<IdentityHarness> {
  const database = opts.database ?? (await pgliteDatabase());
  const dataDir = mkdtempSync(join(tmpdir(), 'nubo-test-'));
  const config = loadConfig({
    env: {},
    overrides: { data_dir: dataDir, 'identity.password_hash_cost': 10, 'log.level': 'silent', ...opts.overrides },
  });
  const logger = createLogger({ level: config['log.level'] });
  const bus = createMemoryBus();
  const tokens = await createTokenService({ db: database.db, bus, config, logger });
  const policy = new Enforcer(identityPolicyDefaults, opts.policy);
  const boot = await bootstrapIdentity(database.db, {
    region: 'RegionOne',
    projectName: 'admin',
    userName: 'admin',
    password: 'secretadmin',
    passwordFile: join(dataDir, 'admin-password'),
    passwordHashCost: 10,
    services: [{ type: 'identity', name: 'keystone', url: 'http://127.0.0.1:5000/v3/' }],
  });
  const roles = await database.db('roles').select('id', 'name');
  const roleIds = Object.fromEntries(roles.map((r: { id: string; name: string }) => [r.name, r.id]));
  const { token } = await tokens.issue({
    user_id: boot.userId,
    user_domain_id: boot.domainId,
    methods: ['password'],
    scope: { type: 'project', project_id: boot.projectId, domain_id: boot.domainId },
    roles: ['admin', 'member', 'reader'].map((name) => ({ id: roleIds[name], name })),
    expires_at: new Date(Date.now() + 3600_000),
  });
  const app = createIdentityApp({ db: database.db, bus, tokens, policy, config, logger });
  await app.ready();
  const harness: IdentityHarness = {
    app,
    database,
    bus,
    tokens,
    config,
    admin: { ...boot, token, roleIds },
    async call(method, url, body, tok) {
      const headers: Record<string, string> = {};
      const t = tok === undefined ? token : tok;
      if (t) headers['x-auth-token'] = t;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await app.inject({ method: method as any, url, headers, payload: body === undefined ? undefined : JSON.stringify(body) });
      let parsed: unknown = undefined;
      if (res.body) {
        try {
          parsed = JSON.parse(res.body);
        } catch {
          parsed = res.body;
        }
      }
      return { status: res.statusCode, body: parsed, headers: res.headers };
    },
    async memberToken() {
      const user = (await harness.call('POST', '/v3/users', { user: { name: `m-${newId()}` } })).body.user;
      const issued = await tokens.issue({
        user_id: user.id,
        user_domain_id: boot.domainId,
        methods: ['password'],
        scope: { type: 'project', project_id: boot.projectId, domain_id: boot.domainId },
        roles: ['member', 'reader'].map((name) => ({ id: roleIds[name], name })),
        expires_at: new Date(Date.now() + 3600_000),
      });
      return issued.token;
    },
    async close() {
      await app.close();
      await tokens.close();
      await bus.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}
