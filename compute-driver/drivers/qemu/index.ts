/**
 * The qemu driver: each guest is its own qemu-system-x86_64 process, driven
 * over QMP without libvirt (as Incus does), in its own directory under the
 * state directory (instance-dir.ts). KVM when it really works here, TCG
 * otherwise (accel.ts). Root disks are qcow2 overlays of base images cached
 * from Glance (image-cache.ts, disks.ts); every guest gets a config drive
 * (config-drive.ts). Guests outlive the agent: init adopts the processes it
 * finds. Power actions: power.ts; snapshots: snapshot.ts; remote consoles:
 * consoles.ts; resize and cold migration: migration.ts.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../../lib/log.ts';
import {
  DriverError,
  InstanceNotFound,
  noCapabilities,
  type BlockDeviceInfo,
  type ComputeDriver,
  type ConsoleKind,
  type DriverCapabilities,
  type HostResources,
  type ImageMeta,
  type InstanceInfo,
  type InstanceRef,
  type InstanceSpec,
  type LifecycleEvent,
  type MigrationInfo,
  type NetworkInfo,
  type RebootType,
  type RebuildOptions,
  type SnapshotTarget,
  type SpawnOptions,
} from '../../driver.ts';
import { PowerState } from '../../states.ts';
import { detectAccel, type Accel, type AccelMode } from './accel.ts';
import { buildConfigDrive } from './config-drive.ts';
import { readConsoleLog, rotateConsoleLog } from './console-log.ts';
import { consoleSocketOf } from './consoles.ts';
import { prepareDisks } from './disks.ts';
import { ImageCache, type CachedImage } from './image-cache.ts';
import { InstanceDir, instanceUuids, MAX_SOCKET_PATH, type LaunchRecord } from './instance-dir.ts';
import { machineArgs, withAccel, withSerialSocket } from './machine.ts';
import { Migrations, type MigrationHost } from './migration.ts';
import { GuestMonitor } from './monitor.ts';
import { PowerActions, type GuestHost } from './power.ts';
import { cpuTimeNs, killGuest, launch, livePid, QEMU_BINARY, qemuVersion } from './process.ts';
import { hostResources } from './resources.ts';
import { recoverSnapshot, snapshotGuest } from './snapshot.ts';

export interface QemuDriverOptions {
  /** Where instance directories and the image cache live (compute.qemu.state_dir). */
  stateDir: string;
  /** compute.qemu.accel: auto probes KVM, and keeps the answer in accelCacheFile. Default auto. */
  accel?: AccelMode;
  /** Where the KVM probe's answer is kept (accel-cache.ts). Default <stateDir>/accel-probe.json. */
  accelCacheFile?: string;
  /** Seconds a soft reboot waits for the guest to power off before a hard one (compute.qemu.soft_reboot_seconds). Default 120. */
  softRebootSeconds?: number;
  /** The QEMU binary. Default qemu-system-x86_64 on PATH. */
  qemu?: string;
  logger?: Logger;
}

/** How often the guests' console logs are checked for rotation (console-log.ts). */
const CONSOLE_ROTATION_MS = 60_000;

export class QemuDriver implements ComputeDriver, GuestHost, MigrationHost {
  readonly type = 'qemu';
  readonly capabilities: DriverCapabilities = {
    ...noCapabilities,
    has_imagecache: true,
    supports_migrate_to_same_host: true,
    supports_image_type_raw: true,
    supports_image_type_qcow2: true,
  };

  readonly stateDir: string;
  readonly qemu: string;
  readonly log: Logger;
  readonly images: ImageCache;
  private readonly power: PowerActions;
  private readonly moves: Migrations;
  private readonly monitors = new Map<string, GuestMonitor>();
  private readonly accelMode: AccelMode;
  private readonly accelCacheFile: string;
  private accelResult: Accel | null = null;
  private version = '0.0.0';
  private host = 'localhost';
  private listener: ((event: LifecycleEvent) => void) | null = null;
  private consoleRotation: NodeJS.Timeout | null = null;

