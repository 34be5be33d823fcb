/**
 * The fake driver (after nova/virt/fake.py): guests are entries in a map, for
 * tests and for scale runs of thousands of instances. It keeps the driver
 * rules of driver.ts (power state transitions, InstanceNotFound, cleanup of a
 * failed spawn) so that the agent's behaviour is the real one.
 *
 * Latency and failures:
 * - spawnMs (compute.fake.spawn_ms) delays every spawn; the instance
 *   metadata `fake_spawn_ms` overrides it for one instance. actionMs delays
 *   every other operation.
 * - failRate (compute.fake.fail_rate / 100) is the chance a spawn fails.
 * - The instance metadata `fake_fail` names operations that fail for that
 *   instance, comma-separated: spawn (a failure another host might not have),
 *   spawn_abort (one it would have too: no reschedule), reboot, power_off,
 *   power_on, pause, unpause, suspend, resume, destroy, console, snapshot,
 *   migrate (migrateDiskAndPowerOff), finish_migration, confirm_migration,
 *   finish_revert_migration.
 *
 * A snapshot uploads a small fake disk: a qcow2 header saying the guest's
 * disk size, then the guest's name.
 *
 * Test hooks change a guest as if from inside: setPowerState (shut down,
 * crash…), vanish (the guest is gone), addGuest (a guest nobody asked for).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DriverError,
  InstanceInvalidState,
  InstanceNotFound,
  noCapabilities,
  tailLines,
  versionToInt,
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
  type SnapshotTarget,
  type SpawnOptions,
} from '../../driver.ts';
import { uploadImageData } from '../../image-service.ts';
import { PowerState } from '../../states.ts';
import { FakeConsoles } from './consoles.ts';

export interface FakeDriverOptions {
  /** Milliseconds every spawn takes. Default 0. */
  spawnMs?: number;
  /** Milliseconds every other operation takes. Default 0. */
  actionMs?: number;
  /** Chance (0…1) that a spawn fails. Default 0. */
  failRate?: number;
  /** Host inventory. Defaults 32 vCPUs, 131072 MiB, 1024 GiB. */
  vcpus?: number;
  memoryMb?: number;
  localGb?: number;
  /** Where fail_rate draws from; Math.random unless given. */
  random?: () => number;
}

/** The fault an injected failure raises. */
export class FakeFailure extends DriverError {
  constructor(operation: string, uuid: string, reschedule = true) {
    super(`fake driver: injected ${operation} failure for instance ${uuid}`, { code: 500, reschedule, name: 'FakeFailure' });
  }
}

interface FakeGuest {
  ref: InstanceRef;
  hostname: string;
  powerState: PowerState;
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  diskGb: number;
  failures: Set<string>;
  console: string[];
}

