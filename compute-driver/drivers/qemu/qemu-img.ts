/**
 * The qemu-img calls the driver makes: what a file is (`info`), new disks
 * (`create`, an overlay on a base image or a blank one), a disk flattened
 * into a standalone image (`convert`, for snapshots), a bigger disk
 * (`resize`) and an overlay pointed at another copy of its base (`rebase -u`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DriverError } from '../../driver.ts';

const run = promisify(execFile);

export interface ImageInfo {
  format: string;
  virtualSize: number;
  backingFile: string | null;
  backingFormat: string | null;
  dataFile: string | null;
}

async function qemuImg(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run('qemu-img', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new DriverError(`qemu-img ${args[0]} failed: ${(err.stderr ?? err.message).trim()}`, { name: 'QemuImgError' });
  }
}

/**
 * What qemu-img sees in `path` (probing the format, as Nova's qemu_img_info
 * does for a downloaded image); `share` reads a disk a running guest holds (-U).
 */
export async function imageInfo(path: string, format?: string, share = false): Promise<ImageInfo> {
  const out = await qemuImg(['info', '--output=json', ...(share ? ['-U'] : []), ...(format ? ['-f', format] : []), path]);
  const info = JSON.parse(out) as Record<string, any>;
  return {
    format: String(info.format),
    virtualSize: Number(info['virtual-size']),
    backingFile: info['backing-filename'] ?? info['full-backing-filename'] ?? null,
    backingFormat: info['backing-filename-format'] ?? null,
    dataFile: info['format-specific']?.data?.['data-file'] ?? null,
  };
}

/** A qcow2 overlay of `base` (format `baseFormat`) of `sizeBytes` (the base's size when null). */
export async function createOverlay(path: string, base: string, baseFormat: string, sizeBytes: number | null): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', '-b', base, '-F', baseFormat, path, ...(sizeBytes ? [String(sizeBytes)] : [])]);
}

/** A blank qcow2 disk of `sizeBytes`. */
export async function createBlank(path: string, sizeBytes: number): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
}

/** Longest a snapshot's convert may take (it copies the whole allocated disk). */
const FLATTEN_MS = 60 * 60_000;

/**
 * `source` (qcow2, read through its backing chain) as a new qcow2 image at
 * `dest` with no backing file. -U opens the source without QEMU's image lock:
 * the caller makes sure nothing writes it meanwhile (snapshot.ts).
 */
export async function flatten(source: string, dest: string): Promise<void> {
  await qemuImg(['convert', '-q', '-U', '-f', 'qcow2', '-O', 'qcow2', source, dest], FLATTEN_MS);
}

/** Grows the qcow2 disk `path` to `sizeBytes` (its partitions and file systems are the guest's business). */
export async function growDisk(path: string, sizeBytes: number): Promise<void> {
  await qemuImg(['resize', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
}

/** Points the overlay `path` at `base` (format `baseFormat`), a copy of the data it was made on: only the header changes (-u). */
export async function rebaseUnsafe(path: string, base: string, baseFormat: string): Promise<void> {
  await qemuImg(['rebase', '-q', '-u', '-f', 'qcow2', '-b', base, '-F', baseFormat, path]);
}
