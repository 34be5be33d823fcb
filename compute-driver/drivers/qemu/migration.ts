/**
 * Resize and cold migration in the qemu driver (Nova's libvirt
 * migrate_disk_and_power_off, finish_migration, confirm_migration,
 * finish_revert_migration), on one state directory or between two:
 *
 * - source: the guest is powered off (ACPI for the timeout, then the plug)
 *   and its directory renamed `<uuid>_resize` (kept disks, launch.json,
 *   console log): nothing is deleted. A smaller root (or ephemeral) disk is
 *   refused before anything changes. diskInfo says where the kept disks are.
 * - destination (this host or another agent's state directory on the same
 *   machine): a new `<uuid>/` with COPIES of the kept disks (the kept ones
 *   stay as they were, for a revert), the root overlay pointed at this
 *   host's cached base and grown to the new root_gb, the ephemeral disk
 *   grown (or made), swap and config drive made anew, a launch record with
 *   the new flavor. Until it is complete the directory holds an
 *   `incoming-resize` marker: a re-run or a revert finds it half made and
 *   removes it, never the kept disks.
 * - confirm removes `<uuid>_resize`; revert renames it back to `<uuid>/`
 *   (removing what a destination on this host may have left) and starts it.
 * - a move that ended otherwise (in error, or its instance deleted) has the
 *   conductor ask for the same as confirm on the source
 *   (scheduler/conductor/move-cleanup.ts), and on the destination for the
 *   removal of a `<uuid>/` still marked incoming (cleanupDestination).
 *
 * Every step is a rename or works on copies, so an agent that dies midway
 * leaves the kept disks where a re-run or a revert finds them; init skips
 * `_resize` directories (instance-dir.ts) and the image cache counts their
 * base image as in use.
 */
import { constants, existsSync } from 'node:fs';
import { access, copyFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Logger } from '../../../lib/log.ts';
import {
  DriverError,
  InstanceNotFound,
  type BlockDeviceInfo,
  type Flavor,
  type ImageMeta,
  type InstanceRef,
  type InstanceSpec,
  type MigrationInfo,
  type NetworkInfo,
} from '../../driver.ts';
import { PowerState } from '../../states.ts';
import type { Accel } from './accel.ts';
import { buildConfigDrive } from './config-drive.ts';
import type { CachedImage, ImageCache } from './image-cache.ts';
import { InstanceDir, keptUuids, RESIZE_SUFFIX, type LaunchRecord } from './instance-dir.ts';
import { machineArgs, OVMF_VARS, wantsUefi } from './machine.ts';
import type { GuestMonitor } from './monitor.ts';
import { createBlank, growDisk, imageInfo, rebaseUnsafe } from './qemu-img.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** In a destination directory that finishMigration has not completed. */
const INCOMING_MARKER = 'incoming-resize';

/** What the driver lends the moves. */
export interface MigrationHost {
  readonly stateDir: string;
  readonly hostName: string;
  readonly log: Logger;
  readonly images: ImageCache;
  readonly accel: Accel;
  dir(uuid: string): InstanceDir;
  start(dir: InstanceDir, record: LaunchRecord): Promise<GuestMonitor>;
  powerStateOf(dir: InstanceDir): Promise<PowerState>;
  /** ACPI for up to timeoutSec, then quit, then SIGKILL; no saved state left. */
  powerOff(instance: InstanceRef, timeoutSec: number, retryIntervalSec: number): Promise<void>;
  /** Stops the guest's process (if any) at once and removes its directory. */
  forget(dir: InstanceDir): Promise<void>;
  /** Runs `make` with `image` pinned; a failure removes the guest's directory and releases the image. */
  makeGuest(dir: InstanceDir, image: ImageMeta, make: (base: CachedImage) => Promise<void>): Promise<void>;
  imageInUse(imageId: string): Promise<boolean>;
}

/** A kept disk as diskInfo names it. */
interface KeptDisk {
  path: string;
  format: string;
  virtual_size: number;
}

