/**
 * createImage for the qemu driver: the guest's root disk as one standalone
 * qcow2 image, PUT to Glance (image-service.ts).
 *
 * The capture is `qemu-img convert -O qcow2` of the root overlay (qemu-img.ts
 * flatten): it reads through the backing chain (the cached base image) and
 * writes a new image with no backing file. It goes to
 * `snapshot-<image id>.qcow2.part` in the instance directory, which is
 * removed afterwards whatever happens (a failed capture or upload too).
 *
 * Why the capture is consistent:
 * - A guest with no QEMU process (SHUTDOWN, SUSPENDED, CRASHED) has nothing
 *   writing its disk: QEMU flushed it when it exited, the file is the disk.
 * - A guest with a process gets QMP `stop` first. QEMU's stop (vm_stop →
 *   do_vm_stop) pauses the vCPUs, then drains every block device (all
 *   in-flight requests complete) and flushes them (bdrv_flush_all: qcow2
 *   writes out its cached L2 and refcount tables, the host file is fsynced),
 *   and it drains and flushes even when the guest was stopped already (paused
 *   by the user, panicked). With the vCPUs stopped no new guest I/O starts,
 *   so until `cont` the overlay file is a complete, quiescent qcow2 image
 *   holding everything the guest wrote: crash-consistent, as after a power
 *   cut at that instant (no guest agent freezes filesystems). qemu-img opens
 *   it with -U (without QEMU's image lock), which is safe because QEMU does
 *   not write it while stopped. `cont` follows once the convert has ended
 *   (whether it succeeded or not), and only for a guest that was running:
 *   a paused one stays paused.
 * The price: a running guest is paused for the convert (its time grows with
 * the data on the disk; the upload runs after `cont`). Nova's libvirt driver
 * pauses for a cold snapshot too. QMP drive-backup (sync=full, to the same
 * temporary file) would keep the guest running; it is not used here.
 * (The STOP and RESUME events reach the agent, whose sync leaves an instance
 * with a task alone.)
 *
 * An agent that dies mid-snapshot (the guest stopped, the file half made)
 * would leave the guest paused for good: the `snapshot-paused` marker is
 * written before `stop` and removed after `cont`, and a driver starting
 * (recoverSnapshot, from init) lets a guest it finds with the marker go on
 * and removes any half-made snapshot file.
 */
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotTarget } from '../../driver.ts';
import { uploadImageFile } from '../../image-service.ts';
import { PowerState } from '../../states.ts';
import { SNAPSHOT_SUFFIX, type InstanceDir } from './instance-dir.ts';
import type { GuestHost } from './power.ts';
import { flatten } from './qemu-img.ts';

/** Captures the root disk of the guest of `dir` and uploads it to `target`; the guest ends in the power state it had. */
export async function snapshotGuest(host: GuestHost, dir: InstanceDir, target: SnapshotTarget, updateTaskState: (taskState: string) => Promise<void>): Promise<void> {
  const file = dir.snapshotFile(target.image_id);
  try {
    await capture(host, dir, file);
    await updateTaskState('image_pending_upload');
    await updateTaskState('image_uploading');
    await uploadImageFile(target, file);
    host.log.info({ uuid: dir.uuid, image: target.image_id }, 'snapshot uploaded');
  } finally {
    await rm(file, { force: true });
  }
}

/** The flattened root disk at `file`, the guest stopped meanwhile when it has a process. */
async function capture(host: GuestHost, dir: InstanceDir, file: string): Promise<void> {
  await rm(file, { force: true });
  const m = await host.monitor(dir);
  if (!m) return flatten(dir.disk, file);
  const { running } = await m.status();
  if (running) await writeFile(dir.snapshotPause, `${new Date().toISOString()}\n`);
  await m.qmp.execute('stop');
  const started = Date.now();
  try {
    await flatten(dir.disk, file);
  } finally {
    if (running) {
      await m.qmp.execute('cont');
      await rm(dir.snapshotPause, { force: true });
    }
    host.log.info({ uuid: dir.uuid, pausedMs: running ? Date.now() - started : 0 }, 'root disk captured for a snapshot');
  }
}

/** What a snapshot cut short (the agent died) left: its file goes, and a guest it stopped goes on. Never throws. */
export async function recoverSnapshot(host: GuestHost, dir: InstanceDir): Promise<void> {
  try {
    const names = await readdir(dir.path).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith('snapshot-') && n.endsWith(SNAPSHOT_SUFFIX))) await rm(join(dir.path, name), { force: true });
    if (!existsSync(dir.snapshotPause)) return;
    const m = await host.monitor(dir);
    if (m && (await m.powerState()) === PowerState.PAUSED) {
      await m.qmp.execute('cont');
      host.log.warn({ uuid: dir.uuid }, 'a snapshot cut short had stopped the guest: it goes on');
    }
    await rm(dir.snapshotPause, { force: true });
  } catch (e) {
    host.log.warn({ uuid: dir.uuid, err: e }, 'could not clean up after a snapshot cut short');
  }
}
