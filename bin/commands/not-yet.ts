import type { Command } from './command.ts';

const notYet = (name: string, what: string): Command => ({
  name,
  summary: `run the ${what} (arrives with the compute service)`,
  help: `The ${what} process is part of the compute service, which is not built yet. This command exits with status 2 until it is.`,
  async run() {
    console.error(`nubo ${name}: the ${what} is not built yet (it arrives with the compute service)`);
    return 2;
  },
});

export const scheduler = notYet('scheduler', 'scheduler');
export const compute = notYet('compute', 'compute agent');
