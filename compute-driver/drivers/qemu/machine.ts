/**
 * From an instance (flavor, extra specs, image properties) to the
 * qemu-system-x86_64 argument vector, as Nova's libvirt driver decides the
 * guest config: machine type (hw_machine_type), CPU topology
 * (hw:cpu_sockets/cores/threads, hw_cpu_*), memory, the disk bus
 * (hw_disk_bus), the config drive as a CD-ROM, a virtio RNG (hw_rng:allowed),
 * UEFI firmware (hw_firmware_type), the serial console (a socket that also
 * logs to console.log), QMP and VNC sockets.
 */
import { existsSync } from 'node:fs';
import { ImageUnacceptable, type ImageMeta, type InstanceSpec } from '../../driver.ts';
import type { Accel } from './accel.ts';
import type { InstanceDir } from './instance-dir.ts';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd';

export interface MachineDisks {
  root: string;
  ephemeral: string | null;
  swap: string | null;
  configDrive: string | null;
}

const DISK_BUSES = ['virtio', 'ide', 'sata', 'scsi'] as const;
type DiskBus = (typeof DISK_BUSES)[number];

/** An image property or flavor extra spec as a string, or undefined. */
const prop = (image: ImageMeta, name: string): string | undefined => {
  const v = image.properties?.[name];
  return v === undefined || v === null || v === '' ? undefined : String(v);
};

function machineType(image: ImageMeta): string {
  const m = prop(image, 'hw_machine_type') ?? 'pc';
  if (!/^(pc|q35|pc-i440fx-[\d.]+|pc-q35-[\d.]+)$/.test(m)) throw new ImageUnacceptable(image.id, `hw_machine_type ${m} is not a supported x86_64 machine type`);
  return m;
}

/** -smp: the flavor's hw:cpu_* win over the image's hw_cpu_*; what is missing is derived, preferring sockets (as Nova does). */
export function cpuTopology(instance: InstanceSpec, image: ImageMeta): { sockets: number; cores: number; threads: number } {
  const vcpus = instance.flavor.vcpus;
  const pick = (name: 'sockets' | 'cores' | 'threads') => {
    const raw = instance.flavor.extra_specs?.[`hw:cpu_${name}`] ?? prop(image, `hw_cpu_${name}`);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new ImageUnacceptable(image.id, `hw cpu_${name} ${raw} is not a positive integer`);
    return n;
  };
  let [sockets, cores, threads] = [pick('sockets'), pick('cores'), pick('threads')];
  threads ??= 1;
  cores ??= sockets ? Math.max(1, Math.floor(vcpus / (sockets * threads))) : 1;
  sockets ??= Math.max(1, Math.floor(vcpus / (cores * threads)));
  if (sockets * cores * threads !== vcpus) {
    throw new ImageUnacceptable(image.id, `CPU topology ${sockets} sockets × ${cores} cores × ${threads} threads does not make ${vcpus} vCPUs`);
  }
  return { sockets, cores, threads };
}

/** The -device arguments of the disks on `bus`, after any controller they need. */
function diskDevices(bus: DiskBus, machine: string, disks: MachineDisks): string[] {
  const args: string[] = [];
  const q35 = machine.includes('q35');
  const drive = (id: string, file: string, extra = '') => ['-drive', `if=none,id=${id},file=${file},format=qcow2,discard=unmap${extra}`];
  const list = [
    { id: 'disk0', file: disks.root },
    ...(disks.ephemeral ? [{ id: 'disk1', file: disks.ephemeral }] : []),
    ...(disks.swap ? [{ id: 'disk2', file: disks.swap }] : []),
  ];
  // IDE and SATA disks share a controller with the CD-ROM: ports are counted in one place.
  let port = 0;
  const ideBus = () => {
    const n = port++;
    return q35 ? `ide.${n}` : `ide.${Math.floor(n / 2)},unit=${n % 2}`;
  };
  if (bus === 'scsi') args.push('-device', 'virtio-scsi-pci,id=scsi0');
  if (bus === 'sata' && !q35) args.push('-device', 'ahci,id=ahci0');
  let sataPort = 0;
  list.forEach((d, i) => {
    args.push(...drive(d.id, d.file));
    const boot = i === 0 ? ',bootindex=1' : '';
    if (bus === 'virtio') args.push('-device', `virtio-blk-pci,drive=${d.id},id=${d.id}-dev${boot}`);
    else if (bus === 'scsi') args.push('-device', `scsi-hd,bus=scsi0.0,drive=${d.id},id=${d.id}-dev${boot}`);
    else if (bus === 'sata' && !q35) args.push('-device', `ide-hd,bus=ahci0.${sataPort++},drive=${d.id},id=${d.id}-dev${boot}`);
    else args.push('-device', `ide-hd,bus=${ideBus()},drive=${d.id},id=${d.id}-dev${boot}`);
  });
  if (disks.configDrive) {
    args.push('-drive', `if=none,id=cd0,file=${disks.configDrive},format=raw,media=cdrom,readonly=on`);
    args.push('-device', `ide-cd,bus=${ideBus()},drive=cd0,id=cd0-dev`);
  }
  return args;
}