/** migrateDiskAndPowerOff's answer, as JSON: where finishMigration finds the disks. */
export interface QemuDiskInfo {
  version: 1;
  source_host: string;
  /** The kept directory (`<source state dir>/<uuid>_resize`). */
  kept_dir: string;
  image_id: string;
  /** The source's cached base image the root overlay is made on. */
  base_path: string;
  base_format: string | null;
  root: KeptDisk;
  ephemeral: KeptDisk | null;
  /** The UEFI variable store, when the guest has one. */
  nvram: string | null;
  created_at: string;
}

/** Nova's ResizeError ("Unable to resize disk down."): refused before anything changed, so no reschedule. */
export class ResizeError extends DriverError {
  constructor(reason: string) {
    super(`Resize error: ${reason}`, { code: 400, reschedule: false, name: 'ResizeError' });
  }
}

export const keptDir = (stateDir: string, uuid: string) => new InstanceDir(stateDir, uuid, `${uuid}${RESIZE_SUFFIX}`);

const isIncoming = (dir: InstanceDir) => existsSync(`${dir.path}/${INCOMING_MARKER}`);

/** The ephemeral GiB and swap MiB of `flavor` (or of the block device info when it names them), as spawn counts them. */
function extraDisks(flavor: Flavor, bdi?: BlockDeviceInfo): { ephemeralGb: number; swapMb: number } {
  const ephemeralGb = bdi?.ephemerals.length ? bdi.ephemerals.reduce((n, e) => n + e.size, 0) : flavor.ephemeral_gb;
  return { ephemeralGb, swapMb: bdi?.swap?.swap_size ?? flavor.swap };
}

/** Copies a disk (a reflink where the file system can). */
const copyDisk = (from: string, to: string) => copyFile(from, to, constants.COPYFILE_FICLONE);

export class Migrations {
  constructor(private readonly host: MigrationHost) {}

  /** The images the kept disks of unfinished moves need (the image cache must not remove their bases). */
  async keptImageIds(): Promise<string[]> {
    const ids: string[] = [];
    for (const uuid of await keptUuids(this.host.stateDir)) {
      const r = await keptDir(this.host.stateDir, uuid).readLaunch().catch(() => null);
      if (r) ids.push(r.imageId);
    }
    return ids;
  }

  async migrateDiskAndPowerOff(instance: InstanceSpec, migration: MigrationInfo, timeoutSec: number, retryIntervalSec: number): Promise<string> {
    const { host } = this;
    const dir = host.dir(instance.uuid);
    const kept = keptDir(host.stateDir, instance.uuid);
    if (kept.exists()) {
      // A re-run after the agent died: the guest was already put aside (what is in <uuid>/ is a half-made destination).
      if (!dir.exists() || isIncoming(dir)) return JSON.stringify(await this.describe(kept));
      host.log.warn({ uuid: instance.uuid, kept: kept.path }, 'removing the disks a previous resize kept: the instance runs from its own directory');
      await kept.remove();
    }
    if (!dir.exists()) throw new InstanceNotFound(instance.uuid);
    const record = await dir.readLaunch();
    await this.refuseShrink(dir, record, migration.new_flavor);
    await host.powerOff(instance, timeoutSec, retryIntervalSec);
    for (const f of [dir.qmp, dir.vnc, dir.pidfile]) await rm(f, { force: true });
    await rename(dir.path, kept.path);
    const info = await this.describe(kept);
    host.log.info({ uuid: instance.uuid, migration: migration.uuid, dest: migration.dest_compute, kept: kept.path }, 'resize: the guest is off and its disks are kept aside');
    return JSON.stringify(info);
  }

