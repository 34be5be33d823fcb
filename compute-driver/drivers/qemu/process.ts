/**
 * A guest's QEMU process: spawned detached (its own session, stdio to
 * `qemu.log`, unref'd) so that the guest outlives the agent, with
 * `-pidfile`; found again by its pidfile, checked against /proc/<pid>/cmdline
 * so that a recycled pid is not mistaken for it. (Not `-daemonize`: a
 * daemonized QEMU 7.2 fails every `exec:` migration, which suspend needs.)
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DriverError } from '../../driver.ts';
import type { InstanceDir } from './instance-dir.ts';

const run = promisify(execFile);

export const QEMU_BINARY = 'qemu-system-x86_64';
/** How long QEMU may take to set a guest up and open its QMP socket. */
const START_MS = 60_000;
/**
 * How often launch looks for the QMP socket: QEMU opens it some 100 ms after
 * it starts, and every build waits for it, so a coarse poll (it was 100 ms)
 * adds up to one whole interval to POST → ACTIVE. A look is an existsSync
 * and, once the socket is there, one small read.
 */
const START_POLL_MS = 10;

/**
 * Starts the guest of `dir` with `argv`; `incoming` names a saved state to
 * resume from (the guest then waits, stopped, for `cont`). Resolves with the
 * pid once QEMU listens on its QMP socket; fails with QEMU's own message when
 * it exits first.
 */
export async function launch(dir: InstanceDir, argv: string[], opts: { incoming?: string; paused?: boolean; qemu?: string } = {}): Promise<number> {
  await rm(dir.qmp, { force: true });
  await rm(dir.pidfile, { force: true });
  const args = [...argv, ...(opts.incoming ? ['-incoming', opts.incoming] : []), ...(opts.paused ? ['-S'] : []), '-pidfile', dir.pidfile];
  const out = openSync(dir.qemuLog, 'a');
  let child;
  try {
    // Its own session (detached): the agent's signals and exit do not reach the guest.
    child = spawn(opts.qemu ?? QEMU_BINARY, args, { cwd: dir.path, detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  child.unref();
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  const until = Date.now() + START_MS;
  while (Date.now() < until) {
    const code = await Promise.race([exited, sleep(START_POLL_MS).then(() => undefined)]);
    if (code !== undefined) {
      const log = await readFile(dir.qemuLog, 'utf8').catch(() => '');
      throw new DriverError(`QEMU did not start (exit ${code}): ${log.trim().split('\n').slice(-3).join(' ')}`, { name: 'QemuStartFailed' });
    }
    if (existsSync(dir.qmp) && (await dir.readPid()) === child.pid) return child.pid!;
  }
  child.kill('SIGKILL');
  throw new DriverError(`QEMU did not open its QMP socket within ${START_MS / 1000} s`, { name: 'QemuStartFailed' });
}

/** Whether `pid` is a live QEMU of this instance directory (its command line names our QMP socket). */
export async function isGuestProcess(pid: number, dir: InstanceDir): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(dir.qmp)) return false;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) has exited: it only waits for its parent to reap it.
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** The live QEMU pid of `dir`, or null. */
export async function livePid(dir: InstanceDir): Promise<number | null> {
  const pid = await dir.readPid();
  return pid && (await isGuestProcess(pid, dir)) ? pid : null;
}

/** Waits up to timeoutMs for the process to end; true when it did. */
export async function waitExit(pid: number, dir: InstanceDir, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!(await isGuestProcess(pid, dir))) return true;
    await sleep(100);
  }
  return !(await isGuestProcess(pid, dir));
}

/** SIGKILLs the guest's process (if it is still ours) and waits for it to go. */
export async function killGuest(pid: number, dir: InstanceDir): Promise<void> {
  if (!(await isGuestProcess(pid, dir))) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitExit(pid, dir, 10_000);
}

/** CPU time (user + system) the process has used, in ns; /proc counts clock ticks, 100 a second on Linux. */
export async function cpuTimeNs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000_000;
  } catch {
    return undefined;
  }
}

/** `qemu-system-x86_64 --version` → '7.2.22'. */
export async function qemuVersion(qemu = QEMU_BINARY): Promise<string> {
  const { stdout } = await run(qemu, ['--version'], { timeout: 10_000 });
  return /version (\d+\.\d+(?:\.\d+)?)/.exec(stdout)?.[1] ?? '0.0.0';
}
