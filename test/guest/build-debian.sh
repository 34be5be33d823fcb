#!/usr/bin/env bash
# Builds a real Debian guest with cloud-init, for tests and demos that need
# more than the busybox test guest (SSH, DHCP, cloud-init reading the config
# drive): debootstrap from the Debian mirror configured for apt here, root
# on ext4 made with mkfs.ext4 -d (no loop mount), the kernel and initramfs on
# a FAT partition booted by SYSLINUX, like build.sh. Needs root (debootstrap)
# and the Debian mirror; takes minutes.
#
#   test/guest/build-debian.sh [OUTDIR]
#
# Prints the image's path. Cached like build.sh, in
# ${NUBO_GUEST_CACHE:-$HOME/.cache/nubo/guest}/debian-<hash>/ (the hash covers
# this script, disk.sh and the suite). NUBO_DEBIAN_SUITE (default: this machine's,
# from /etc/os-release) and NUBO_DEBIAN_MIRROR (default: the first Debian
# mirror of /etc/apt/sources.list*) override.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
log() { echo "build-debian.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap)"
for tool in debootstrap mkfs.ext4 mkfs.fat mcopy syslinux sfdisk qemu-img; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap e2fsprogs dosfstools mtools syslinux syslinux-common fdisk qemu-utils)"
done

suite=${NUBO_DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
mirror=${NUBO_DEBIAN_MIRROR:-$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
  grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ' || true)}
[ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list*: set NUBO_DEBIAN_MIRROR"

. "$here/disk.sh"
hash=$( (cd "$here" && sha256sum build-debian.sh disk.sh; echo "$suite") | sha256sum | cut -c1-16)
if [ $# -ge 1 ]; then
  outdir=$1
else
  outdir=${NUBO_GUEST_CACHE:-$HOME/.cache/nubo/guest}/debian-$hash
  if [ -s "$outdir/debian-$suite-nubo.qcow2" ]; then
    echo "$outdir/debian-$suite-nubo.qcow2"
    exit 0
  fi
fi
mkdir -p "$outdir"
work=$(mktemp -d "$outdir/.build.XXXXXX")
root=$work/root
cleanup() {
  for m in proc sys dev/pts dev; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT

log "debootstrap $suite from $mirror"
debootstrap --variant=minbase --include=systemd-sysv,udev "$suite" "$root" "$mirror" >"$work/build.log" 2>&1 ||
  { cp "$work/build.log" "$outdir/build.log"; die "debootstrap failed: see $outdir/build.log"; }
# apt resolves what debootstrap's --include does not (cloud-init's Python).
# dbus lets systemd-logind run, which powers off on the ACPI power button.
printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount -t devpts devpts "$root/dev/pts"
log "installing the kernel, cloud-init and SSH"
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y --no-install-recommends \
  linux-image-amd64 initramfs-tools cloud-init cloud-guest-utils openssh-server ifupdown isc-dhcp-client \
  netbase iproute2 sudo ca-certificates dbus qemu-guest-agent >>"$work/build.log" 2>&1 ||
  { cp "$work/build.log" "$outdir/build.log"; die "apt-get install failed: see $outdir/build.log"; }
for m in dev/pts dev sys proc; do umount "$root/$m"; done

cat >"$root/etc/fstab" <<'EOF'
LABEL=debian-root / ext4 defaults,errors=remount-ro 0 1
EOF
echo debian >"$root/etc/hostname"
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
cat >"$root/etc/cloud/cloud.cfg.d/90_nubo.cfg" <<'EOF'
# Nubo attaches a config drive; do not probe the network datasources.
datasource_list: [ConfigDrive, NoCloud, None]
EOF
cat >"$root/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
EOF
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/tmp/*

kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$root/boot/initrd.img-${kernel##*/vmlinuz-}
[ -f "$initrd" ] || die "no initramfs for $kernel"

# The disk: the boot partition (FAT: SYSLINUX, kernel, initramfs), then root.
cat >"$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=debian-root ro console=tty0 console=ttyS0,115200
EOF
boot_mb=$(( ($(stat -c %s "$kernel") + $(stat -c %s "$initrd")) / 1048576 + 16 ))
syslinux_partition "$work/boot.img" $boot_mb DEBIANBOOT "$work/syslinux.cfg" "$kernel:vmlinuz" "$initrd:initrd.img"
root_mb=$(( $(du -sm "$root" | cut -f1) * 13 / 10 + 256 ))
mkfs.ext4 -q -L debian-root -d "$root" "$work/root.img" ${root_mb}M >/dev/null
mbr_disk "$work/disk.img" "$work/boot.img:e" "$work/root.img:83"
qemu-img convert -c -f raw -O qcow2 "$work/disk.img" "$work/image.qcow2"

mv -f "$work/image.qcow2" "$outdir/debian-$suite-nubo.qcow2"
log "built $outdir/debian-$suite-nubo.qcow2 (root ${root_mb} MiB)"
echo "$outdir/debian-$suite-nubo.qcow2"
