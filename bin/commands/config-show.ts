import { describeConfig, envName, options } from '../../lib/config/index.ts';
import { configFromArgs, type Command } from './command.ts';

export const configShow: Command = {
  name: 'config show',
  summary: 'print the effective configuration (secrets masked)',
  help: 'Prints every option with its effective value (defaults, then the YAML file, then NUBO_* variables), its environment variable and its meaning. Secrets are masked.',
  async run(argv) {
    const config = configFromArgs(argv);
    const shown = describeConfig(config);
    console.log(`# configuration file: ${config.source ?? '(none)'}`);
    for (const [name, value] of Object.entries(shown)) {
      console.log(`${name} = ${JSON.stringify(value)}    # ${envName(name)}: ${options[name as keyof typeof options].doc}`);
    }
    return 0;
  },
};
