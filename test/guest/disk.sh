# Sourced by build.sh and build-debian.sh: a disk that SeaBIOS boots, made
# from image files without mounting anything. SYSLINUX's MBR boots the first
# partition, a FAT16 filesystem with SYSLINUX installed (its mtools installer).

# The first partition starts at 1 MiB.
DISK_FIRST_SECTOR=2048

# syslinux_partition IMAGE SIZE_MB LABEL SYSLINUX_CFG [SOURCE:NAME]...
# Makes IMAGE, SIZE_MB MiB of FAT16 labelled LABEL, with SYSLINUX, the
# config as /syslinux.cfg and each SOURCE file as /NAME.
syslinux_partition() {
  local img=$1 mb=$2 label=$3 cfg=$4 file
  shift 4
  truncate -s "${mb}M" "$img"
  mkfs.fat -F 16 -n "$label" -h $DISK_FIRST_SECTOR "$img" >/dev/null
  syslinux --install "$img"
  mcopy -i "$img" "$cfg" ::syslinux.cfg
  for file in "$@"; do
    mcopy -i "$img" "${file%%:*}" "::${file#*:}"
  done
}

# mbr_disk DISK PARTITION_IMAGE:TYPE...
# Makes DISK (raw): SYSLINUX's MBR and the partition images (whole MiBs) one
# after the other with their MBR types (e: FAT16 LBA, 83: Linux), the first
# bootable.
mbr_disk() {
  local disk=$1 part start=$DISK_FIRST_SECTOR sectors table='label: dos\n' flag=', bootable'
  shift
  for part in "$@"; do
    sectors=$(($(stat -c %s "${part%:*}") / 512))
    table="${table}start=$start, size=$sectors, type=${part##*:}$flag\n"
    flag=
    start=$((start + sectors))
  done
  truncate -s $((start * 512)) "$disk"
  printf "$table" | sfdisk -q "$disk"
  dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none
  start=$DISK_FIRST_SECTOR
  for part in "$@"; do
    dd if="${part%:*}" of="$disk" bs=1M seek=$((start / 2048)) conv=notrunc,sparse status=none
    start=$((start + $(stat -c %s "${part%:*}") / 512))
  done
}
