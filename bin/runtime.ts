import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createDefaultFlavors } from '../api/compute/flavors/defaults.ts';
import { computePolicyDefaults } from '../api/compute/policy-rules.ts';
import { createComputeApp } from '../api/compute/server.ts';
import { createIdentityApp } from '../api/identity/server.ts';
import { createFilesystemStore } from '../api/image/data/filesystem.ts';
import { imagePolicyDefaults } from '../api/image/policy-rules.ts';
import { createImageApp } from '../api/image/server.ts';
import { identityPolicyDefaults } from '../api/identity/policy-rules.ts';
import { bootstrapIdentity, type BootstrapResult, type CatalogService } from '../api/identity/bootstrap/service.ts';
import { createBus } from '../lib/bus/index.ts';
import type { Bus } from '../lib/bus/bus.ts';
import type { Config } from '../lib/config/index.ts';
import { closeDatabase, openDatabase, migrate, type Db } from '../lib/db/index.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { Enforcer, loadPolicyFile } from '../lib/policy/enforcer.ts';
import { createTokenService } from '../lib/tokens/index.ts';
import type { TokenService } from '../lib/tokens/claims.ts';

/** The shared parts a Nubo process runs on: database, bus, tokens, logger. */
export interface Runtime {
  config: Config;
  logger: Logger;
  db: Db;
  bus: Bus;
  tokens: TokenService;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, name: string): Promise<Runtime> {
  const logger = createLogger({ level: config['log.level'], name });
  const db = openDatabase({ url: config['database.url'], dataDir: config.data_dir, poolMax: config['database.pool_max'] });
  const applied = await migrate(db);
  if (applied.length) logger.info({ migrations: applied }, 'database migrated');
  const bus = await createBus(config['bus.url'], { logger, callTimeoutMs: config['bus.call_timeout_ms'] });
  const tokens = await createTokenService({ db, bus, config, logger });
  return {
    config,
    logger,
    db,
    bus,
    tokens,
    async close() {
      await tokens.close();
      await bus.close();
      await closeDatabase(db);
    },
  };
}

/** The policy enforcer every API uses: each service's defaults (their rule names do not overlap), overridden by policy_file. */
export function createEnforcer(config: Config): Enforcer {
  return new Enforcer({ ...identityPolicyDefaults, ...imagePolicyDefaults, ...computePolicyDefaults }, config.policy_file ? loadPolicyFile(config.policy_file) : undefined);
}

/** Where the filesystem image store keeps data: image.store_dir, or <data_dir>/images. */
export const imageStoreDir = (config: Config) => config['image.store_dir'] || join(config.data_dir, 'images');

export interface RunningApi {
  name: string;
  type: string;
  app: FastifyInstance;
  /** The URL clients use, as it goes into the catalog. */
  url: string;
}

const publicHost = (config: Config) => config['api.public_host'] || config['api.host'];

async function listen(rt: Runtime, app: FastifyInstance, port: number, path: string): Promise<string> {
  await app.listen({ host: rt.config['api.host'], port });
  const bound = (app.server.address() as { port: number }).port;
  return `http://${publicHost(rt.config)}:${bound}${path}`;
}

/** Starts every API service this process serves and returns where each listens. */
export async function startApis(rt: Runtime): Promise<RunningApi[]> {
  const policy = createEnforcer(rt.config);
  const shared = { db: rt.db, bus: rt.bus, tokens: rt.tokens, policy, config: rt.config, logger: rt.logger };
  const identity = createIdentityApp(shared);
  const image = createImageApp({ ...shared, store: createFilesystemStore(imageStoreDir(rt.config)) });
  const compute = createComputeApp(shared);
  return [
    { name: 'keystone', type: 'identity', app: identity, url: await listen(rt, identity, rt.config['identity.port'], '/v3/') },
    { name: 'glance', type: 'image', app: image, url: await listen(rt, image, rt.config['image.port'], '') },
    { name: 'nova', type: 'compute', app: compute, url: await listen(rt, compute, rt.config['compute.port'], '/v2.1') },
  ];
}

/**
 * Creates what is missing of the admin project, user, roles and the catalog
 * of `services`; with the compute service among them (the all-in-one), also
 * the classic flavors when there are none (compute.default_flavors).
 */
export async function runBootstrap(rt: Runtime, services: CatalogService[]): Promise<BootstrapResult> {
  if (rt.config['compute.default_flavors'] && services.some((s) => s.type === 'compute')) {
    const created = await createDefaultFlavors(rt.db);
    if (created.length) rt.logger.info({ flavors: created }, 'default flavors created');
  }
  return bootstrapIdentity(rt.db, {
    region: rt.config['identity.region'],
    projectName: rt.config['identity.admin_project'],
    userName: rt.config['identity.admin_user'],
    password: rt.config['identity.admin_password'],
    passwordFile: join(rt.config.data_dir, 'admin-password'),
    passwordHashCost: rt.config['identity.password_hash_cost'],
    services,
  });
}

/** Stops on SIGINT/SIGTERM: servers first (in-flight requests finish), then the runtime. */
export function stopOnSignals(rt: Runtime, apis: RunningApi[]): Promise<void> {
  return new Promise((resolve) => {
    const stop = async (signal: string) => {
      rt.logger.info({ signal }, 'stopping');
      await Promise.all(apis.map((a) => a.app.close()));
      await rt.close();
      resolve();
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
