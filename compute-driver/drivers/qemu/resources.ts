/**
 * The host's inventory as the qemu driver reports it (Nova's libvirt
 * get_available_resource): CPUs and memory of the machine, the state
 * directory's filesystem for disk, usage summed over the instances'
 * flavors, QEMU's version, and the CPU model from /proc/cpuinfo.
 */
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { versionToInt, type CpuInfo, type HostResources } from '../../driver.ts';
import type { Accel } from './accel.ts';
import type { LaunchRecord } from './instance-dir.ts';

const GiB = 1024 ** 3;

/** The host CPU as /proc/cpuinfo describes it. */
export function hostCpuInfo(): CpuInfo {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: what os.cpus() says is all there is
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const sockets = new Set([...text.matchAll(/^physical id\s*:\s*(\d+)/gm)].map((m) => m[1])).size || 1;
  const cores = Number(field('cpu cores')) || Math.max(1, cpus().length / sockets);
  const siblings = Number(field('siblings')) || cores;
  const vendorId = field('vendor_id');
  return {
    arch: 'x86_64',
    model: field('model name') || cpus()[0]?.model || 'unknown',
    vendor: vendorId === 'GenuineIntel' ? 'Intel' : vendorId === 'AuthenticAMD' ? 'AMD' : vendorId || 'unknown',
    features: field('flags').split(/\s+/).filter(Boolean),
    topology: { sockets, cores, threads: Math.max(1, Math.round(siblings / cores)) },
  };
}

export async function hostResources(opts: {
  stateDir: string;
  host: string;
  accel: Accel;
  qemuVersion: string;
  instances: LaunchRecord[];
}): Promise<HostResources> {
  const fs = await statfs(opts.stateDir);
  const localGb = Math.floor((fs.blocks * fs.bsize) / GiB);
  const freeGb = Math.floor((fs.bavail * fs.bsize) / GiB);
  let vcpusUsed = 0;
  let memoryUsed = 0;
  let diskUsed = 0;
  for (const r of opts.instances) {
    vcpusUsed += r.spec.flavor.vcpus;
    memoryUsed += r.spec.flavor.memory_mb;
    diskUsed += r.diskGb;
  }
  return {
    vcpus: cpus().length,
    memory_mb: Math.floor(totalmem() / 1024 ** 2),
    local_gb: localGb,
    vcpus_used: vcpusUsed,
    memory_mb_used: memoryUsed,
    local_gb_used: diskUsed,
    disk_available_least: freeGb,
    hypervisor_type: 'QEMU',
    hypervisor_version: versionToInt(opts.qemuVersion),
    hypervisor_hostname: opts.host,
    cpu_info: hostCpuInfo(),
    supported_instances: opts.accel.accel === 'kvm' ? [['x86_64', 'qemu', 'hvm'], ['x86_64', 'kvm', 'hvm']] : [['x86_64', 'qemu', 'hvm']],
  };
}
