/**
 * The driver's hold on one running guest: its pid and QMP connection, and
 * what its events mean. QMP events become power states (STOP → PAUSED,
 * RESUME → RUNNING, SHUTDOWN → SHUTDOWN, GUEST_PANICKED → CRASHED). When the
 * connection closes the process is ending: if the driver asked for it
 * (expectExit) that is all; if the guest shut itself down (a SHUTDOWN event
 * came first) it is SHUTDOWN; otherwise QEMU died (killed, crashed) and the
 * directory is marked crashed.
 */
import { PowerState } from '../../states.ts';
import type { InstanceDir } from './instance-dir.ts';
import { waitExit } from './process.ts';
import { QmpClient, type QmpEvent } from './qmp.ts';

export type MonitorListener = (uuid: string, powerState: PowerState, cause: string) => void;

/** query-status's status → Nova's power state (as the libvirt driver maps domain states). */
export function powerStateOfStatus(status: string): PowerState {
  switch (status) {
    case 'running':
      return PowerState.RUNNING;
    case 'guest-panicked':
    case 'internal-error':
    case 'io-error':
      return PowerState.CRASHED;
    case 'shutdown':
      return PowerState.SHUTDOWN;
    default:
      // paused, prelaunch, inmigrate, postmigrate, finish-migrate, suspended, debug, watchdog…
      return PowerState.PAUSED;
  }
}

const eventStates: Record<string, PowerState> = {
  STOP: PowerState.PAUSED,
  RESUME: PowerState.RUNNING,
  SHUTDOWN: PowerState.SHUTDOWN,
  GUEST_PANICKED: PowerState.CRASHED,
};

export class GuestMonitor {
  /** Set before the driver makes QEMU exit (power off, suspend, destroy, soft reboot). */
  expectExit = false;
  /** The guest reported SHUTDOWN (it powered off, or QEMU was asked to quit). */
  sawShutdown = false;
  /** Resolves once the process has gone and the exit has been accounted for. */
  readonly exited: Promise<void>;
  private detached = false;

  private constructor(
    readonly dir: InstanceDir,
    readonly pid: number,
    readonly qmp: QmpClient,
    listener: MonitorListener,
  ) {
    qmp.on('event', (e: QmpEvent) => {
      if (e.event === 'SHUTDOWN') this.sawShutdown = true;
      if (e.event === 'GUEST_PANICKED') void dir.markCrashed('guest panicked');
      const state = eventStates[e.event];
      if (state !== undefined && !this.expectExit) listener(dir.uuid, state, `QMP event ${e.event}`);
    });
    this.exited = new Promise<void>((resolve) => {
      qmp.once('close', async () => {
        if (this.detached) return resolve();
        await waitExit(pid, dir, 15_000);
        if (!this.expectExit) {
          if (this.sawShutdown) {
            listener(dir.uuid, PowerState.SHUTDOWN, 'the guest powered off');
          } else {
            await dir.markCrashed('QEMU exited unexpectedly');
            listener(dir.uuid, PowerState.CRASHED, 'QEMU exited unexpectedly');
          }
        }
        resolve();
      });
    });
  }

  /** Connects to the guest's QMP socket. */
  static async attach(dir: InstanceDir, pid: number, listener: MonitorListener): Promise<GuestMonitor> {
    const qmp = await QmpClient.connect(dir.qmp);
    return new GuestMonitor(dir, pid, qmp, listener);
  }

  get uuid(): string {
    return this.dir.uuid;
  }

  get connected(): boolean {
    return this.qmp.isOpen;
  }

  async status(): Promise<{ status: string; running: boolean }> {
    return this.qmp.execute('query-status');
  }

  async powerState(): Promise<PowerState> {
    return powerStateOfStatus((await this.status()).status);
  }

  /** Stops watching; the guest keeps running. */
  detach(): void {
    this.detached = true;
    this.expectExit = true;
    this.qmp.close();
  }
}
