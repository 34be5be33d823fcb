/**
 * compute.driver `auto`: the qemu driver when this host can run it — the
 * QEMU binaries on PATH, `qemu-system-x86_64 --version` answering — and the
 * fake driver otherwise, with the reason. For qemu, which accelerator its
 * guests get comes from the driver's own probe (qemu/accel.ts: KVM when it
 * really runs a guest, else TCG), so that the start can say it.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../lib/config/index.ts';
import type { Logger } from '../../lib/log.ts';
import type { ComputeDriver } from '../driver.ts';
import { createDriver } from './index.ts';
import type { Accel } from './qemu/accel.ts';
import type { QemuDriver } from './qemu/index.ts';
import { QEMU_BINARY } from './qemu/process.ts';

const run = promisify(execFile);

/** What the qemu driver runs besides QEMU itself: disks (qemu-img) and config drives (genisoimage). */
export const QEMU_DRIVER_BINARIES = [QEMU_BINARY, 'qemu-img', 'genisoimage'];

export interface DriverChoice {
  driver: ComputeDriver;
  /** fake or qemu: what runs. */
  name: string;
  /** Why: the configuration said so, or what auto found. */
  reason: string;
  /** With qemu: the accelerator its guests get. */
  accel?: Accel;
}

/** The full path of `name` on `path` (a PATH value), or null. */
export function findOnPath(name: string, path: string): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const full = join(dir, name);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  return null;
}

/** Why the qemu driver cannot run here (null when it can), looking on `path`. */
export async function qemuUnavailable(path: string): Promise<string | null> {
  const missing = QEMU_DRIVER_BINARIES.filter((b) => !findOnPath(b, path));
  if (missing.length) return `${missing.join(', ')} not found on PATH (on Debian/Ubuntu: bin/setup-host.sh installs them)`;
  try {
    await run(findOnPath(QEMU_BINARY, path)!, ['--version'], { timeout: 15_000 });
  } catch (e) {
    return `${QEMU_BINARY} --version failed: ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

/**
 * The driver compute.driver asks for; `auto` picks qemu when it can run here
 * (probing which accelerator its guests get) and fake otherwise. `path`
 * replaces $PATH for the look-up (tests).
 */
export async function chooseDriver(config: Config, logger: Logger, opts: { path?: string } = {}): Promise<DriverChoice> {
  const wanted = config['compute.driver'];
  let reason = `compute.driver is ${wanted}`;
  let name = wanted;
  if (wanted === 'auto') {
    const why = await qemuUnavailable(opts.path ?? process.env.PATH ?? '');
    name = why ? 'fake' : 'qemu';
    reason = why ? `compute.driver is auto and the qemu driver cannot run: ${why}` : 'compute.driver is auto and QEMU runs here';
  }
  const driver = createDriver({ ...config, 'compute.driver': name }, logger);
  if (name !== 'qemu') return { driver, name, reason };
  const accel = await (driver as QemuDriver).detectAccel();
  return { driver, name, reason, accel };
}

/** The lines a start prints about the driver: loud when no real guest runs, or when guests are emulated. */
export function driverBanner(choice: DriverChoice): string[] {
  if (choice.name === 'fake') {
    return [
      '  !!! The compute driver is FAKE: servers go ACTIVE but no virtual machine runs.',
      `  !!! Why: ${choice.reason}.`,
      '  !!! Install QEMU (bin/setup-host.sh) or set compute.driver (NUBO_COMPUTE_DRIVER) to qemu to run real guests.',
    ];
  }
  const accel = choice.accel;
  if (!accel) return [];
  if (accel.accel === 'kvm') return [`  Guests run under KVM (hardware acceleration): ${accel.reason}.`];
  return [
    '  !!! Guests run under TCG: slow software emulation, no hardware acceleration.',
    `  !!! Why: ${accel.reason}.`,
  ];
}

/** One log line on the driver chosen: a warning when no real guest runs, or guests are emulated. */
export function logDriverChoice(logger: Logger, choice: DriverChoice): void {
  const fields = { driver: choice.name, reason: choice.reason, accel: choice.accel?.accel };
  if (choice.name === 'fake') logger.warn(fields, 'the compute agent runs the FAKE driver: instances are simulated, no virtual machine runs');
  else if (choice.accel?.accel === 'tcg') logger.warn(fields, 'the compute agent runs the qemu driver with TCG: guests are emulated (slow)');
  else logger.info(fields, `the compute agent runs the ${choice.name} driver`);
}
