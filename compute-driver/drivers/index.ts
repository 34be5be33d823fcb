/**
 * The drivers an agent can run (config compute.driver). A new driver plugs in
 * here: a class implementing ComputeDriver (driver.ts) and one case below.
 * `auto` (the default) is chosen by choose.ts.
 */
import { join } from 'node:path';
import type { Config } from '../../lib/config/index.ts';
import { ConfigError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { ComputeDriver } from '../driver.ts';
import { FakeDriver } from './fake/index.ts';
import type { AccelMode } from './qemu/accel.ts';
import { QemuDriver } from './qemu/index.ts';

/** `logger` is the agent's: the driver's lines carry its fields (the qemu driver logs; the fake one does not). */
export function createDriver(config: Config, logger?: Logger): ComputeDriver {
  const name = config['compute.driver'];
  switch (name) {
    case 'fake':
      return new FakeDriver({
        spawnMs: config['compute.fake.spawn_ms'],
        failRate: config['compute.fake.fail_rate'],
        vcpus: config['compute.fake.vcpus'],
        memoryMb: config['compute.fake.memory_mb'],
        localGb: config['compute.fake.local_gb'],
      });
    case 'qemu':
      return new QemuDriver({
        stateDir: config['compute.qemu.state_dir'] || join(config.data_dir, 'instances'),
        accel: config['compute.qemu.accel'] as AccelMode,
        softRebootSeconds: config['compute.qemu.soft_reboot_seconds'],
        logger,
      });
    case 'auto':
      throw new ConfigError('compute.driver', 'auto is resolved by chooseDriver (compute-driver/drivers/choose.ts), which probes the host first');
    default:
      throw new ConfigError('compute.driver', `unknown driver ${String(name)}`);
  }
}
