#!/usr/bin/env bash
# Builds Nubo's test guest: a small bootable disk image (qcow2) made from the
# Debian packages of this machine: the kernel of linux-image-amd64, a few of
# its modules, busybox-static and SYSLINUX. The disk has an MBR and one FAT
# partition (label NUBOGUEST) holding SYSLINUX, the kernel and an initramfs
# whose /init is test/guest/init. No mount, loop device or root is needed:
# mkfs.fat, syslinux (its mtools installer) and mcopy work on image files.
#
#   test/guest/build.sh [OUTDIR]
#
# Prints the image's path on stdout. Without OUTDIR the image is cached in
# ${NUBO_GUEST_CACHE:-$HOME/.cache/nubo/guest}/<hash of the inputs>/ and
# built only when that directory lacks it; with OUTDIR it is always built
# into OUTDIR. Builds happen in a temporary directory and the image is
# renamed into place, so concurrent runs never expose a partial file.
# NUBO_GUEST_KERNEL picks a kernel release (default: the newest in /boot).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { echo "build.sh: $*" >&2; }
die() { log "$*"; exit 1; }

export PATH=$PATH:/usr/sbin:/sbin
for tool in busybox cpio gzip mkfs.fat mcopy syslinux sfdisk qemu-img modprobe sha256sum; do
  command -v "$tool" >/dev/null ||
    die "$tool is missing (apt-get install busybox-static cpio dosfstools mtools syslinux syslinux-common fdisk qemu-utils kmod)"
done

kver=${NUBO_GUEST_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n 1)}
kernel=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -r "$kernel" ] || die "no readable kernel /boot/vmlinuz-$kver (apt-get install linux-image-amd64)"
[ -d "$moddir" ] || die "no modules in $moddir"
busybox=$(command -v busybox)
case $(LC_ALL=C ldd "$busybox" 2>&1 || true) in
  *"not a dynamic executable"*) ;;
  *) die "$busybox is not static (apt-get install busybox-static)" ;;
esac
[ -r /usr/lib/syslinux/mbr/mbr.bin ] || die "no /usr/lib/syslinux/mbr/mbr.bin (apt-get install syslinux-common)"
. "$here/disk.sh"

pkgver() { dpkg-query -W -f='${Package} ${Version}\n' "$1" 2>/dev/null || echo "$1 unknown"; }
inputs() {
  (cd "$here" && sha256sum build.sh disk.sh init json-flat.awk)
  echo "kernel $kver $(pkgver "linux-image-$kver")"
  pkgver busybox-static
  pkgver syslinux
  pkgver syslinux-common
}
hash=$(inputs | sha256sum | cut -c1-16)

if [ $# -ge 1 ]; then
  outdir=$1
else
  outdir=${NUBO_GUEST_CACHE:-$HOME/.cache/nubo/guest}/$hash
  if [ -s "$outdir/nubo-guest.qcow2" ]; then
    echo "$outdir/nubo-guest.qcow2"
    exit 0
  fi
fi
mkdir -p "$outdir"
work=$(mktemp -d "$outdir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The modules the guest loads, with their dependencies, in load order.
modules="virtio_pci virtio_blk virtio_scsi virtio_net sd_mod sr_mod ata_piix ata_generic ahci
  isofs vfat nls_cp437 nls_ascii button evdev crc64_rocksoft_generic"
root=$work/initramfs
mkdir -p "$root/bin" "$root/lib/modules" "$root/lib/nubo"
for m in $modules; do
  modprobe -S "$kver" --show-depends "$m" || die "no module $m for $kver"
done | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' >"$work/modules"
while read -r ko; do
  name=$(basename "$ko")
  cp "$ko" "$root/lib/modules/$name"
  echo "$name" >>"$root/lib/modules/load.order"
done <"$work/modules"
cp "$busybox" "$root/bin/busybox"
install -m 0755 "$here/init" "$root/init"
cp "$here/json-flat.awk" "$root/lib/nubo/json-flat.awk"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$work/initrd.gz"

cat >"$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT nubo
PROMPT 0
TIMEOUT 0
LABEL nubo
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0,115200 quiet loglevel=3
EOF

# The disk: one bootable FAT partition, the payload plus room for the boot counter.
payload=$(($(stat -c %s "$kernel") + $(stat -c %s "$work/initrd.gz")))
part_mb=$((payload / 1048576 + 8))
[ $part_mb -ge 16 ] || part_mb=16
syslinux_partition "$work/part.img" $part_mb NUBOGUEST "$work/syslinux.cfg" "$kernel:vmlinuz" "$work/initrd.gz:initrd.gz"
mbr_disk "$work/disk.img" "$work/part.img:e"
qemu-img convert -f raw -O qcow2 "$work/disk.img" "$work/nubo-guest.qcow2"

inputs >"$work/inputs.txt"
mv -f "$work/inputs.txt" "$outdir/inputs.txt"
mv -f "$work/nubo-guest.qcow2" "$outdir/nubo-guest.qcow2"
log "built $outdir/nubo-guest.qcow2 ($kver, $(wc -l <"$work/modules") modules)"
echo "$outdir/nubo-guest.qcow2"
