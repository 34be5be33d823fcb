import { ConfigError } from '../lib/errors.ts';
import { commands } from './commands/index.ts';

const usage = () => `Usage: nubo <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`).join('\n')}

Every command takes --config FILE (or NUBO_CONFIG) and --help.
Configuration: \`nubo config show\` prints every option, its value and where it is documented.`;

/** Runs one `nubo` command; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const words: string[] = [];
  while (argv.length && !argv[0].startsWith('-')) words.push(argv.shift()!);
  if (words.length === 0) {
    console.log(usage());
    return argv.includes('--help') || argv.includes('-h') ? 0 : 2;
  }
  const command = commands.find((c) => c.name === words.join(' ')) ?? commands.find((c) => c.name === words[0]);
  if (!command) {
    console.error(`nubo: unknown command '${words.join(' ')}'\n\n${usage()}`);
    return 2;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`Usage: nubo ${command.name} ${command.usage ?? '[--config FILE]'}\n\n${command.help}`);
    return 0;
  }
  try {
    return await command.run(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`nubo: bad configuration: ${e.message}`);
      return 78;
    }
    if ((e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`nubo ${command.name}: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
}
