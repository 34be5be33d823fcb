import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createFilesystemStore } from '../../api/image/data/filesystem.ts';
import { imagePolicyDefaults } from '../../api/image/policy-rules.ts';
import { createImageApp } from '../../api/image/server.ts';
import { createLogger } from '../../lib/log.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { newId } from '../../lib/ids.ts';
import type { TestDatabase } from './db.ts';
import { startIdentity, type IdentityHarness } from './identity.ts';

export interface CallResult {
  status: number;
  body: any;
  headers: Record<string, any>;
  raw: Buffer;
}

export interface ImageHarness {
  identity: IdentityHarness;
  app: FastifyInstance;
  storeDir: string;
  adminToken: string;
  adminProjectId: string;
  /**
   * app.inject on the image API with the admin's token unless `token` is
   * given. A plain object or array body goes as JSON unless `contentType`
   * says otherwise; a Buffer or string goes as is.
   */
  call(
    method: string,
    url: string,
    opts?: { body?: unknown; token?: string | null; contentType?: string; headers?: Record<string, string> },
  ): Promise<CallResult>;
  /** A new project and a token in it with the given roles (default member and reader). */
  projectToken(roles?: string[]): Promise<{ projectId: string; userId: string; token: string }>;
  close(): Promise<void>;
}

/**
 * The image API on a bootstrapped identity database (PGlite unless given),
 * sharing its token service, with a filesystem store in a temporary directory.
 */
export async function startImage(
  opts: { database?: TestDatabase; overrides?: Record<string, unknown>; policy?: Record<string, string> } = {},
): Promise<ImageHarness> {
  const identity = await startIdentity({ database: opts.database, overrides: opts.overrides });
  const storeDir = mkdtempSync(join(tmpdir(), 'nubo-images-'));
  const logger = createLogger({ level: identity.config['log.level'] });
  const policy = new Enforcer(imagePolicyDefaults, opts.policy);
  const app = createImageApp({
    db: identity.database.db,
    bus: identity.bus,
    tokens: identity.tokens,
    policy,
    config: identity.config,
    logger,
    store: createFilesystemStore(storeDir, { directIo: identity.config['image.direct_io'] }),
  });
  await app.ready();
  const db = identity.database.db;
  return {
    identity,
    app,
    storeDir,
    adminToken: identity.admin.token,
    adminProjectId: identity.admin.projectId,
    async call(method, url, { body, token, contentType, headers = {} } = {}) {
      const h: Record<string, string> = { ...headers };
      const t = token === undefined ? identity.admin.token : token;
      if (t) h['x-auth-token'] = t;
      let payload: string | Buffer | undefined;
      if (body !== undefined) {
        if (Buffer.isBuffer(body) || typeof body === 'string') {
          payload = body;
          h['content-type'] = contentType ?? 'application/octet-stream';
        } else {
          payload = JSON.stringify(body);
          h['content-type'] = contentType ?? 'application/json';
        }
      }
      const res = await app.inject({ method: method as never, url, headers: h, payload });
      let parsed: unknown;
      if (res.body && String(res.headers['content-type'] ?? '').includes('json')) {
        try {
          parsed = JSON.parse(res.body);
        } catch {
          parsed = res.body;
        }
      }
      return { status: res.statusCode, body: parsed, headers: res.headers, raw: res.rawPayload };
    },
    async projectToken(roles = ['member', 'reader']) {
      const projectId = newId();
      const userId = newId();
      const domainId = identity.admin.domainId;
      await db('projects').insert({ id: projectId, name: `p-${projectId.slice(0, 8)}`, domain_id: domainId, parent_id: null, enabled: true });
      const roleIds = identity.admin.roleIds;
      const { token } = await identity.tokens.issue({
        user_id: userId,
        user_domain_id: domainId,
        methods: ['password'],
        scope: { type: 'project', project_id: projectId, domain_id: domainId },
        roles: roles.map((name) => ({ id: roleIds[name], name })),
        expires_at: new Date(Date.now() + 3600_000),
      });
      return { projectId, userId, token };
    },
    async close() {
      await app.close();
      await identity.close();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