  async finishMigration(instance: InstanceSpec, migration: MigrationInfo, diskInfo: string, image: ImageMeta, networkInfo: NetworkInfo, bdi: BlockDeviceInfo, powerOn: boolean): Promise<void> {
    const { host } = this;
    const info = parseDiskInfo(diskInfo);
    const dir = host.dir(instance.uuid);
    if (dir.exists()) {
      if (!isIncoming(dir)) throw new DriverError(`Instance ${instance.uuid} already exists on ${host.hostName}.`, { code: 409, reschedule: false, name: 'InstanceExists' });
      await host.forget(dir);
    }
    for (const disk of [info.root, info.ephemeral, ...(info.nvram ? [{ path: info.nvram }] : [])]) {
      if (!disk) continue;
      await access(disk.path, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
        throw new DriverError(
          `The disks of instance ${instance.uuid} kept on ${info.source_host} (${info.kept_dir}) cannot be read on ${host.hostName} (${e.code}): ` +
            'this driver moves disks between state directories of one machine only.',
          { reschedule: false, name: 'MigrationError' },
        );
      });
    }
    await dir.create();
    await writeFile(`${dir.path}/${INCOMING_MARKER}`, `${migration.uuid}\n`);
    await host.makeGuest(dir, image, async (base) => {
      const { root_gb } = instance.flavor;
      const { ephemeralGb, swapMb } = extraDisks(instance.flavor, bdi);
      await copyDisk(info.root.path, dir.disk);
      if (base.path !== info.base_path) await rebaseUnsafe(dir.disk, base.path, base.format);
      let rootBytes = info.root.virtual_size;
      if (root_gb > 0 && root_gb * GiB > rootBytes) {
        rootBytes = root_gb * GiB;
        await growDisk(dir.disk, rootBytes);
      }
      if (ephemeralGb > 0) {
        if (info.ephemeral) {
          await copyDisk(info.ephemeral.path, dir.ephemeral);
          if (ephemeralGb * GiB > info.ephemeral.virtual_size) await growDisk(dir.ephemeral, ephemeralGb * GiB);
        } else {
          await createBlank(dir.ephemeral, ephemeralGb * GiB);
        }
      }
      if (swapMb > 0) await createBlank(dir.swap, swapMb * MiB);
      if (info.nvram) await copyFile(info.nvram, dir.nvram);
      else if (wantsUefi(image)) await copyFile(OVMF_VARS, dir.nvram);
      await buildConfigDrive(dir.configDrive, instance, networkInfo);
      const disks = { root: dir.disk, ephemeral: ephemeralGb > 0 ? dir.ephemeral : null, swap: swapMb > 0 ? dir.swap : null, configDrive: dir.configDrive };
      const argv = machineArgs(instance, image, host.accel, dir, disks);
      const diskGb = Math.ceil(rootBytes / GiB) + ephemeralGb + Math.ceil(swapMb / 1024);
      const record: LaunchRecord = { spec: instance, imageId: image.id, basePath: base.path, argv, diskGb, createdAt: info.created_at };
      await dir.writeLaunch(record);
      await rm(`${dir.path}/${INCOMING_MARKER}`, { force: true });
      if (powerOn) await host.start(dir, record);
      host.log.info({ uuid: instance.uuid, migration: migration.uuid, source: info.source_host, flavor: instance.flavor.name, powerOn }, 'resize: the guest is made with the new flavor');
    });
  }

  async confirmMigration(instance: InstanceRef, migration: MigrationInfo): Promise<void> {
    const { host } = this;
    const kept = keptDir(host.stateDir, instance.uuid);
    if (!kept.exists()) return;
    const record = await kept.readLaunch().catch(() => null);
    await kept.remove();
    if (record) await host.images.release(record.imageId, (id) => host.imageInUse(id));
    host.log.info({ uuid: instance.uuid, migration: migration.uuid }, 'resize confirmed: the kept disks are removed');
  }

  /** Removes `<uuid>/` when finishMigration did not complete it (its incoming marker is there); a complete guest stays. */
  async cleanupDestination(instance: InstanceRef, migration: MigrationInfo): Promise<void> {
    const dir = this.host.dir(instance.uuid);
    if (!dir.exists() || !isIncoming(dir)) return;
    await this.host.forget(dir);
    this.host.log.info({ uuid: instance.uuid, migration: migration.uuid }, 'removed what an unfinished move half made here');
  }

  async finishRevertMigration(instance: InstanceSpec, migration: MigrationInfo, powerOn: boolean): Promise<void> {
    const { host } = this;
    const dir = host.dir(instance.uuid);
    const kept = keptDir(host.stateDir, instance.uuid);
    if (!kept.exists()) {
      // A re-run after the rename back: the old guest is in its directory already.
      const record = dir.exists() && !isIncoming(dir) ? await dir.readLaunch().catch(() => null) : null;
      if (!record || record.spec.flavor.flavorid !== instance.flavor.flavorid) {
        throw new DriverError(`Nothing of instance ${instance.uuid} is kept on ${host.hostName} to revert the resize to.`, { reschedule: false, name: 'MigrationError' });
      }
      if (powerOn && (await host.powerStateOf(dir)) !== PowerState.RUNNING) await host.start(dir, record);
      return;
    }
    if (dir.exists()) {
      // What the destination left on this host (its destroy failed, or a half-made guest).
      host.log.warn({ uuid: instance.uuid, dir: dir.path }, 'revert: removing what the resized guest left here');
      await host.forget(dir);
    }
    await rename(kept.path, dir.path);
    const record = await dir.readLaunch();
    if (powerOn) await host.start(dir, record);
    host.log.info({ uuid: instance.uuid, migration: migration.uuid, powerOn }, 'resize reverted: the old guest is back');
  }

  /** Refuses a new flavor whose root or ephemeral disk is smaller than the guest's (nothing changed yet). */
  private async refuseShrink(dir: InstanceDir, record: LaunchRecord, flavor: Flavor): Promise<void> {
    const root = await imageInfo(dir.disk, 'qcow2', true);
    const newRoot = flavor.root_gb > 0 ? flavor.root_gb * GiB : (await imageInfo(record.basePath).catch(() => root)).virtualSize;
    if (newRoot < root.virtualSize) throw new ResizeError(`Unable to resize disk down (root disk ${root.virtualSize} bytes, flavor ${flavor.name} has ${newRoot}).`);
    if (existsSync(dir.ephemeral)) {
      const eph = await imageInfo(dir.ephemeral, 'qcow2', true);
      if (flavor.ephemeral_gb * GiB < eph.virtualSize) throw new ResizeError(`Unable to resize ephemeral disk down (${eph.virtualSize} bytes, flavor ${flavor.name} has ${flavor.ephemeral_gb} GiB).`);
    }
  }

  private async describe(kept: InstanceDir): Promise<QemuDiskInfo> {
    const record = await kept.readLaunch();
    const disk = async (path: string): Promise<KeptDisk & { backingFormat: string | null }> => {
      const i = await imageInfo(path, 'qcow2', true);
      return { path, format: i.format, virtual_size: i.virtualSize, backingFormat: i.backingFormat };
    };
    const { backingFormat, ...root } = await disk(kept.disk);
    const eph = existsSync(kept.ephemeral) ? await disk(kept.ephemeral) : null;
    return {
      version: 1,
      source_host: this.host.hostName,
      kept_dir: kept.path,
      image_id: record.imageId,
      base_path: record.basePath,
      base_format: backingFormat,
      root,
      ephemeral: eph && { path: eph.path, format: eph.format, virtual_size: eph.virtual_size },
      nvram: existsSync(kept.nvram) ? kept.nvram : null,
      created_at: record.createdAt,
    };
  }
}

function parseDiskInfo(text: string): QemuDiskInfo {
  let info: QemuDiskInfo;
  try {
    info = JSON.parse(text) as QemuDiskInfo;
  } catch {
    throw new DriverError('The disk info of the move is not what the qemu driver gives (not JSON).', { reschedule: false, name: 'MigrationError' });
  }
  if (info?.version !== 1 || !info.root?.path) throw new DriverError('The disk info of the move is not what the qemu driver gives.', { reschedule: false, name: 'MigrationError' });
  return info;
}
