#!/usr/bin/env bash
# What the qemu compute driver and the test guest (test/guest/build.sh) need
# on a Debian or Ubuntu host: QEMU, qemu-img, genisoimage (config drives),
# OVMF (UEFI guests), a kernel in /boot, busybox-static, SYSLINUX and the
# FAT/partition tools the guest build uses.
#
#   bin/setup-host.sh            install what is missing when root (apt-get),
#                                else print the apt-get line and go on (exit 0:
#                                the all-in-one then runs the fake driver)
#   bin/setup-host.sh --missing  print the missing packages, one a line (.ci/run)
set -uo pipefail

missing_packages() {
  command -v qemu-system-x86_64 >/dev/null || echo qemu-system-x86
  command -v qemu-img >/dev/null || echo qemu-utils
  command -v genisoimage >/dev/null || echo genisoimage
  ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo linux-image-amd64; echo kmod; }
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || echo busybox-static
  command -v cpio >/dev/null || echo cpio
  command -v syslinux >/dev/null || echo syslinux
  [ -f /usr/lib/syslinux/mbr/mbr.bin ] || echo syslinux-common
  command -v mcopy >/dev/null || echo mtools
  [ -x /usr/sbin/mkfs.fat ] || echo dosfstools
  [ -x /usr/sbin/sfdisk ] || echo fdisk
  [ -f /usr/share/OVMF/OVMF_CODE.fd ] || echo ovmf
}

if [ "${1:-}" = "--missing" ]; then
  missing_packages
  exit 0
fi

mapfile -t need < <(missing_packages)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "setup-host: not a Debian/Ubuntu host; install the equivalents of: ${need[*]} (the all-in-one runs the fake driver without QEMU)" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: the qemu driver and the test guest need packages this host lacks. As root:" >&2
  echo "  apt-get install -y ${need[*]}" >&2
  echo "setup-host: going on without them (the all-in-one runs the fake driver when QEMU is missing)" >&2
  exit 0
fi
echo "setup-host: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }; then
  echo "setup-host: apt-get install ${need[*]} failed; going on (the all-in-one runs the fake driver when QEMU is missing)" >&2
fi
exit 0