  constructor(opts: QemuDriverOptions) {
    this.stateDir = opts.stateDir;
    this.qemu = opts.qemu ?? QEMU_BINARY;
    this.accelMode = opts.accel ?? 'auto';
    this.accelCacheFile = opts.accelCacheFile ?? join(this.stateDir, 'accel-probe.json');
    this.log = (opts.logger ?? createLogger({ name: 'nubo-compute' })).child({ component: 'qemu-driver' });
    this.images = new ImageCache(this.stateDir);
    this.power = new PowerActions(this, (opts.softRebootSeconds ?? 120) * 1000);
    this.moves = new Migrations(this);
  }

  /** The host name init was given. */
  get hostName(): string {
    return this.host;
  }

  /** The accelerator in use (known after init). */
  get accel(): Accel {
    if (!this.accelResult) throw new DriverError('the qemu driver is not initialised (init was not called)');
    return this.accelResult;
  }

  /** Which accelerator guests get here (qemu/accel.ts, the probe's answer kept in accelCacheFile); asked once. */
  async detectAccel(): Promise<Accel> {
    if (this.accelResult) return this.accelResult;
    this.version = await qemuVersion(this.qemu).catch((e: Error) => {
      throw new DriverError(`${this.qemu} cannot be run: ${e.message}`);
    });
    this.accelResult = await detectAccel(this.accelMode, this.qemu, this.log, { qemuVersion: this.version, cacheFile: this.accelCacheFile });
    return this.accelResult;
  }

  async init(host: string): Promise<void> {
    this.host = host;
    await mkdir(this.stateDir, { recursive: true });
    const longest = Math.max(...new InstanceDir(this.stateDir, '00000000-0000-0000-0000-000000000000').sockets.map((s) => s.length));
    if (longest > MAX_SOCKET_PATH) {
      throw new DriverError(`compute.qemu.state_dir ${this.stateDir} is too long for the guests' unix sockets (${longest} > ${MAX_SOCKET_PATH} bytes)`);
    }
    const { accel, cpu, reason } = await this.detectAccel();
    const line = `qemu driver: guests run with ${accel.toUpperCase()} (-cpu ${cpu}): ${reason}`;
    if (accel === 'kvm') this.log.info({ accel, cpu, qemu: this.version }, line);
    else this.log.warn({ accel, cpu, qemu: this.version }, `${line}; TCG emulation is much slower than KVM`);
    for (const uuid of await instanceUuids(this.stateDir)) {
      const dir = this.dir(uuid);
      const pid = await livePid(dir);
      if (!pid) {
        for (const socket of dir.sockets) await rm(socket, { force: true });
        await recoverSnapshot(this, dir);
        continue;
      }
      try {
        await this.attach(dir, pid);
        this.log.info({ uuid, pid }, 'adopted a running guest');
        await recoverSnapshot(this, dir);
      } catch (e) {
        this.log.warn({ uuid, pid, err: e }, 'a running guest does not answer on QMP');
      }
    }
    await this.images.sweep((id) => this.imageInUse(id));
    this.consoleRotation = setInterval(() => void this.rotateConsoleLogs(), CONSOLE_ROTATION_MS).unref();
  }

  async cleanupHost(_host?: string): Promise<void> {
    if (this.consoleRotation) clearInterval(this.consoleRotation);
    this.consoleRotation = null;
    for (const m of this.monitors.values()) m.detach();
    this.monitors.clear();
    this.listener = null;
  }

  async listInstances(): Promise<InstanceRef[]> {
    const refs: InstanceRef[] = [];
    for (const uuid of await instanceUuids(this.stateDir)) {
      const record = await this.dir(uuid).readLaunch().catch(() => null);
      refs.push({ uuid, name: record?.spec.name ?? uuid });
    }
    return refs;
  }

