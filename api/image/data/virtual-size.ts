/** "QFI\xfb": the first four bytes of every qcow2 image. */
const QCOW2_MAGIC = 0x514649fb;

/**
 * The virtual (guest-visible) size of an image, when it costs nothing to
 * know, as Glance's in-flight format inspection reports it for bare
 * containers: a raw disk is as large as its data; a qcow2 image says so in
 * its header (bytes 24–31, big-endian). Anything else, or data that does not
 * match its declared format, is null.
 */
export function virtualSizeOf(image: { disk_format: string | null; container_format: string | null }, head: Buffer, size: number): number | null {
  if (image.container_format !== 'bare') return null;
  switch (image.disk_format) {
    case 'raw':
      return size;
    case 'qcow2': {
      if (head.length < 32 || head.readUInt32BE(0) !== QCOW2_MAGIC) return null;
      const virtual = head.readBigUInt64BE(24);
      return virtual <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(virtual) : null;
    }
    default:
      return null;
  }
}
