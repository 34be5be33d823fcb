/**
 * The KVM probe's answer, kept in a file so that later agent starts (and
 * drivers made by tests) skip the probe: it boots a kernel, and takes its
 * whole bound (20 s per CPU model) on a host where KVM is broken. The file
 * holds the answer with what could change it (the key): the QEMU binary and
 * version, the host kernel release, /dev/kvm's device numbers and mtime (a
 * reloaded kvm module makes a new node) and the probe kernel. Any change of
 * the key, or a file that cannot be read, means probing again.
 * compute.qemu.accel kvm|tcg skips all of this.
 */
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { release } from 'node:os';
import { dirname } from 'node:path';
import type { Accel } from './accel.ts';

export interface ProbeKey {
  qemu: string;
  qemuVersion: string;
  kernelRelease: string;
  kvmDevice: string;
  probeKernel: string;
}

function statKey(path: string | null): string {
  if (!path) return 'none';
  try {
    const s = statSync(path);
    return `${path} rdev=${s.rdev} size=${s.size} mtime=${s.mtimeMs}`;
  } catch {
    return `${path} missing`;
  }
}

/** What the probe's answer depends on, as it is now. */
export function probeKey(qemu: string, qemuVersion: string, probeKernel: string | null): ProbeKey {
  return { qemu, qemuVersion, kernelRelease: release(), kvmDevice: statKey('/dev/kvm'), probeKernel: statKey(probeKernel) };
}

const sameKey = (a: ProbeKey, b: ProbeKey) => (Object.keys(a) as (keyof ProbeKey)[]).every((k) => a[k] === b[k]);

/** The cached answer for `key`, or null (no file, unreadable, or made for another key). */
export async function readProbe(file: string, key: ProbeKey): Promise<Accel | null> {
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { key?: ProbeKey; accel?: Accel };
    if (!saved.key || !saved.accel || !sameKey(saved.key, key)) return null;
    if (saved.accel.accel !== 'kvm' && saved.accel.accel !== 'tcg') return null;
    return saved.accel;
  } catch {
    return null;
  }
}

/** Saves the answer for `key` (written aside and renamed: readers never see half a file). */
export async function writeProbe(file: string, key: ProbeKey, accel: Accel): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ key, accel, probedAt: new Date().toISOString() }, null, 2) + '\n');
  await rename(tmp, file);
}
