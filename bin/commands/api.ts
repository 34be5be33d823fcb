import { openRuntime, startApis, stopOnSignals } from '../runtime.ts';
import { configFromArgs, type Command } from './command.ts';

export const api = {
  name: 'api',
  summary: 'run the API services (identity, image, compute) on their ports',
  help: 'Runs the OpenStack APIs. Stateless: run any number behind a load balancer, all on the same PostgreSQL database (database.url) and RabbitMQ (bus.url). Run `nubo bootstrap` once first.',
  async run(argv) {
    const rt = await openRuntime(configFromArgs(argv), 'nubo-api');
    const apis = await startApis(rt);
    rt.logger.info({ endpoints: Object.fromEntries(apis.map((a) => [a.type, a.url])) }, 'nubo api started');
    await stopOnSignals(rt, apis);
    return 0;
  },
} satisfies Command;
