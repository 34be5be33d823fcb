/**
 * What the conductor and the API make of a migration row for the agents:
 * the MigrationInfo every move message carries, and the instance spec with
 * the flavor it has on one end of the move.
 */
import type { Flavor, MigrationInfo, MovingInstance, TaskState, VmState } from '../../compute-driver/rpc.ts';
import { flavorOf, instanceSpecOf } from './messages.ts';
import type { MigrationRow } from './migration-store.ts';
import type { InstanceRow } from './store.ts';

const rootOf = (f: Record<string, unknown>) => Number(f.root_gb ?? f.disk ?? 0) || 0;

/** A migration's old or new flavor as the driver takes it. */
export function migrationFlavor(m: MigrationRow, which: 'old' | 'new'): Flavor {
  const f = which === 'old' ? m.old_flavor : m.new_flavor;
  return flavorOf({
    flavor: f as unknown as InstanceRow['flavor'],
    vcpus: which === 'old' ? m.old_vcpus : m.new_vcpus,
    memory_mb: which === 'old' ? m.old_memory_mb : m.new_memory_mb,
    root_gb: rootOf(f),
  });
}

export function migrationInfoOf(m: MigrationRow): MigrationInfo {
  return {
    uuid: m.uuid,
    migration_type: m.migration_type,
    source_compute: m.source_compute ?? '',
    source_node: m.source_node ?? m.source_compute ?? '',
    dest_compute: m.dest_compute ?? '',
    dest_node: m.dest_node ?? m.dest_compute ?? '',
    old_flavor: migrationFlavor(m, 'old'),
    new_flavor: migrationFlavor(m, 'new'),
    old_vm_state: m.old_vm_state,
  };
}

/** The instance as a move message carries it, with `flavor`. */
export function movingInstanceOf(row: InstanceRow, flavor: Flavor): MovingInstance {
  return { ...instanceSpecOf(row), flavor, vm_state: row.vm_state as VmState, task_state: row.task_state as TaskState | null };
}

/** The columns of the instance row that hold its flavor. */
export function flavorColumns(m: MigrationRow, which: 'old' | 'new'): Pick<InstanceRow, 'flavor' | 'vcpus' | 'memory_mb' | 'root_gb'> {
  const f = which === 'old' ? m.old_flavor : m.new_flavor;
  return {
    flavor: f as unknown as InstanceRow['flavor'],
    vcpus: which === 'old' ? m.old_vcpus : m.new_vcpus,
    memory_mb: which === 'old' ? m.old_memory_mb : m.new_memory_mb,
    root_gb: rootOf(f),
  };
}
