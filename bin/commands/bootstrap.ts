import { join } from 'node:path';
import { openRuntime, runBootstrap } from '../runtime.ts';
import { configFromArgs, type Command } from './command.ts';

export const bootstrap: Command = {
  name: 'bootstrap',
  summary: 'create the default domain, admin project/user, roles and catalog',
  help: [
    'Like keystone-manage bootstrap: migrates the database, then creates what is missing of the',
    'default domain, the admin project and user, roles admin ⊃ member ⊃ reader, region and the',
    'catalog entry of the identity service (at api.public_host and identity.port).',
    'The admin password is identity.admin_password, or generated into <data_dir>/admin-password.',
  ].join('\n'),
  async run(argv) {
    const config = configFromArgs(argv);
    const rt = await openRuntime(config, 'nubo-bootstrap');
    try {
      const host = config['api.public_host'] || config['api.host'];
      const boot = await runBootstrap(rt, [{ type: 'identity', name: 'keystone', url: `http://${host}:${config['identity.port']}/v3/` }]);
      console.log(`bootstrapped: user ${config['identity.admin_user']} (${boot.userId}), project ${config['identity.admin_project']} (${boot.projectId})`);
      console.log(`admin password: ${config['identity.admin_password'] ? 'from configuration' : join(config.data_dir, 'admin-password')}`);
    } finally {
      await rt.close();
    }
    return 0;
  },
};
