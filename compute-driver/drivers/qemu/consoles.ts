/**
 * The qemu driver's remote consoles: unix sockets QEMU serves itself
 * (machine.ts), which the agent's console listener pipes a proxied client
 * to. vnc: `-vnc unix:vnc.sock` (RFB 3.8, no authentication: only the
 * listener reaches it). serial: the serial port's chardev, a socket server
 * (one client at a time; QEMU listens again when it leaves) that logs all
 * the guest writes to console.log whether a client is connected or not.
 * Only a live QEMU serves them: a guest without one (SHUTDOWN, SUSPENDED,
 * CRASHED), or one started before its launch record had the socket (the
 * serial socket came later), has no such console.
 */
import { existsSync } from 'node:fs';
import { ConsoleTypeUnavailable, type ConsoleKind } from '../../driver.ts';
import type { InstanceDir } from './instance-dir.ts';
import { livePid } from './process.ts';

/** The socket of the guest's `kind` console; ConsoleTypeUnavailable when it has none now. */
export async function consoleSocketOf(dir: InstanceDir, kind: ConsoleKind): Promise<string> {
  const path = kind === 'vnc' ? dir.vnc : kind === 'serial' ? dir.serial : null;
  if (!path || !(await livePid(dir)) || !existsSync(path)) throw new ConsoleTypeUnavailable(kind);
  return path;
}