const failuresOf = (metadata: Record<string, string> | undefined) =>
  new Set(
    (metadata?.fake_fail ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** The line `uptime` prints at `now` for a host up `upMs`: " 08:32:11 up 3 days,  2:04,  0 users,  load average: 0.00, 0.00, 0.00". */
export function uptimeLine(now: Date, upMs: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const minutes = Math.floor(upMs / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const clock = hours > 0 ? `${String(hours).padStart(2, ' ')}:${two(minutes % 60)}` : `${minutes % 60} min`;
  const up = days > 0 ? `${days} day${days === 1 ? '' : 's'}, ${clock}` : clock;
  return ` ${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())} up ${up},  0 users,  load average: 0.00, 0.00, 0.00`;
}

/** A guest's disk as the fake driver snapshots it: a qcow2 header (magic, version 3, the virtual size) and the guest's name. */
export function fakeDisk(g: { ref: InstanceRef; diskGb: number }): Buffer {
  const disk = Buffer.alloc(512);
  disk.writeUInt32BE(0x514649fb, 0);
  disk.writeUInt32BE(3, 4);
  disk.writeBigUInt64BE(BigInt(g.diskGb) * 1024n ** 3n, 24);
  disk.write(g.ref.name, 64, 'utf8');
  return disk;
}

export class FakeDriver implements ComputeDriver {
  readonly type = 'fake';
  readonly capabilities: DriverCapabilities = {
    ...noCapabilities,
    supports_device_tagging: true,
    supports_image_type_raw: true,
    supports_image_type_qcow2: true,
    supports_image_type_iso: true,
  };

  private readonly guests = new Map<string, FakeGuest>();
  /** Guests moved away (resize, migration), kept until the move is confirmed or reverted. */
  private readonly aside = new Map<string, FakeGuest>();
  private readonly opts: Required<FakeDriverOptions>;
  private host = 'fake-host';
  private readonly startedAt = Date.now();
  private listener: ((event: LifecycleEvent) => void) | null = null;
  private readonly consoles = new FakeConsoles();

  constructor(opts: FakeDriverOptions = {}) {
    this.opts = {
      spawnMs: opts.spawnMs ?? 0,
      actionMs: opts.actionMs ?? 0,
      failRate: opts.failRate ?? 0,
      vcpus: opts.vcpus ?? 32,
      memoryMb: opts.memoryMb ?? 131072,
      localGb: opts.localGb ?? 1024,
      random: opts.random ?? Math.random,
    };
  }

  async init(host: string): Promise<void> {
    this.host = host;
  }

  async cleanupHost(): Promise<void> {
    this.listener = null;
    await this.consoles.closeAll();
  }

  async listInstances(): Promise<InstanceRef[]> {
    return [...this.guests.values()].map((g) => ({ ...g.ref }));
  }

  async getInfo(instance: InstanceRef): Promise<InstanceInfo> {
    return { powerState: this.guest(instance).powerState };
  }

  async spawn(instance: InstanceSpec, image: ImageMeta, networkInfo: NetworkInfo, _bdi: BlockDeviceInfo, opts: SpawnOptions = {}): Promise<void> {
    const failures = failuresOf(instance.metadata);
    const ms = Number(instance.metadata?.fake_spawn_ms ?? this.opts.spawnMs);
    if (ms > 0) await sleep(ms);
    if (failures.has('spawn_abort')) throw new FakeFailure('spawn_abort', instance.uuid, false);
    if (failures.has('spawn') || (this.opts.failRate > 0 && this.opts.random() < this.opts.failRate)) throw new FakeFailure('spawn', instance.uuid);
    this.create(instance, opts.powerOn ?? true, `[fake] ${instance.name} (${instance.uuid}) created from image ${image.id} with ${networkInfo.length} interface(s)`);
  }

  /** A new guest with the instance's flavor, running or shut down. */
  private create(instance: InstanceSpec, powerOn: boolean, firstLine: string): void {
    if (this.guests.has(instance.uuid)) throw new DriverError(`Instance ${instance.uuid} already exists on ${this.host}.`, { code: 409, name: 'InstanceExists' });
    const { vcpus, memory_mb, root_gb, ephemeral_gb, swap } = instance.flavor;
    this.guests.set(instance.uuid, {
      ref: { uuid: instance.uuid, name: instance.name },
      hostname: instance.hostname,
      powerState: powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN,
      vcpus,
      memoryMb: memory_mb,
      rootGb: root_gb,
      diskGb: root_gb + ephemeral_gb + Math.ceil(swap / 1024),
      failures: failuresOf(instance.metadata),
      console: [firstLine, ...(powerOn ? this.bootLines(instance.hostname) : [])],
    });
  }

  // ─── resize and cold migration: the source keeps the guest aside until confirm or revert ───

  async migrateDiskAndPowerOff(instance: InstanceSpec, migration: MigrationInfo): Promise<string> {
    const g = this.guest(instance);
    await this.act(g, 'migrate');
    if (migration.new_flavor.root_gb < g.rootGb) throw new DriverError('Unable to resize disk down.', { code: 400, reschedule: false, name: 'ResizeError' });
    g.powerState = PowerState.SHUTDOWN;
    g.console.push(`[fake] powered off to move to ${migration.dest_compute}`);
    this.guests.delete(instance.uuid);
    this.aside.set(instance.uuid, g);
    return JSON.stringify({ source: this.host, disk_gb: g.diskGb });
  }

  async finishMigration(instance: InstanceSpec, migration: MigrationInfo, _diskInfo: string, _image: ImageMeta, _ni: NetworkInfo, _bdi: BlockDeviceInfo, _resize: boolean, powerOn: boolean): Promise<void> {
    if (this.opts.actionMs > 0) await sleep(this.opts.actionMs);
    if (failuresOf(instance.metadata).has('finish_migration')) throw new FakeFailure('finish_migration', instance.uuid);
    this.create(instance, powerOn, `[fake] ${instance.name} (${instance.uuid}) moved from ${migration.source_compute} with flavor ${instance.flavor.name}`);
  }

  async confirmMigration(instance: InstanceRef): Promise<void> {
    const g = this.aside.get(instance.uuid);
    if (!g) return;
    await this.act(g, 'confirm_migration');
    this.aside.delete(instance.uuid);
  }

  async finishRevertMigration(instance: InstanceSpec, _migration: MigrationInfo, _ni: NetworkInfo, _bdi: BlockDeviceInfo, powerOn: boolean): Promise<void> {
    const g = this.aside.get(instance.uuid);
    if (!g) throw new InstanceNotFound(instance.uuid);
    await this.act(g, 'finish_revert_migration');
    if (this.guests.has(instance.uuid)) throw new DriverError(`Instance ${instance.uuid} already exists on ${this.host}.`, { code: 409, name: 'InstanceExists' });
    this.aside.delete(instance.uuid);
    this.guests.set(instance.uuid, g);
    g.powerState = powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN;
    g.console.push('[fake] resize reverted', ...(powerOn ? this.bootLines(g.hostname) : []));
  }

  /** Whether the guest's old self is kept aside for a revert (test hook). */
  keptAside(uuid: string): boolean {
    return this.aside.has(uuid);
  }

  async destroy(instance: InstanceRef): Promise<void> {
    const g = this.guests.get(instance.uuid);
    if (!g) return;
    await this.act(g, 'destroy');
    this.guests.delete(instance.uuid);
    await this.consoles.close(instance.uuid);
  }

  async reboot(instance: InstanceRef, type: RebootType): Promise<void> {
    const g = this.guest(instance);
    await this.act(g, 'reboot');
    g.console.push(`[fake] ${type === 'SOFT' ? 'soft' : 'hard'} reboot`, ...this.bootLines(g.hostname));
    g.powerState = PowerState.RUNNING;
  }

  async powerOff(instance: InstanceRef, _timeoutSec?: number, _retryIntervalSec?: number): Promise<void> {
    const g = this.guest(instance);
    await this.act(g, 'power_off');
    if (g.powerState !== PowerState.SHUTDOWN) g.console.push('[fake] powered off');
    g.powerState = PowerState.SHUTDOWN;
  }

  async powerOn(instance: InstanceRef): Promise<void> {
    const g = this.guest(instance);
    await this.act(g, 'power_on');
    if (g.powerState !== PowerState.RUNNING) g.console.push(...this.bootLines(g.hostname));
    g.powerState = PowerState.RUNNING;
  }

  async pause(instance: InstanceRef): Promise<void> {
    await this.transition(instance, 'pause', [PowerState.RUNNING], PowerState.PAUSED);
  }

  async unpause(instance: InstanceRef): Promise<void> {
    await this.transition(instance, 'unpause', [PowerState.PAUSED], PowerState.RUNNING);
  }

  async suspend(instance: InstanceRef): Promise<void> {
    await this.transition(instance, 'suspend', [PowerState.RUNNING, PowerState.PAUSED], PowerState.SUSPENDED);
  }

  async resume(instance: InstanceRef): Promise<void> {
    await this.transition(instance, 'resume', [PowerState.SUSPENDED], PowerState.RUNNING);
  }

  async snapshot(instance: InstanceRef, target: SnapshotTarget, updateTaskState: (taskState: string) => Promise<void>): Promise<void> {
    const g = this.guest(instance);
    await this.act(g, 'snapshot');
    await updateTaskState('image_pending_upload');
    await updateTaskState('image_uploading');
    await uploadImageData(target, fakeDisk(g));
    g.console.push(`[fake] snapshot uploaded to image ${target.image_id}`);
  }

  /** A unix socket whose server greets as RFB 3.8 (vnc) or echoes (serial); fake_fail `console` fails it. */
  async consoleSocket(instance: InstanceRef, kind: ConsoleKind): Promise<string> {
    const g = this.guest(instance);
    if (g.failures.has('console')) throw new FakeFailure('console', g.ref.uuid);
    return this.consoles.socket(g.ref.uuid, kind);
  }

  async getConsoleOutput(instance: InstanceRef, tailLength?: number | null): Promise<string> {
    const g = this.guest(instance);
    if (g.failures.has('console')) throw new FakeFailure('console', g.ref.uuid);
    return tailLines(g.console.join('\n'), tailLength);
  }

  async getAvailableResources(): Promise<HostResources> {
    const used = this.usage();
    return {
      vcpus: this.opts.vcpus,
      memory_mb: this.opts.memoryMb,
      local_gb: this.opts.localGb,
      vcpus_used: used.vcpus,
      memory_mb_used: used.memoryMb,
      local_gb_used: used.diskGb,
      disk_available_least: Math.max(0, this.opts.localGb - used.diskGb),
      hypervisor_type: 'fake',
      hypervisor_version: versionToInt('1.0'),
      hypervisor_hostname: this.host,
      cpu_info: { arch: 'x86_64', model: 'Nehalem', vendor: 'Intel', features: ['pge', 'clflush'], topology: { sockets: 1, cores: this.opts.vcpus, threads: 1 } },
      supported_instances: [['x86_64', 'fake', 'hvm']],
    };
  }

  /** As `uptime` prints it, up since the driver was made, with no users and no load. */
  async getHostUptime(): Promise<string> {
    return uptimeLine(new Date(), Date.now() - this.startedAt);
  }

  onLifecycleEvent(listener: ((event: LifecycleEvent) => void) | null): void {
    this.listener = listener;
  }

  // ─── test hooks ───

  /** Changes a guest's power state as if from inside (shutdown -h now, a crash…); `event` also emits a lifecycle event. */
  setPowerState(uuid: string, powerState: PowerState, opts: { event?: boolean } = {}): void {
    const g = this.guests.get(uuid);
    if (!g) throw new InstanceNotFound(uuid);
    g.powerState = powerState;
    g.console.push(`[fake] power state changed from inside to ${powerState}`);
    if (opts.event) this.listener?.({ uuid, powerState });
  }

  /** The guest disappears without destroy (its process died and took its files with it). */
  vanish(uuid: string): void {
    this.guests.delete(uuid);
  }

  /** A guest the agent never asked for (left over from an earlier life of the host). */
  addGuest(ref: InstanceRef, powerState: PowerState = PowerState.RUNNING): void {
    this.guests.set(ref.uuid, { ref: { ...ref }, hostname: ref.name, powerState, vcpus: 1, memoryMb: 512, rootGb: 1, diskGb: 1, failures: new Set(), console: [] });
  }

  // ─── internals ───

  private guest(instance: InstanceRef): FakeGuest {
    const g = this.guests.get(instance.uuid);
    if (!g) throw new InstanceNotFound(instance.uuid);
    return g;
  }

  /** The latency of an operation, then its injected failure if the guest has one. */
  private async act(g: FakeGuest, operation: string): Promise<void> {
    if (this.opts.actionMs > 0) await sleep(this.opts.actionMs);
    if (g.failures.has(operation)) throw new FakeFailure(operation, g.ref.uuid);
  }

  private async transition(instance: InstanceRef, operation: string, from: PowerState[], to: PowerState): Promise<void> {
    const g = this.guest(instance);
    await this.act(g, operation);
    if (!from.includes(g.powerState)) throw new InstanceInvalidState(g.ref.uuid, operation, g.powerState);
    g.powerState = to;
    g.console.push(`[fake] ${operation}`);
  }

  private bootLines(hostname: string): string[] {
    return ['[fake] booting', `${hostname} login:`];
  }

  private usage() {
    let vcpus = 0;
    let memoryMb = 0;
    let diskGb = 0;
    for (const g of this.guests.values()) {
      vcpus += g.vcpus;
      memoryMb += g.memoryMb;
      diskGb += g.diskGb;
    }
    return { vcpus, memoryMb, diskGb };
  }
}
