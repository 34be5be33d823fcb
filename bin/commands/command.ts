import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../../lib/config/index.ts';

export interface Command {
  /** The words after `nubo`, e.g. 'db migrate'. */
  name: string;
  summary: string;
  help: string;
  usage?: string;
  run(argv: string[]): Promise<number>;
}

/** Parses `--config FILE` (the only option most commands take) and loads the configuration. */
export function configFromArgs(argv: string[]): Config {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true });
  return loadConfig({ file: values.config });
}
