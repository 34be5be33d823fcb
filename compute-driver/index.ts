/**
 * The compute agent as a process runs it: driver and options from the
 * configuration. `nubo compute` uses this; so can the all-in-one, on its
 * in-process bus.
 */
import { hostname } from 'node:os';
import type { Bus } from '../lib/bus/bus.ts';
import type { Config } from '../lib/config/index.ts';
import type { Logger } from '../lib/log.ts';
import { createComputeAgent, type ComputeAgent } from './agent/index.ts';
import type { ComputeDriver } from './driver.ts';
import { createDriver } from './drivers/index.ts';

export { createDriver };

/** compute.host, or the machine's host name. */
export const computeHost = (config: Config) => config['compute.host'] || hostname();

export function computeAgentFromConfig(config: Config, bus: Bus, logger: Logger, driver: ComputeDriver = createDriver(config, logger)): ComputeAgent {
  return createComputeAgent({
    bus,
    driver,
    host: computeHost(config),
    logger,
    reportIntervalMs: config['compute.report_interval'] * 1000,
    syncIntervalMs: config['compute.sync_power_state_interval'] * 1000,
    shutdownTimeoutSec: config['compute.shutdown_timeout'],
    console: {
      listen: config['compute.console_listen'],
      port: config['compute.console_listen_port'],
      address: config['compute.console_proxyclient_address'],
    },
  });
}

export { createComputeAgent, type ComputeAgent, type ComputeAgentOptions } from './agent/index.ts';
