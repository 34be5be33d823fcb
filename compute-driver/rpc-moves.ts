/**
 * The compute.<host> messages of resize and cold migration (part of the
 * contract in rpc.ts, which re-exports them).
 */
import type { BlockDeviceInfo, ImageMeta, InstanceRef, InstanceSpec, MigrationInfo, NetworkInfo } from './driver.ts';
import type { InstanceAction, InstanceTarget } from './rpc.ts';

/** An instance as a move's message carries it: the spec (with the flavor it is to have on that host) and its states. */
export type MovingInstance = InstanceSpec & Pick<InstanceTarget, 'vm_state' | 'task_state'>;

/**
 * Resize and cold migration (Nova's prep_resize/resize_instance/finish_resize
 * and confirm/revert), between the conductor, the source host and the
 * destination host (which may be the same). Every message carries the
 * migration; each instance_update of these flows names it (InstanceUpdate
 * .migration), which lets the conductor accept it from either host of the
 * move, set the migration's status in the same transaction, switch the
 * instance's flavor (new at `finished`, old at `reverted`) and move the
 * placement allocations (see scheduler/conductor/resize.ts).
 *
 * cast resize_instance — to the SOURCE, from the conductor once it has
 * claimed the new flavor on the destination (task_state resize_prep,
 * migration pre-migrating). The agent sets resize_migrating (migration
 * migrating), runs driver.migrateDiskAndPowerOff, then sets resize_migrated
 * with host/node = the destination (migration post-migrating) and casts
 * finish_resize to the destination. A failure before the guest moved puts the
 * instance back (vm_state as it was, task_state null, a fault) and the
 * migration in error; NotSupported likewise.
 */
export interface ResizeInstance extends InstanceAction {
  /** With the OLD flavor: the guest as it runs on the source. */
  instance: MovingInstance;
  migration: MigrationInfo;
  image: ImageMeta;
  network_info: NetworkInfo;
  block_device_info: BlockDeviceInfo;
  /** The disks the new flavor has (for finish_resize). */
  new_block_device_info: BlockDeviceInfo;
  clean_shutdown: boolean;
}

/**
 * cast finish_resize — to the DESTINATION, from the source agent. The agent
 * sets resize_finish (expected resize_migrated), runs driver.finishMigration
 * (the guest started unless it was stopped), then vm_state resized,
 * task_state null (migration finished: the conductor switches the flavor).
 * Failure: vm_state error, migration error.
 */
export interface FinishResize extends InstanceAction {
  /** With the NEW flavor. */
  instance: MovingInstance;
  migration: MigrationInfo;
  image: ImageMeta;
  /** What migrateDiskAndPowerOff returned on the source. */
  disk_info: string;
  network_info: NetworkInfo;
  block_device_info: BlockDeviceInfo;
}

/**
 * cast confirm_resize — to the SOURCE, from the API (vm_state resized,
 * migration confirming). driver.confirmMigration removes what the source
 * kept for a revert; then vm_state active (stopped when the guest is off),
 * task_state null, migration confirmed: the conductor frees the source's
 * allocation. Failure: vm_state error, migration error.
 */
export interface ConfirmResize extends InstanceAction {
  migration: MigrationInfo;
  network_info?: NetworkInfo;
}

/**
 * cast revert_resize — to the DESTINATION, from the API (task_state
 * resize_reverting, migration reverting). The agent destroys the guest there
 * with its disks (driver.destroy; what the source kept aside for the revert
 * is not the guest's, even on the same host), hands the instance back
 * (host/node = the source) and casts finish_revert_resize to the source.
 */
export interface RevertResize extends InstanceAction {
  /** With the NEW flavor (the one it has now). */
  instance: MovingInstance;
  migration: MigrationInfo;
  network_info: NetworkInfo;
  block_device_info: BlockDeviceInfo;
  /** The old flavor's disks (for finish_revert_resize). */
  old_block_device_info: BlockDeviceInfo;
}

/**
 * cast finish_revert_resize — to the SOURCE, from the destination agent.
 * driver.finishRevertMigration brings the old guest back (started unless it
 * was stopped); vm_state active or stopped, task_state null, migration
 * reverted: the conductor restores the old flavor and gives the source's
 * allocation back to the instance. Failure: vm_state error, migration error.
 */
export interface FinishRevertResize extends InstanceAction {
  /** With the OLD flavor. */
  instance: MovingInstance;
  migration: MigrationInfo;
  network_info: NetworkInfo;
  /** The old flavor's disks. */
  block_device_info: BlockDeviceInfo;
}

/**
 * cast cleanup_migration — from the conductor (scheduler/conductor/
 * move-cleanup.ts), to a host of a move that ended without confirm or
 * revert: its instance was deleted, or the move is in error and the instance
 * lives, settled, on another host. Not an instance action (no event, no
 * instance_update: the instance may be gone). On the SOURCE the agent runs
 * driver.confirmMigration (the kept disks go) and casts migration_cleaned
 * back; on the DESTINATION (`destination` true, never the instance's host)
 * driver.cleanupMigrationDestination removes a half-made guest. Idempotent:
 * a re-sent one finds nothing and acknowledges again.
 */
export interface CleanupMigration {
  request_id: string;
  instance: InstanceRef;
  migration: MigrationInfo;
  /** This host is the move's destination, and the instance is not on it. */
  destination: boolean;
}

/**
 * cast migration_cleaned — to the conductor, from the source of a move after
 * cleanup_migration: the migration goes from error to failed, and is not
 * cleaned again. A lost one leaves it in error: the conductor asks again.
 */
export interface MigrationCleaned {
  migration_uuid: string;
  host: string;
}