/** The argument vector of the guest (no -daemonize, -pidfile nor -incoming: those belong to one launch). */
export function machineArgs(instance: InstanceSpec, image: ImageMeta, accel: Accel, dir: InstanceDir, disks: MachineDisks): string[] {
  const machine = machineType(image);
  const bus = (prop(image, 'hw_disk_bus') ?? 'virtio') as DiskBus;
  if (!DISK_BUSES.includes(bus)) throw new ImageUnacceptable(image.id, `hw_disk_bus ${bus} is not supported (virtio, ide, sata, scsi)`);
  const { sockets, cores, threads } = cpuTopology(instance, image);
  const args = [
    '-name', `guest=${instance.name},debug-threads=on`,
    '-uuid', instance.uuid,
    '-no-user-config', '-nodefaults',
    '-machine', `${machine},accel=${accel.accel}`,
    '-cpu', accel.cpu,
    '-smp', `${instance.flavor.vcpus},sockets=${sockets},cores=${cores},threads=${threads}`,
    '-m', String(instance.flavor.memory_mb),
    '-smbios', `type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova,serial=${instance.uuid},uuid=${instance.uuid},family=Virtual Machine`,
    '-rtc', 'base=utc',
    '-chardev', `socket,id=qmp,path=${dir.qmp},server=on,wait=off`,
    '-mon', 'chardev=qmp,mode=control',
    // The serial port: a console socket for the proxy that also logs everything to console.log (os-getConsoleOutput).
    '-chardev', serialChardev(dir),
    '-device', 'isa-serial,chardev=serial0',
    '-vga', 'std',
    '-display', 'none',
    '-vnc', `unix:${dir.vnc}`,
    '-nic', 'none',
    '-device', 'pvpanic',
  ];
  if (prop(image, 'hw_firmware_type') === 'uefi') {
    if (!existsSync(OVMF_CODE) || !existsSync(OVMF_VARS)) throw new ImageUnacceptable(image.id, `hw_firmware_type uefi needs OVMF (${OVMF_CODE}), which this host lacks`);
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${dir.nvram}`);
  }
  args.push(...diskDevices(bus, machine, disks));
  if (String(instance.flavor.extra_specs?.['hw_rng:allowed'] ?? '').toLowerCase() === 'true') {
    args.push('-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', 'virtio-rng-pci,rng=rng0');
  }
  return args;
}

/**
 * `argv` with the accelerator and CPU model of `accel`: a guest started again
 * (power on, hard reboot) gets what this host runs now, not what it had when
 * it was created. (A resumed guest keeps its own: its saved state needs them.)
 */
const serialChardev = (dir: InstanceDir) => `socket,id=serial0,path=${dir.serial},server=on,wait=off,logfile=${dir.console},logappend=on`;

/** The serial chardev as it is made now (a socket that logs) for launch records written before the serial console: the chardev's kind is not part of a saved state, so a resume takes it too. */
export function withSerialSocket(argv: string[], dir: InstanceDir): string[] {
  return argv.map((arg, i) => (argv[i - 1] === '-chardev' && arg.startsWith('file,id=serial0,') ? serialChardev(dir) : arg));
}

export function withAccel(argv: string[], accel: Accel): string[] {
  return argv.map((arg, i) => {
    if (argv[i - 1] === '-machine') return arg.replace(/accel=[a-z]+/, `accel=${accel.accel}`);
    if (argv[i - 1] === '-cpu') return accel.cpu;
    return arg;
  });
}

/** Whether the image asks for UEFI (its NVRAM must be copied into the instance directory). */
export const wantsUefi = (image: ImageMeta) => prop(image, 'hw_firmware_type') === 'uefi';