  async getInfo(instance: InstanceRef): Promise<InstanceInfo> {
    const dir = this.existing(instance);
    const powerState = await this.powerStateOf(dir);
    const pid = this.monitors.get(dir.uuid)?.pid;
    const cpuTime = pid ? await cpuTimeNs(pid) : undefined;
    return cpuTime === undefined ? { powerState } : { powerState, cpuTimeNs: cpuTime };
  }

  async spawn(instance: InstanceSpec, image: ImageMeta, networkInfo: NetworkInfo, bdi: BlockDeviceInfo, opts: SpawnOptions = {}): Promise<void> {
    const dir = this.dir(instance.uuid);
    if (dir.exists()) throw new DriverError(`Instance ${instance.uuid} already exists on ${this.host}.`, { code: 409, reschedule: false, name: 'InstanceExists' });
    await dir.create();
    await this.makeGuest(dir, image, async (base) => {
      // The disks and the config drive at once (each is a process: qemu-img, genisoimage); both settle before a failure is handled.
      const [prepared, drive] = await Promise.allSettled([prepareDisks(dir, instance, image, base, bdi), buildConfigDrive(dir.configDrive, instance, networkInfo, opts)]);
      if (prepared.status === 'rejected') throw prepared.reason;
      if (drive.status === 'rejected') throw drive.reason;
      const { disks, diskGb } = prepared.value;
      const argv = machineArgs(instance, image, this.accel, dir, { ...disks, configDrive: dir.configDrive });
      const record: LaunchRecord = { spec: instance, imageId: image.id, basePath: base.path, argv, diskGb, createdAt: new Date().toISOString() };
      await dir.writeLaunch(record);
      if (opts.powerOn ?? true) await this.start(dir, record);
      this.log.info({ uuid: instance.uuid, image: image.id, accel: this.accel.accel }, 'spawned');
    });
  }

  /**
   * Makes a new guest in `dir` (created, empty) on `image`, which stays
   * pinned in the cache while `make` runs. When make fails, the guest and
   * its directory go, and the image is released unless another guest uses it.
   */
  async makeGuest(dir: InstanceDir, image: ImageMeta, make: (base: CachedImage) => Promise<void>): Promise<void> {
    let pinned = false;
    try {
      const base = await this.images.acquire(image);
      pinned = true;
      await make(base);
    } catch (e) {
      await this.forget(dir);
      if (pinned) this.images.unpin(image.id);
      pinned = false;
      await this.images.release(image.id, (id) => this.imageInUse(id)).catch(() => {});
      throw e;
    } finally {
      if (pinned) this.images.unpin(image.id);
    }
  }

  /**
   * Re-makes the guest from `image` in its own directory: QEMU ends, the root
   * disk (a new overlay of the new image), swap, the config drive and (unless
   * preserveEphemeral) the ephemeral disk are made anew; the console log
   * goes on. A failure before the new disks exist leaves the old ones.
   */
  async rebuild(instance: InstanceSpec, image: ImageMeta, networkInfo: NetworkInfo, bdi: BlockDeviceInfo, opts: RebuildOptions = {}): Promise<void> {
    const dir = this.existing(instance);
    const old = await dir.readLaunch().catch(() => null);
    await this.power.stop(dir, 0, 0);
    const base = await this.images.acquire(image);
    try {
      for (const f of [dir.disk, dir.swap, dir.configDrive, dir.nvram, dir.suspendState, ...(opts.preserveEphemeral ? [] : [dir.ephemeral])]) await rm(f, { force: true });
      const { disks, diskGb } = await prepareDisks(dir, instance, image, base, bdi, opts.preserveEphemeral);
      await buildConfigDrive(dir.configDrive, instance, networkInfo, opts);
      const argv = machineArgs(instance, image, this.accel, dir, { ...disks, configDrive: dir.configDrive });
      const record: LaunchRecord = { spec: instance, imageId: image.id, basePath: base.path, argv, diskGb, createdAt: old?.createdAt ?? new Date().toISOString() };
      await dir.writeLaunch(record);
    } finally {
      this.images.unpin(image.id);
    }
    if (old && old.imageId !== image.id) await this.images.release(old.imageId, (id) => this.imageInUse(id));
    if (opts.powerOn ?? true) await this.start(dir, await dir.readLaunch());
    this.log.info({ uuid: instance.uuid, image: image.id, preserveEphemeral: !!opts.preserveEphemeral }, 'rebuilt');
  }

