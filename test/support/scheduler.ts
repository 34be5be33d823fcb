import { loadConfig } from '../../lib/config/index.ts';
import { nodeInventory, type Resources } from '../../scheduler/placement/resources.ts';
import { inventoryPolicy, schedulerOptions, type Flavor, type HostState, type ServiceState } from '../../scheduler/state.ts';

/** The defaults of the scheduler.* and compute.* options. */
const config = loadConfig({ env: {} });
export const defaultOptions = schedulerOptions(config);
export const defaultPolicy = inventoryPolicy(config);

export const NOW = Date.parse('2030-01-01T00:00:00Z');

export interface HostSpec {
  vcpus?: number;
  memoryMb?: number;
  localGb?: number;
  used?: Resources;
  service?: Partial<ServiceState>;
  instances?: string[];
  supportedInstances?: [string, string, string][];
  hypervisorType?: string;
}

/**
 * An in-memory host state: by default 8 vCPUs, 16 GB, 200 GB under the
 * default inventory policy (ratios 16 / 1.5 / 1, 512 MB reserved), enabled,
 * up at NOW, in zone nova, running x86_64/qemu/hvm.
 */
export function hostState(host: string, s: HostSpec = {}): HostState {
  return {
    host,
    nodename: host,
    providerUuid: `rp-${host}`,
    service: { disabled: false, disabledReason: null, forcedDown: false, lastSeenUp: NOW, availabilityZone: 'nova', ...s.service },
    hypervisorType: s.hypervisorType ?? 'QEMU',
    hypervisorVersion: 8002000,
    hostIp: null,
    supportedInstances: s.supportedInstances ?? [['x86_64', 'qemu', 'hvm']],
    inventory: nodeInventory({ vcpus: s.vcpus ?? 8, memoryMb: s.memoryMb ?? 16384, localGb: s.localGb ?? 200 }, defaultPolicy),
    used: s.used ?? {},
    instances: new Set(s.instances ?? []),
  };
}

export const smallFlavor: Flavor = { vcpus: 1, memoryMb: 1024, rootGb: 10, ephemeralGb: 0, swap: 0 };
