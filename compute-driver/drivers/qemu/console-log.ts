/**
 * A guest's serial console log (console.log in its directory, which QEMU's
 * serial chardev appends to): what os-getConsoleOutput reads, kept bounded
 * as libvirt's virtlogd keeps it. When console.log passes ROTATE_BYTES its
 * last MAX_CONSOLE_BYTES go to console.log.0 and console.log is cut to
 * nothing; QEMU writes with O_APPEND, so its next line lands at the new
 * start. Reading joins console.log.0 and console.log, so the output a
 * client asks for never has a hole at the cut (but for bytes written while
 * it happens).
 */
import { open, rename, stat, truncate } from 'node:fs/promises';
import { tailLines } from '../../driver.ts';
import type { InstanceDir } from './instance-dir.ts';

/** Nova keeps the last 100 KiB of a console log (MAX_CONSOLE_BYTES). */
export const MAX_CONSOLE_BYTES = 100 * 1024;
/** console.log's size past which it is rotated (virtlogd's max_size, 2 MiB). */
export const ROTATE_BYTES = 2 * 1024 * 1024;

const previous = (dir: InstanceDir) => `${dir.console}.0`;

/** The last `length` bytes of a file, or nothing when it is not there. */
async function tailBytes(path: string, length: number): Promise<Buffer> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return Buffer.alloc(0);
  try {
    const { size } = await fh.stat();
    const n = Math.min(size, length);
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, size - n);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The console's last MAX_CONSOLE_BYTES (across the rotation), its last tailLength lines when given. */
export async function readConsoleLog(dir: InstanceDir, tailLength?: number | null): Promise<string> {
  const current = await tailBytes(dir.console, MAX_CONSOLE_BYTES);
  const before = current.length < MAX_CONSOLE_BYTES ? await tailBytes(previous(dir), MAX_CONSOLE_BYTES - current.length) : Buffer.alloc(0);
  return tailLines(Buffer.concat([before, current]).toString('utf8'), tailLength);
}

/** Rotates console.log when it passed `limit` bytes; true when it did. */
export async function rotateConsoleLog(dir: InstanceDir, limit = ROTATE_BYTES): Promise<boolean> {
  const size = await stat(dir.console).then((s) => s.size, () => 0);
  if (size <= limit) return false;
  const tail = await tailBytes(dir.console, MAX_CONSOLE_BYTES);
  const part = `${previous(dir)}.part`;
  const fh = await open(part, 'w');
  try {
    await fh.writeFile(tail);
  } finally {
    await fh.close();
  }
  await rename(part, previous(dir));
  await truncate(dir.console, 0);
  return true;
}
