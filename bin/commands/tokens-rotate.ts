import { openRuntime } from '../runtime.ts';
import { configFromArgs, type Command } from './command.ts';

export const tokensRotate: Command = {
  name: 'tokens rotate',
  summary: 'rotate the token signing keys (staged → primary → secondary)',
  help: [
    'Rotates the token signing keys as keystone-manage fernet_rotate does: the staged key becomes',
    'primary, the primary becomes secondary, a new staged key is made, and secondaries beyond',
    'identity.max_active_keys are dropped. Tokens signed by a kept key stay valid. Running API',
    'processes pick the new keys up at once over the bus.',
  ].join('\n'),
  async run(argv) {
    const rt = await openRuntime(configFromArgs(argv), 'nubo-tokens');
    try {
      await rt.tokens.rotate();
      console.log('token signing keys rotated');
    } finally {
      await rt.close();
    }
    return 0;
  },
};
