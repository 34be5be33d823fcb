/**
 * Made-up instances for the fake driver: what tests and scale runs (bench/)
 * build when no API is involved.
 */
import { randomUUID } from 'node:crypto';
import type { Flavor, ImageMeta, InstanceSpec } from '../../driver.ts';

export const sampleFlavor: Flavor = { flavorid: '1', name: 'm1.tiny', vcpus: 1, memory_mb: 512, root_gb: 1, ephemeral_gb: 0, swap: 0, extra_specs: {} };

export const sampleImage: ImageMeta = {
  id: '00000000-0000-4000-8000-00000000cafe',
  name: 'cirros',
  disk_format: 'qcow2',
  container_format: 'bare',
  properties: {},
};

let counter = 0;

/** A new instance spec: a fresh uuid and instance name (instance-0000002a), m1.tiny, then `over`. */
export function sampleInstance(over: Partial<InstanceSpec> = {}): InstanceSpec {
  const n = ++counter;
  return {
    uuid: randomUUID(),
    name: `instance-${n.toString(16).padStart(8, '0')}`,
    display_name: `server-${n}`,
    hostname: `server-${n}`,
    project_id: 'project',
    user_id: 'user',
    flavor: sampleFlavor,
    metadata: {},
    user_data: null,
    key_name: null,
    key_data: null,
    config_drive: false,
    launch_index: 0,
    availability_zone: null,
    ...over,
  };
}
