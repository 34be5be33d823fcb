/**
 * The per-instance directory `<state_dir>/<uuid>/` and what it holds: the
 * disks, the config drive, the serial log, the QMP, VNC and serial console
 * sockets, the pidfile, `launch.json` (how to start the guest again), the
 * markers of a suspended or crashed guest and a snapshot's disk while it is
 * made. The directory is the driver's record of a
 * guest: it exists from spawn to destroy.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceSpec } from '../../driver.ts';

/** What launch.json keeps: enough to start the guest again without the agent's message. */
export interface LaunchRecord {
  spec: InstanceSpec;
  imageId: string;
  /** The cached base image the root disk is an overlay of. */
  basePath: string;
  /** qemu-system-x86_64 arguments (without -daemonize, -pidfile and -incoming). */
  argv: string[];
  /** GiB of local disk the instance uses (root + ephemeral + swap). */
  diskGb: number;
  createdAt: string;
}

export const SNAPSHOT_SUFFIX = '.qcow2.part';

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

/** What a resize's source renames an instance directory to (`<uuid>_resize`, as Nova's libvirt driver does) until confirm or revert. */
export const RESIZE_SUFFIX = '_resize';

export class InstanceDir {
  readonly path: string;
  /** `dirName` is the directory's name under stateDir: the uuid, or `<uuid>_resize` for the disks a resize keeps. */
  constructor(stateDir: string, readonly uuid: string, dirName: string = uuid) {
    this.path = join(stateDir, dirName);
  }

  get disk() { return join(this.path, 'disk'); }
  get ephemeral() { return join(this.path, 'disk.eph0'); }
  get swap() { return join(this.path, 'disk.swap'); }
  get configDrive() { return join(this.path, 'disk.config'); }
  get console() { return join(this.path, 'console.log'); }
  get qmp() { return join(this.path, 'qmp.sock'); }
  get vnc() { return join(this.path, 'vnc.sock'); }
  /** The serial port's console (the chardev that also writes console.log). */
  get serial() { return join(this.path, 'serial.sock'); }
  /** Every unix socket QEMU listens on for this guest (each must fit MAX_SOCKET_PATH). */
  get sockets() { return [this.qmp, this.vnc, this.serial]; }
  get pidfile() { return join(this.path, 'qemu.pid'); }
  /** QEMU's own stdout and stderr. */
  get qemuLog() { return join(this.path, 'qemu.log'); }
  get launchFile() { return join(this.path, 'launch.json'); }
  get suspendState() { return join(this.path, 'suspend.state'); }
  get crashedMarker() { return join(this.path, 'crashed'); }
  get nvram() { return join(this.path, 'OVMF_VARS.fd'); }
  /** Where a snapshot's flattened disk is made before its upload (removed afterwards). */
  snapshotFile(imageId: string) { return join(this.path, `snapshot-${imageId}${SNAPSHOT_SUFFIX}`); }
  /** There while a snapshot holds a running guest stopped: a driver starting finds it and lets the guest go on. */
  get snapshotPause() { return join(this.path, 'snapshot-paused'); }

  exists(): boolean {
    return existsSync(this.path);
  }

  async create(): Promise<void> {
    await mkdir(this.path, { recursive: false, mode: 0o700 });
  }

  async remove(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
  }

  async readLaunch(): Promise<LaunchRecord> {
    return JSON.parse(await readFile(this.launchFile, 'utf8')) as LaunchRecord;
  }

  async writeLaunch(record: LaunchRecord): Promise<void> {
    const tmp = `${this.launchFile}.tmp`;
    await writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
    await rename(tmp, this.launchFile);
  }

  /** The pid in the pidfile, or null. */
  async readPid(): Promise<number | null> {
    try {
      const pid = Number.parseInt((await readFile(this.pidfile, 'utf8')).trim(), 10);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  async markCrashed(reason: string): Promise<void> {
    await writeFile(this.crashedMarker, `${new Date().toISOString()} ${reason}\n`).catch(() => {});
  }

  async clearMarkers(): Promise<void> {
    await rm(this.crashedMarker, { force: true });
  }

  isCrashed(): boolean {
    return existsSync(this.crashedMarker);
  }

  isSuspended(): boolean {
    return existsSync(this.suspendState);
  }
}

/** The directories under stateDir, by name ([] when it does not exist). */
async function dirNames(stateDir: string): Promise<string[]> {
  try {
    return (await readdir(stateDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** The instance uuids with a directory under stateDir (not `_base` and other underscored entries, nor a resize's kept `<uuid>_resize`). */
export async function instanceUuids(stateDir: string): Promise<string[]> {
  return (await dirNames(stateDir)).filter((n) => !n.startsWith('_') && !n.startsWith('.') && !n.endsWith(RESIZE_SUFFIX));
}

/** The uuids of the instances whose old disks a resize keeps here (`<uuid>_resize`). */
export async function keptUuids(stateDir: string): Promise<string[]> {
  return (await dirNames(stateDir)).filter((n) => !n.startsWith('_') && !n.startsWith('.') && n.endsWith(RESIZE_SUFFIX)).map((n) => n.slice(0, -RESIZE_SUFFIX.length));
}
