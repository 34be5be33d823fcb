import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createDefaultFlavors } from '../api/compute/flavors/defaults.ts';
import { createConsoleProxyApp } from '../api/compute/consoles/proxy.ts';
import { computePolicyDefaults } from '../api/compute/policy-rules.ts';
import { createComputeApp } from '../api/compute/server.ts';
import { createIdentityApp } from '../api/identity/server.ts';
import { createFilesystemStore } from '../api/image/data/filesystem.ts';
import { imagePolicyDefaults } from '../api/image/policy-rules.ts';
import { createImageApp } from '../api/image/server.ts';
import { identityPolicyDefaults } from '../api/identity/policy-rules.ts';
import { bootstrapIdentity, type BootstrapResult, type CatalogService } from '../api/identity/bootstrap/service.ts';
import { computeAgentFromConfig, type ComputeAgent } from '../compute-driver/index.ts';
import { chooseDriver, logDriverChoice, type DriverChoice } from '../compute-driver/drivers/choose.ts';
import { createBus } from '../lib/bus/index.ts';
import type { Bus } from '../lib/bus/bus.ts';
import type { Config } from '../lib/config/index.ts';
import { closeDatabase, openDatabase, migrate, type Db } from '../lib/db/index.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { Enforcer, loadPolicyFile } from '../lib/policy/enforcer.ts';
import { createTokenService } from '../lib/tokens/index.ts';
import type { TokenService } from '../lib/tokens/claims.ts';
import { createConductor } from '../scheduler/conductor/index.ts';
import { registerDefaultImage } from './default-image.ts';

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
  /** false: not a catalog service (the console proxy). */
  catalog?: boolean;
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
  const image = createImageApp({ ...shared, store: createFilesystemStore(imageStoreDir(rt.config), { directIo: rt.config['image.direct_io'] }) });
  // The console proxy first: the compute API hands out its URLs (and learns the port it bound when compute.console_port is 0).
  const consoles = createConsoleProxyApp({ db: rt.db, logger: rt.logger, allowedOrigins: rt.config['compute.console_allowed_origins'] });
  const consoleUrl = await listen(rt, consoles, rt.config['compute.console_port'], '');
  const compute = createComputeApp({ ...shared, config: { ...rt.config, 'compute.console_base_url': rt.config['compute.console_base_url'] || consoleUrl } });
  return [
    { name: 'keystone', type: 'identity', app: identity, url: await listen(rt, identity, rt.config['identity.port'], '/v3/') },
    { name: 'glance', type: 'image', app: image, url: await listen(rt, image, rt.config['image.port'], '') },
    { name: 'nova', type: 'compute', app: compute, url: await listen(rt, compute, rt.config['compute.port'], '/v2.1') },
    { name: 'nova-console', type: 'console', app: consoles, url: consoleUrl, catalog: false },
  ];
}

/**
 * Creates what is missing of the admin project, user, roles and the catalog
 * of `services`; with the compute service among them (the all-in-one), also
 * the classic flavors when there are none (compute.default_flavors) and the
 * default image (compute.default_image) when it is not registered yet.
 */
export async function runBootstrap(rt: Runtime, services: CatalogService[]): Promise<BootstrapResult> {
  const allInOne = services.some((s) => s.type === 'compute');
  if (rt.config['compute.default_flavors'] && allInOne) {
    const created = await createDefaultFlavors(rt.db);
    if (created.length) rt.logger.info({ flavors: created }, 'default flavors created');
  }
  const boot = await bootstrapIdentity(rt.db, {
    region: rt.config['identity.region'],
    projectName: rt.config['identity.admin_project'],
    userName: rt.config['identity.admin_user'],
    password: rt.config['identity.admin_password'],
    passwordFile: join(rt.config.data_dir, 'admin-password'),
    passwordHashCost: rt.config['identity.password_hash_cost'],
    services,
  });
  if (allInOne) await registerDefaultImage(rt, boot);
  return boot;
}

/** Something running in the process besides the APIs (the conductor, a compute agent). */
export interface Background {
  name: string;
  stop(): Promise<void>;
}

/**
 * The conductor and one compute agent on the runtime's bus, as the
 * all-in-one runs them: the agent with the driver compute.driver names (auto:
 * qemu where it runs, else fake, which runs no real guest: said loudly).
 * Returned in the order to stop them: the agent first (it still reports to
 * the conductor as it stops), then the conductor.
 */
export async function startComputeServices(rt: Runtime): Promise<{ background: Background[]; driver: DriverChoice; host: string }> {
  const conductor = createConductor({ db: rt.db, bus: rt.bus, config: rt.config, logger: rt.logger, tokens: rt.tokens });
  await conductor.start();
  let agent: ComputeAgent;
  let choice: DriverChoice;
  try {
    choice = await chooseDriver(rt.config, rt.logger);
    logDriverChoice(rt.logger, choice);
    agent = computeAgentFromConfig(rt.config, rt.bus, rt.logger, choice.driver);
    await agent.start();
  } catch (e) {
    await conductor.stop();
    throw e;
  }
  return {
    background: [
      { name: 'compute agent', stop: () => agent.stop() },
      { name: 'conductor', stop: () => conductor.stop() },
    ],
    driver: choice,
    host: agent.host,
  };
}

/** Stops on SIGINT/SIGTERM: servers first (in-flight requests finish), then `background` in order, then the runtime. */
export function stopOnSignals(rt: Runtime, apis: RunningApi[], background: Background[] = []): Promise<void> {
  return new Promise((resolve) => {
    const stop = async (signal: string) => {
      rt.logger.info({ signal }, 'stopping');
      await Promise.all(apis.map((a) => a.app.close()));
      for (const b of background) {
        try {
          await b.stop();
        } catch (e) {
          rt.logger.error({ err: e, what: b.name }, 'could not stop cleanly');
        }
      }
      await rt.close();
      resolve();
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
