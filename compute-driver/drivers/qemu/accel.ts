/**
 * Which accelerator guests get: KVM when it really runs a guest, TCG
 * otherwise. `/dev/kvm` opening is not enough (on some hosts, nested ones
 * especially, a KVM guest runs its real-mode boot code and then never makes
 * progress, or `-cpu host` aborts on an MSR), so `auto` boots a kernel under
 * KVM and waits for its first console line; it falls back to TCG when none
 * comes within the bound. The answer is kept in a file (accel-cache.ts) and
 * for the process.
 */
import { spawn } from 'node:child_process';
import { constants, accessSync, readdirSync } from 'node:fs';
import type { Logger } from '../../../lib/log.ts';
import { probeKey, readProbe, writeProbe } from './accel-cache.ts';

export type AccelMode = 'auto' | 'kvm' | 'tcg';

export interface Accel {
  accel: 'kvm' | 'tcg';
  /** The -cpu model guests get. */
  cpu: string;
  /** Why this one: what the probe saw. */
  reason: string;
}

const TCG: Accel = { accel: 'tcg', cpu: 'max', reason: '' };
/** Probes under way or done in this process, by cache file and key. */
const probes = new Map<string, Promise<Accel>>();

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

/** Boots the probe kernel under KVM (with -cpu host, then qemu64): the accelerator guests can have. */
export async function probeAccel(qemu: string, log: Logger, timeoutMs: number): Promise<Accel> {
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

export interface DetectOptions {
  /** The QEMU version (part of the cache key). */
  qemuVersion: string;
  /** The file keeping the probe's answer (accel-cache.ts). */
  cacheFile: string;
  /** The bound on one probe boot. Default 20 s. */
  probeTimeoutMs?: number;
}

/** The accelerator for `mode`; `auto` uses the cached answer while its key holds, and probes (once per process) when not. */
export function detectAccel(mode: AccelMode, qemu: string, log: Logger, opts: DetectOptions): Promise<Accel> {
  if (mode === 'kvm') return Promise.resolve({ accel: 'kvm', cpu: 'host', reason: 'compute.qemu.accel is kvm' });
  if (mode === 'tcg') return Promise.resolve({ ...TCG, reason: 'compute.qemu.accel is tcg' });
  const key = probeKey(qemu, opts.qemuVersion, probeKernel());
  const memo = `${opts.cacheFile}\0${JSON.stringify(key)}`;
  let answer = probes.get(memo);
  if (!answer) {
    answer = (async () => {
      const saved = await readProbe(opts.cacheFile, key);
      if (saved) {
        log.debug({ file: opts.cacheFile }, 'KVM probe answer from the cache');
        return { ...saved, reason: `${saved.reason} (probed earlier, kept in ${opts.cacheFile})` };
      }
      const probed = await probeAccel(qemu, log, opts.probeTimeoutMs ?? 20_000);
      await writeProbe(opts.cacheFile, key, probed).catch((e: Error) => log.warn({ err: e.message, file: opts.cacheFile }, 'could not keep the KVM probe answer'));
      return probed;
    })();
    answer.catch(() => probes.delete(memo));
    probes.set(memo, answer);
  }
  return answer;
}