  async destroy(instance: InstanceRef, _networkInfo?: NetworkInfo, _bdi?: BlockDeviceInfo, destroyDisks = true): Promise<void> {
    const dir = this.dir(instance.uuid);
    if (!dir.exists()) return;
    const record = await dir.readLaunch().catch(() => null);
    await this.power.stop(dir, 0, 0);
    if (destroyDisks) {
      await this.forget(dir);
    } else {
      await mkdir(join(this.stateDir, '_kept'), { recursive: true });
      await rename(dir.path, join(this.stateDir, '_kept', instance.uuid));
    }
    if (record) await this.images.release(record.imageId, (id) => this.imageInUse(id));
  }

  reboot(instance: InstanceRef, type: RebootType): Promise<void> {
    return this.power.reboot(this.existing(instance), type);
  }

  powerOff(instance: InstanceRef, timeoutSec = 0, retryIntervalSec = 0): Promise<void> {
    return this.power.powerOff(this.existing(instance), timeoutSec, retryIntervalSec);
  }

  powerOn(instance: InstanceRef): Promise<void> {
    return this.power.powerOn(this.existing(instance));
  }

  pause(instance: InstanceRef): Promise<void> {
    return this.power.pause(this.existing(instance));
  }

  unpause(instance: InstanceRef): Promise<void> {
    return this.power.unpause(this.existing(instance));
  }

  suspend(instance: InstanceRef): Promise<void> {
    return this.power.suspend(this.existing(instance));
  }

  resume(instance: InstanceRef): Promise<void> {
    return this.power.resume(this.existing(instance));
  }

  async snapshot(instance: InstanceRef, target: SnapshotTarget, updateTaskState: (taskState: string) => Promise<void>): Promise<void> {
    return snapshotGuest(this, this.existing(instance), target, updateTaskState);
  }

  async consoleSocket(instance: InstanceRef, kind: ConsoleKind): Promise<string> {
    return consoleSocketOf(this.existing(instance), kind);
  }

  // ─── resize and cold migration (migration.ts) ───

  migrateDiskAndPowerOff(instance: InstanceSpec, migration: MigrationInfo, _ni: NetworkInfo, _bdi: BlockDeviceInfo, timeoutSec = 0, retryIntervalSec = 0): Promise<string> {
    return this.moves.migrateDiskAndPowerOff(instance, migration, timeoutSec, retryIntervalSec);
  }

  finishMigration(instance: InstanceSpec, migration: MigrationInfo, diskInfo: string, image: ImageMeta, ni: NetworkInfo, bdi: BlockDeviceInfo, _resize: boolean, powerOn: boolean): Promise<void> {
    return this.moves.finishMigration(instance, migration, diskInfo, image, ni, bdi, powerOn);
  }

  confirmMigration(instance: InstanceRef, migration: MigrationInfo): Promise<void> {
    return this.moves.confirmMigration(instance, migration);
  }

  cleanupMigrationDestination(instance: InstanceRef, migration: MigrationInfo): Promise<void> {
    return this.moves.cleanupDestination(instance, migration);
  }

  finishRevertMigration(instance: InstanceSpec, migration: MigrationInfo, _ni: NetworkInfo, _bdi: BlockDeviceInfo, powerOn: boolean): Promise<void> {
    return this.moves.finishRevertMigration(instance, migration, powerOn);
  }

  getConsoleOutput(instance: InstanceRef, tailLength?: number | null): Promise<string> {
    return readConsoleLog(this.existing(instance), tailLength);
  }


  async getAvailableResources(): Promise<HostResources> {
    return hostResources({ stateDir: this.stateDir, host: this.host, accel: this.accel, qemuVersion: this.version, instances: await this.records() });
  }

