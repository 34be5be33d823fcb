/**
 * An instance's disks in its directory: the root disk (a qcow2 overlay of
 * the cached base image, root_gb big, or the image's own size when root_gb
 * is 0), the ephemeral disk (flavor.ephemeral_gb) and swap (flavor.swap MiB)
 * as blank qcow2 disks, and the UEFI variable store when the image wants
 * UEFI. (Nova also formats ephemeral and swap; the guest does that here.)
 */
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { DriverError, ImageUnacceptable, type BlockDeviceInfo, type ImageMeta, type InstanceSpec } from '../../driver.ts';
import type { CachedImage } from './image-cache.ts';
import type { InstanceDir } from './instance-dir.ts';
import { OVMF_VARS, wantsUefi, type MachineDisks } from './machine.ts';
import { createBlank, createOverlay } from './qemu-img.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The flavor's root disk is smaller than the image (Nova's FlavorDiskSmallerThanImage): no host can boot it. */
export class FlavorDiskSmallerThanImage extends DriverError {
  constructor(flavorBytes: number, imageBytes: number) {
    super(`Flavor's disk is too small for requested image. Flavor disk is ${flavorBytes} bytes, image is ${imageBytes} bytes.`, {
      code: 400,
      reschedule: false,
      name: 'FlavorDiskSmallerThanImage',
    });
  }
}

export interface PreparedDisks {
  disks: Omit<MachineDisks, 'configDrive'>;
  /** GiB the instance takes on the host (as its flavor counts it). */
  diskGb: number;
}

/** Makes the disks; keepEphemeral (a rebuild preserving it) keeps an ephemeral disk that is there. */
export async function prepareDisks(dir: InstanceDir, instance: InstanceSpec, image: ImageMeta, base: CachedImage, bdi: BlockDeviceInfo, keepEphemeral = false): Promise<PreparedDisks> {
  const { root_gb, ephemeral_gb, swap } = instance.flavor;
  const rootBytes = root_gb > 0 ? root_gb * GiB : null;
  if (rootBytes !== null && base.virtualSize > rootBytes) throw new FlavorDiskSmallerThanImage(rootBytes, base.virtualSize);
  await createOverlay(dir.disk, base.path, base.format, rootBytes);
  const ephemeralGb = bdi.ephemerals.length ? bdi.ephemerals.reduce((n, e) => n + e.size, 0) : ephemeral_gb;
  const swapMb = bdi.swap?.swap_size ?? swap;
  if (ephemeralGb > 0 && !(keepEphemeral && existsSync(dir.ephemeral))) await createBlank(dir.ephemeral, ephemeralGb * GiB);
  if (swapMb > 0) await createBlank(dir.swap, swapMb * MiB);
  if (wantsUefi(image)) {
    if (!existsSync(OVMF_VARS)) throw new ImageUnacceptable(image.id, `hw_firmware_type uefi needs OVMF (${OVMF_VARS}), which this host lacks`);
    await copyFile(OVMF_VARS, dir.nvram);
  }
  return {
    disks: { root: dir.disk, ephemeral: ephemeralGb > 0 ? dir.ephemeral : null, swap: swapMb > 0 ? dir.swap : null },
    diskGb: Math.max(root_gb, Math.ceil(base.virtualSize / GiB)) + ephemeralGb + Math.ceil(swapMb / 1024),
  };
}
