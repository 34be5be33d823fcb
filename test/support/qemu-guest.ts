/**
 * A minimal bootable guest for the qemu driver's tests, built once and
 * cached in the temp dir: an unpartitioned FAT disk with syslinux, the host's
 * Debian kernel and a busybox initramfs whose init prints marker lines to
 * the serial console (`nubo-guest: boot`, the uuid, hostname and public
 * keys from the config drive, `nubo-guest: ready`) and powers off on the
 * ACPI power button.
 *
 * Needs busybox-static, cpio, syslinux, mtools, dosfstools and a kernel in
 * /boot. (The shared test guest of test/guest/ can replace this: keep
 * callers on testGuestImage().)
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CACHE = join(tmpdir(), 'nubo-test-guest-busybox-v3');
const MODULES = ['isofs', 'sr_mod', 'ata_piix', 'ahci', 'virtio_blk', 'virtio_pci', 'virtio_scsi', 'button', 'evdev'];

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "nubo-guest: boot"
for m in $(cat /modules.list); do insmod "$m" 2>/dev/null; done
sleep 1
mkdir -p /mnt/config
for d in /dev/sr0 /dev/sr1 /dev/vdb /dev/vdc /dev/vdd /dev/sdb /dev/sdc /dev/sdd; do
  [ -b "$d" ] && mount -t iso9660 -o ro "$d" /mnt/config 2>/dev/null && break
done
META=/mnt/config/openstack/latest/meta_data.json
if [ -f "$META" ]; then
  echo "nubo-guest: uuid=$(sed -n 's/.*"uuid": *"\\([^"]*\\)".*/\\1/p' "$META")"
  echo "nubo-guest: hostname=$(sed -n 's/.*"hostname": *"\\([^"]*\\)".*/\\1/p' "$META")"
  echo "nubo-guest: public_keys=$(grep -o '"public_keys": *{[^}]*}' "$META")"
else
  echo "nubo-guest: no config drive"
fi
# The ACPI power button (an input device once the button module is in): any event on it powers off.
ev=$(awk '/^N: Name="Power Button"/{p=1} p && /^H: Handlers=/{for(i=1;i<=NF;i++) if ($i ~ /^event/) print $i; p=0}' /proc/bus/input/devices | head -1)
if [ -n "$ev" ]; then
  (dd if=/dev/input/$ev bs=24 count=1 >/dev/null 2>&1; echo "nubo-guest: power button, powering off"; sync; poweroff -f) &
  echo "nubo-guest: power button on $ev"
else
  echo "nubo-guest: no power button"
fi
echo "nubo-guest: ready"
n=0
while true; do sleep 1; n=$((n+1)); [ $((n % 5)) -eq 0 ] && echo "nubo-guest: tick $n"; done
`;

function hostKernel(): { kernel: string; version: string } {
  const names = readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-')).sort().reverse();
  if (!names.length) throw new Error('no kernel in /boot for the test guest');
  return { kernel: `/boot/${names[0]}`, version: names[0]!.slice('vmlinuz-'.length) };
}

/** Why the test guest cannot be built here, or null when it can. */
export function testGuestUnavailable(): string | null {
  for (const tool of ['/bin/busybox', '/usr/bin/cpio', '/usr/bin/syslinux', '/usr/bin/mcopy', '/usr/sbin/mkfs.vfat']) {
    if (!existsSync(tool)) return `${tool} is missing (apt-get install busybox-static cpio syslinux mtools dosfstools)`;
  }
  try {
    hostKernel();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

async function buildInitramfs(work: string, version: string): Promise<string> {
  const root = join(work, 'root');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'mnt', 'lib/modules']) await mkdir(join(root, d), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await symlink('busybox', join(root, 'bin/sh'));
  await writeFile(join(root, 'init'), INIT);
  await chmod(join(root, 'init'), 0o755);
  const { stdout } = await run('modprobe', ['--show-depends', '-S', version, '-a', ...MODULES]);
  const order: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^insmod (\S+)/.exec(line);
    if (!m) continue;
    const inGuest = `/lib/modules/${m[1]!.split('/').pop()}`;
    if (order.includes(inGuest)) continue;
    await copyFile(m[1]!, join(root, inGuest));
    order.push(inGuest);
  }
  await writeFile(join(root, 'modules.list'), order.join('\n') + '\n');
  const initrd = join(work, 'initrd.gz');
  await run('sh', ['-c', `cd '${root}' && find . | cpio -o -H newc --quiet | gzip -1 > '${initrd}'`]);
  return initrd;
}

/** The path of a cached bootable qcow2 disk (built on first use). */
export async function testGuestImage(): Promise<string> {
  const image = join(CACHE, 'guest.qcow2');
  if (existsSync(image)) return image;
  const why = testGuestUnavailable();
  if (why) throw new Error(why);
  const { kernel, version } = hostKernel();
  const work = await mkdtemp(join(tmpdir(), 'nubo-guest-build-'));
  try {
    const initrd = await buildInitramfs(work, version);
    const raw = join(work, 'guest.raw');
    await run('mkfs.vfat', ['-C', raw, String(48 * 1024)]);
    await run('syslinux', ['--install', raw]);
    const cfg = join(work, 'syslinux.cfg');
    await writeFile(cfg, 'DEFAULT linux\nPROMPT 0\nTIMEOUT 1\nLABEL linux\n  KERNEL vmlinuz\n  INITRD initrd.gz\n  APPEND console=ttyS0 quiet panic=-1\n');
    await run('mcopy', ['-i', raw, kernel, '::vmlinuz']);
    await run('mcopy', ['-i', raw, initrd, '::initrd.gz']);
    await run('mcopy', ['-i', raw, cfg, '::syslinux.cfg']);
    const qcow2 = join(work, 'guest.qcow2');
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
    await mkdir(CACHE, { recursive: true });
    await rename(qcow2, image);
    return image;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
