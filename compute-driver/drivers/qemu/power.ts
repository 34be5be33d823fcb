/**
 * The power actions of the qemu driver, over QMP:
 * - power off: `system_powerdown` (ACPI) every retry interval until the
 *   timeout, then `quit`, then SIGKILL. No process is SHUTDOWN.
 * - power on: start the guest again from launch.json (or `cont` a paused one).
 * - reboot SOFT: `system_powerdown`, wait for the process to end, start it
 *   again; after the bound, HARD. HARD: `system_reset` (+ `cont`), or start
 *   the guest when no process runs.
 * - pause / unpause: `stop` / `cont`.
 * - suspend: the guest's state is migrated into `suspend.state`, then QEMU
 *   quits (SUSPENDED: a state file and no process); resume starts QEMU with
 *   `-incoming` from it and `cont`s, so the guest goes on where it was.
 */
import { rename, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../lib/log.ts';
import { DriverError, InstanceInvalidState, type RebootType } from '../../driver.ts';
import { PowerState } from '../../states.ts';
import type { InstanceDir, LaunchRecord } from './instance-dir.ts';
import type { GuestMonitor } from './monitor.ts';
import { killGuest } from './process.ts';

/** What the actions need of the driver. */
export interface GuestHost {
  readonly log: Logger;
  monitor(dir: InstanceDir): Promise<GuestMonitor | null>;
  start(dir: InstanceDir, record: LaunchRecord, incoming?: string): Promise<GuestMonitor>;
  powerStateOf(dir: InstanceDir): Promise<PowerState>;
}

/** How long QEMU gets to exit after `quit` before SIGKILL. */
const QUIT_MS = 10_000;
/** Longest a suspend's or resume's state transfer may take. */
const MIGRATE_MS = 10 * 60_000;

/** Whether the guest's process ends within ms (the timer goes when it does: no pending timer holds the process up). */
async function exitedWithin(m: GuestMonitor, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([m.exited.then(() => true), sleep(ms, false, { signal: timer.signal }).catch(() => false)]);
  } finally {
    timer.abort();
  }
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export class PowerActions {
  constructor(
    private readonly host: GuestHost,
    private readonly softRebootMs: number,
  ) {}

  /** Makes the guest's process end: ACPI for up to timeoutSec (again every retryIntervalSec), then quit, then SIGKILL. */
  async stop(dir: InstanceDir, timeoutSec: number, retryIntervalSec: number): Promise<void> {
    const m = await this.host.monitor(dir).catch(() => null);
    if (!m) return;
    m.expectExit = true;
    // A paused guest cannot hear the power button: straight to quit.
    const running = (await m.powerState().catch(() => null)) === PowerState.RUNNING;
    const until = running ? Date.now() + timeoutSec * 1000 : 0;
    while (Date.now() < until) {
      await m.qmp.execute('system_powerdown').catch(() => {});
      const wait = retryIntervalSec > 0 ? Math.min(retryIntervalSec * 1000, until - Date.now()) : until - Date.now();
      if (await exitedWithin(m, wait)) return;
    }
    await m.qmp.execute('quit', undefined, QUIT_MS).catch(() => {});
    if (await exitedWithin(m, QUIT_MS)) return;
    this.host.log.warn({ uuid: dir.uuid, pid: m.pid }, 'QEMU did not quit: killing it');
    await killGuest(m.pid, dir);
    await exitedWithin(m, QUIT_MS);
  }

  async powerOff(dir: InstanceDir, timeoutSec: number, retryIntervalSec: number): Promise<void> {
    await this.stop(dir, timeoutSec, retryIntervalSec);
    await rm(dir.suspendState, { force: true });
    await dir.clearMarkers();
  }

  async powerOn(dir: InstanceDir): Promise<void> {
    const m = await this.host.monitor(dir);
    if (m) {
      if ((await m.powerState()) !== PowerState.RUNNING) await m.qmp.execute('cont');
      return;
    }
    await rm(dir.suspendState, { force: true });
    await this.host.start(dir, await dir.readLaunch());
  }

  async reboot(dir: InstanceDir, type: RebootType): Promise<void> {
    const m = await this.host.monitor(dir);
    if (type === 'SOFT' && m && (await m.powerState()) === PowerState.RUNNING) {
      m.expectExit = true;
      await m.qmp.execute('system_powerdown');
      if (await exitedWithin(m, this.softRebootMs)) {
        await this.host.start(dir, await dir.readLaunch());
        return;
      }
      this.host.log.warn({ uuid: dir.uuid, waitedMs: this.softRebootMs }, 'the guest did not shut down for a soft reboot: rebooting it hard');
      m.expectExit = false;
    }
    await this.hardReboot(dir);
  }

  private async hardReboot(dir: InstanceDir): Promise<void> {
    const m = await this.host.monitor(dir);
    if (m) {
      await dir.clearMarkers();
      await m.qmp.execute('system_reset');
      if ((await m.powerState()) !== PowerState.RUNNING) await m.qmp.execute('cont');
      return;
    }
    await rm(dir.suspendState, { force: true });
    await this.host.start(dir, await dir.readLaunch());
  }

  async pause(dir: InstanceDir): Promise<void> {
    const m = await this.running(dir, 'pause', [PowerState.RUNNING]);
    await m.qmp.execute('stop');
  }

  async unpause(dir: InstanceDir): Promise<void> {
    const m = await this.running(dir, 'unpause', [PowerState.PAUSED]);
    await m.qmp.execute('cont');
  }

  async suspend(dir: InstanceDir): Promise<void> {
    const m = await this.running(dir, 'suspend', [PowerState.RUNNING, PowerState.PAUSED]);
    const part = `${dir.suspendState}.part`;
    m.expectExit = true;
    try {
      // QEMU's default migration bandwidth (32 MiB/s) is meant for networks, not a local file.
      await m.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 8 * 1024 ** 3 });
      await m.qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(part)}` });
      await this.migrationDone(m, 'suspend');
    } catch (e) {
      m.expectExit = false;
      await rm(part, { force: true });
      // The guest stays as it was (migration failed before the switch-over, or it ran again after).
      if ((await m.powerState().catch(() => null)) === PowerState.PAUSED) await m.qmp.execute('cont').catch(() => {});
      throw e;
    }
    await m.qmp.execute('quit', undefined, QUIT_MS).catch(() => {});
    if (!(await exitedWithin(m, QUIT_MS))) await killGuest(m.pid, dir);
    await rename(part, dir.suspendState);
  }

  async resume(dir: InstanceDir): Promise<void> {
    const state = await this.host.powerStateOf(dir);
    if (state !== PowerState.SUSPENDED) throw new InstanceInvalidState(dir.uuid, 'resume', state);
    const m = await this.host.start(dir, await dir.readLaunch(), `exec:cat ${shellQuote(dir.suspendState)}`);
    await this.migrationDone(m, 'resume');
    await m.qmp.execute('cont');
    await rm(dir.suspendState, { force: true });
  }

  /** The guest's monitor, when its power state is one of `allowed`. */
  private async running(dir: InstanceDir, what: string, allowed: PowerState[]): Promise<GuestMonitor> {
    const m = await this.host.monitor(dir);
    const state = m ? await m.powerState() : await this.host.powerStateOf(dir);
    if (!m || !allowed.includes(state)) throw new InstanceInvalidState(dir.uuid, what, state);
    return m;
  }

  /** Polls query-migrate until the transfer (outgoing or incoming) completed; throws when it failed. */
  private async migrationDone(m: GuestMonitor, what: string): Promise<void> {
    const until = Date.now() + MIGRATE_MS;
    while (Date.now() < until) {
      const info = await m.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      this.host.log.debug({ uuid: m.uuid, what, info }, 'migration progress');
      if (info.status === 'completed') return;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new DriverError(`${what} failed: saving the guest state ${info.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`, { name: 'SuspendFailed' });
      }
      // An incoming migration reports nothing until it ends; the run state tells when it has.
      if (!info.status && (await m.status()).status !== 'inmigrate') return;
      await sleep(200);
    }
    throw new DriverError(`${what} did not finish saving the guest state within ${MIGRATE_MS / 1000} s`, { name: 'SuspendFailed' });
  }
}
