import { chooseDriver, driverBanner, logDriverChoice } from '../../compute-driver/drivers/choose.ts';
import { computeAgentFromConfig } from '../../compute-driver/index.ts';
import { createBus } from '../../lib/bus/index.ts';
import { ConfigError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { configFromArgs, type Command } from './command.ts';

export const compute: Command = {
  name: 'compute',
  summary: 'run the compute agent of this hypervisor host',
  help: [
    'Runs the compute agent of one hypervisor host (as nova-compute): it serves the topic',
    'compute.<compute.host> on RabbitMQ (bus.url), runs instances through the compute.driver',
    '(auto: qemu where QEMU runs, else fake, said loudly; or fake, or qemu), heartbeats every compute.report_interval seconds with the host\'s resources,',
    'and syncs power states every compute.sync_power_state_interval seconds. It needs no database:',
    'what it knows comes from the conductor. Guests keep running when the agent stops; a',
    'restarted agent adopts them.',
  ].join('\n'),
  async run(argv) {
    const config = configFromArgs(argv);
    if (!config['bus.url']) {
      throw new ConfigError('bus.url', 'nubo compute needs RabbitMQ (amqp://…): the in-process bus reaches only services in the same process');
    }
    const logger = createLogger({ level: config['log.level'], name: 'nubo-compute' });
    const choice = await chooseDriver(config, logger);
    logDriverChoice(logger, choice);
    const banner = driverBanner(choice);
    if (banner.length) process.stderr.write(banner.join('\n') + '\n');
    const driver = choice.driver;
    const bus = await createBus(config['bus.url'], { logger, callTimeoutMs: config['bus.call_timeout_ms'] });
    const agent = computeAgentFromConfig(config, bus, logger, driver);
    const signalled = new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    // A signal may come while the agent still waits for the conductor: stopping then ends the start.
    const starting = agent.start();
    let signal: string;
    try {
      signal = await Promise.race([signalled, starting.then(() => signalled)]);
    } catch (e) {
      await bus.close();
      throw e;
    }
    logger.info({ signal }, 'stopping');
    await agent.stop();
    await bus.close();
    await starting.catch((e) => logger.debug({ err: e }, 'start ended by the stop'));
    return 0;
  },
};