  onLifecycleEvent(listener: ((event: LifecycleEvent) => void) | null): void {
    this.listener = listener;
  }

  // ─── GuestHost: what power.ts needs ───

  dir(uuid: string): InstanceDir {
    return new InstanceDir(this.stateDir, uuid);
  }

  /** The monitor of the guest's running process, connecting when needed; null when no process runs. */
  async monitor(dir: InstanceDir): Promise<GuestMonitor | null> {
    const m = this.monitors.get(dir.uuid);
    if (m?.connected) return m;
    const pid = await livePid(dir);
    return pid ? this.attach(dir, pid) : null;
  }

  /** Starts the guest from its launch record (resuming from `incoming` when given) and watches it. */
  async start(dir: InstanceDir, record: LaunchRecord, incoming?: string): Promise<GuestMonitor> {
    await dir.clearMarkers();
    await rotateConsoleLog(dir);
    const argv = withSerialSocket(incoming ? record.argv : withAccel(record.argv, this.accel), dir);
    const pid = await launch(dir, argv, { qemu: this.qemu, incoming, paused: Boolean(incoming) });
    try {
      return await this.attach(dir, pid);
    } catch (e) {
      await killGuest(pid, dir);
      throw e;
    }
  }

  async powerStateOf(dir: InstanceDir): Promise<PowerState> {
    const m = await this.monitor(dir).catch(() => null);
    if (m) {
      try {
        return dir.isCrashed() ? PowerState.CRASHED : await m.powerState();
      } catch {
        // it went away between the check and the question: see what it left
      }
    }
    if (await livePid(dir)) return PowerState.NOSTATE;
    if (dir.isSuspended()) return PowerState.SUSPENDED;
    if (dir.isCrashed()) return PowerState.CRASHED;
    return PowerState.SHUTDOWN;
  }

  // ─── internals ───

  private existing(instance: InstanceRef): InstanceDir {
    const dir = this.dir(instance.uuid);
    if (!dir.exists()) throw new InstanceNotFound(instance.uuid);
    return dir;
  }

  private async attach(dir: InstanceDir, pid: number): Promise<GuestMonitor> {
    const m = await GuestMonitor.attach(dir, pid, (uuid, powerState, cause) => {
      this.log.info({ uuid, powerState, cause }, 'guest lifecycle event');
      this.listener?.({ uuid, powerState });
    });
    this.monitors.set(dir.uuid, m);
    void m.exited.then(() => {
      if (this.monitors.get(dir.uuid) === m) this.monitors.delete(dir.uuid);
    });
    return m;
  }

  /** Stops the guest's process (if any) at once and removes its directory. */
  async forget(dir: InstanceDir): Promise<void> {
    const m = this.monitors.get(dir.uuid);
    if (m) m.expectExit = true;
    const pid = await livePid(dir);
    if (pid) await killGuest(pid, dir);
    this.monitors.delete(dir.uuid);
    await dir.remove();
  }

  /** Keeps every guest's console log bounded (console-log.ts); a failure waits for the next round. */
  private async rotateConsoleLogs(): Promise<void> {
    for (const uuid of await instanceUuids(this.stateDir).catch(() => [])) {
      await rotateConsoleLog(this.dir(uuid)).catch((err) => this.log.warn({ uuid, err }, 'console log rotation failed'));
    }
  }

  private async records(): Promise<LaunchRecord[]> {
    const out: LaunchRecord[] = [];
    for (const uuid of await instanceUuids(this.stateDir)) {
      const r = await this.dir(uuid).readLaunch().catch(() => null);
      if (r) out.push(r);
    }
    return out;
  }

  /** Whether an instance, or the disks a resize keeps (migration.ts), use the image. */
  async imageInUse(imageId: string): Promise<boolean> {
    return (await this.records()).some((r) => r.imageId === imageId) || (await this.moves.keptImageIds()).includes(imageId);
  }
}
