/**
 * Which accelerator guests get: KVM when it really runs a guest, TCG
 * otherwise. `/dev/kvm` opening is not enough (on some hosts, nested ones
 * especially, a KVM guest runs its real-mode boot code and then never makes
 * progress, or `-cpu host` aborts on an MSR), so `auto` boots a kernel under
 * KVM and waits for its first console line; it falls back to TCG when none
 * comes within the bound. The answer is cached for the process.
 */
import { spawn } from 'node:child_process';
import { constants, accessSync, readdirSync } from 'node:fs';
import type { Logger } from '../../../lib/log.ts';

export type AccelMode = 'auto' | 'kvm' | 'tcg';

export interface Accel {
  accel: 'kvm' | 'tcg';
  /** The -cpu model guests get. */
  cpu: string;
  /** Why this one: what the probe saw. */
  reason: string;
}

const TCG: Accel = { accel: 'tcg', cpu: 'max', reason: '' };
let cached: Promise<Accel> | null = null;

/** A kernel to probe with: the host's own, newest first. */
function probeKernel(): string | null {
  try {
    const names = readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-')).sort().reverse();
    return names.length ? `/boot/${names[0]}` : null;
  } catch {
    return null;
  }
}

/** Boots `kernel` with `-accel kvm -cpu <cpu>`; resolves with the serial text seen and whether it reached the kernel's first line. */
function bootUnderKvm(qemu: string, kernel: string, cpu: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      qemu,
      ['-accel', 'kvm', '-cpu', cpu, '-m', '128', '-nodefaults', '-display', 'none', '-no-reboot', '-serial', 'stdio', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let settled = false;
    const finish = (ok: boolean, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ ok, detail });
    };
    const timer = setTimeout(() => finish(false, `no kernel console line within ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Linux version')) finish(true, 'the probe kernel printed its banner');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => finish(false, e.message));
    child.on('exit', (code) => finish(false, `qemu exited (${code}) before the kernel banner: ${err.trim().split('\n').slice(-1)[0] ?? ''}`));
  });
}

async function probe(qemu: string, log: Logger, timeoutMs: number): Promise<Accel> {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { ...TCG, reason: '/dev/kvm is not usable' };
  }
  const kernel = probeKernel();
  if (!kernel) return { ...TCG, reason: 'no kernel in /boot to probe KVM with (set compute.qemu.accel to kvm to use it untested)' };
  const reasons: string[] = [];
  for (const cpu of ['host', 'qemu64']) {
    const r = await bootUnderKvm(qemu, kernel, cpu, timeoutMs);
    log.debug({ cpu, ...r }, 'KVM probe');
    if (r.ok) return { accel: 'kvm', cpu, reason: `KVM with -cpu ${cpu}: ${r.detail}` };
    reasons.push(`-cpu ${cpu}: ${r.detail}`);
  }
  return { ...TCG, reason: `KVM does not run a guest here (${reasons.join('; ')})` };
}

/** The accelerator for `mode`; `auto` probes once per process. */
export function detectAccel(mode: AccelMode, qemu: string, log: Logger, probeTimeoutMs = 20_000): Promise<Accel> {
  if (mode === 'kvm') return Promise.resolve({ accel: 'kvm', cpu: 'host', reason: 'compute.qemu.accel is kvm' });
  if (mode === 'tcg') return Promise.resolve({ ...TCG, reason: 'compute.qemu.accel is tcg' });
  cached ??= probe(qemu, log, probeTimeoutMs);
  return cached;
}
