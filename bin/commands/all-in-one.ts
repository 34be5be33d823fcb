import { join } from 'node:path';
import { expandHome } from '../../lib/config/index.ts';
import { writeCloudsYaml } from '../clouds-yaml.ts';
import { openRuntime, runBootstrap, startApis, startComputeServices, stopOnSignals } from '../runtime.ts';
import { driverBanner } from '../../compute-driver/drivers/choose.ts';
import { configFromArgs, type Command } from './command.ts';

export const allInOne: Command = {
  name: 'all-in-one',
  summary: 'run the whole cloud in one process (what `npm start` runs)',
  help: [
    'Runs every Nubo service in one process. With no configuration it uses the embedded',
    'PGlite database and the in-process bus under data_dir (./data). The first start',
    'migrates the database, bootstraps the admin project, user and catalog, and writes a',
    'clouds.yaml with the cloud `nubo`; later starts reuse all of it. The scheduler and conductor',
    'run on the in-process bus, with one compute agent for this host using compute.driver',
    '(auto by default: the qemu driver where QEMU runs, KVM or TCG; else the fake driver, said loudly,',
    'whose servers go ACTIVE with no virtual machine). With compute.default_image it registers that',
    'file once as a public image (npm start: the test guest), beside the default flavors (m1.nano…).',
  ].join('\n'),
  async run(argv) {
    const config = configFromArgs(argv);
    const rt = await openRuntime(config, 'nubo-all-in-one');
    const apis = await startApis(rt);
    const boot = await runBootstrap(rt, apis.filter((a) => a.catalog !== false).map((a) => ({ type: a.type, name: a.name, url: a.url })));
    const compute = await startComputeServices(rt);
    const identity = apis.find((a) => a.type === 'identity')!;
    const cloud = {
      authUrl: identity.url.replace(/\/$/, ''),
      username: config['identity.admin_user'],
      password: boot.password,
      projectName: config['identity.admin_project'],
      region: config['identity.region'],
    };
    const cloudsFiles = [join(config.data_dir, 'clouds.yaml')];
    if (config.clouds_yaml) cloudsFiles.push(expandHome(config.clouds_yaml));
    for (const file of cloudsFiles) writeCloudsYaml(file, cloud);

    const lines = [
      '',
      'Nubo is running.',
      ...apis.map((a) => `  ${a.type.padEnd(9)} ${a.url}`),
      '',
      `  admin user:     ${cloud.username} (domain Default), project ${cloud.projectName}`,
      `  admin password: ${boot.passwordGenerated ? 'generated into' : 'stored in'} ${join(config.data_dir, 'admin-password')}${config['identity.admin_password'] ? ' (set by configuration)' : ''}`,
      `  clouds.yaml:    ${cloudsFiles.join(', ')}`,
      `  compute host:   ${compute.host}, driver ${compute.driver.name}${compute.driver.accel ? ` (${compute.driver.accel.accel.toUpperCase()})` : ''}`,
      ...(driverBanner(compute.driver).length ? ['', ...driverBanner(compute.driver)] : []),
      '',
      '  Try: openstack --os-cloud nubo token issue',
      '',
    ];
    process.stderr.write(lines.join('\n') + '\n');
    rt.logger.info({ endpoints: Object.fromEntries(apis.map((a) => [a.type, a.url])) }, 'nubo all-in-one started');
    await stopOnSignals(rt, apis, compute.background);
    return 0;
  },
};
