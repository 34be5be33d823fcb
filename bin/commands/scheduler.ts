import { imageTokenSeconds, instanceTokenIssuer } from '../../api/identity/auth/delegated-token.ts';
import { createTokenService } from '../../lib/tokens/index.ts';
import { createBus } from '../../lib/bus/index.ts';
import { closeDatabase, migrate, openDatabase } from '../../lib/db/index.ts';
import { ConfigError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { createConductor } from '../../scheduler/conductor/index.ts';
import { configFromArgs, type Command } from './command.ts';

export const scheduler: Command = {
  name: 'scheduler',
  summary: 'run the scheduler and conductor',
  help: [
    'Runs the scheduler and conductor (as nova-scheduler with nova-conductor): it serves the',
    'topics `scheduler` (build requests from the API: pick a host, claim its resources, send the',
    'build to that host\'s compute agent, reschedule failed builds) and `conductor` (what the',
    'compute agents report: heartbeats and inventory, instance states, action events) on',
    'RabbitMQ (bus.url), with the state in PostgreSQL (database.url). Every',
    'scheduler.sweep_interval seconds it also sweeps for builds left stuck by a crash or a lost',
    'message (scheduler.build_timeout), builds on hosts that went down, and leaked claims. Run',
    'any number of them: they share the work and never claim the same resources twice.',
  ].join('\n'),
  async run(argv) {
    const config = configFromArgs(argv);
    if (!config['bus.url']) {
      throw new ConfigError('bus.url', 'nubo scheduler needs RabbitMQ (amqp://…): the in-process bus reaches only services in the same process');
    }
    if (!config['database.url']) {
      throw new ConfigError('database.url', 'nubo scheduler needs PostgreSQL (postgres://…) shared with the API: the embedded database belongs to one process');
    }
    const logger = createLogger({ level: config['log.level'], name: 'nubo-scheduler' });
    const db = openDatabase({ url: config['database.url'], dataDir: config.data_dir, poolMax: config['database.pool_max'] });
    try {
      const applied = await migrate(db);
      if (applied.length) logger.info({ migrations: applied }, 'database migrated');
      const bus = await createBus(config['bus.url'], { logger, callTimeoutMs: config['bus.call_timeout_ms'] });
      // Tokens for the compute agents' image downloads (the instance's user on its project).
      const tokens = await createTokenService({ db, bus, config, logger });
      const conductor = createConductor({ db, bus, config, logger, imageToken: instanceTokenIssuer({ db, tokens, logger }, imageTokenSeconds(config)) });
      const signalled = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      try {
        await conductor.start();
        const signal = await signalled;
        logger.info({ signal }, 'stopping');
        await conductor.stop();
      } finally {
        await tokens.close();
        await bus.close();
      }
    } finally {
      await closeDatabase(db);
    }
    return 0;
  },
};
