import { randomBytes } from 'node:crypto';
import { constants, mkdirSync } from 'node:fs';
import { copyFile, link, open, readdir, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BLOCK_ALIGN } from './blocks.ts';
import { createFileWriter, NO_DIRECT } from './file-writer.ts';
import { SEND_CHUNK_DIRECT, sendFile } from './send-file.ts';
import type { DataWriter, ImageDataStore, OpenedData, StoreArea, StoreEntry, StoredData } from './store-backend.ts';

/** Read size of a stream of stored data (imports): large reads keep syscalls and stream overhead low. Downloads use send-file.ts. */
const READ_CHUNK = 1024 * 1024;
const TEMP_PREFIX = '.tmp-';
const AREA_PREFIX: Record<StoreArea, string> = { images: '', staging: 'staging/' };
/** Every location (and temporary) this store makes; anything else is refused rather than joined into a path. */
const LOCATION = /^(staging\/)?(\.tmp-)?[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Errors after which a hard link is replaced by a copy. */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK']);

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** Makes a rename or new name durable: fsync of the directory that holds it. */
async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const touchPath = async (path: string) => {
  const now = new Date();
  await utimes(path, now, now);
};

/**
 * The filesystem image store: one file per location under `dir` (staged
 * data under `dir/staging`). A write goes to a hidden temporary file in the
 * same directory (with direct I/O unless `directIo` is false, see
 * file-writer.ts), is fsynced, then renamed into place, so a crash never
 * leaves a partial file under a location; the sweeper removes temporaries
 * whose writer died. Each write gets a fresh location, so two writers never
 * race for one name.
 */
export function createFilesystemStore(dir: string, opts: { directIo?: boolean } = {}): ImageDataStore {
  mkdirSync(join(dir, 'staging'), { recursive: true });
  const pathOf = (location: string) => {
    if (!LOCATION.test(location)) throw new Error(`not a location of this store: ${location}`);
    return join(dir, location);
  };
  const newLocation = (imageId: string, area: StoreArea) => `${AREA_PREFIX[area]}${imageId}-${randomBytes(6).toString('hex')}`;
  const tempOf = (location: string) => location.replace(/[^/]+$/, (name) => TEMP_PREFIX + name);

  /** Renames a finished temporary into place, durably. */
  async function publish(temp: string, location: string): Promise<string> {
    const target = pathOf(location);
    await rename(pathOf(temp), target);
    await syncDir(dirname(target));
    return location;
  }

  /**
   * The file at `location`, opened for reading (with O_DIRECT when `direct`
   * and the filesystem takes it), or undefined when there is none.
   */
  async function openFile(location: string, direct = false): Promise<{ fh: FileHandle; direct: boolean } | undefined> {
    try {
      if (direct && constants.O_DIRECT) {
        try {
          return { fh: await open(pathOf(location), constants.O_RDONLY | constants.O_DIRECT), direct: true };
        } catch (e) {
          if (!NO_DIRECT.has(errno(e) ?? '')) throw e;
        }
      }
      return { fh: await open(pathOf(location), 'r'), direct: false };
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  return {
    async delete(location) {
      await rm(pathOf(location), { force: true });
    },

    async create(imageId, area) {
      const location = newLocation(imageId, area);
      const temp = tempOf(location);
      const file = await createFileWriter(pathOf(temp), { direct: opts.directIo ?? true });
      const writer: DataWriter = {
        write: (data, length, position) => file.write(data, length, position),
        touch: () => file.touch(),
        async commit() {
          await file.touch();
          await file.finish();
          return publish(temp, location);
        },
        async abort() {
          await file.close().catch(() => undefined);
          await rm(pathOf(temp), { force: true });
        },
      };
      return writer;
    },

    async read(location, range): Promise<StoredData | undefined> {
      const { fh } = (await openFile(location)) ?? {};
      if (!fh) return undefined;
      try {
        const { size } = await fh.stat();
        const stream = fh.createReadStream({ start: range?.start ?? 0, end: range?.end, highWaterMark: READ_CHUNK });
        return { size, stream };
      } catch (e) {
        await fh.close();
        throw e;
      }
    },

    async open(location, range): Promise<OpenedData | undefined> {
      // Past the page cache too when direct I/O is on: the data goes from the disk to the send buffers without a copy,
      // and a first read of data written with direct I/O (not in the cache) costs the kernel far less so.
      const opened = await openFile(location, opts.directIo ?? true);
      if (!opened) return undefined;
      const { fh, direct } = opened;
      try {
        const { size } = await fh.stat();
        return {
          size,
          send: (out) => sendFile(fh, out, range?.start ?? 0, range?.end ?? size - 1, direct ? { align: BLOCK_ALIGN, chunk: SEND_CHUNK_DIRECT } : {}),
          close: () => fh.close(),
        };
      } catch (e) {
        await fh.close();
        throw e;
      }
    },

    async duplicate(location, imageId, area) {
      const target = newLocation(imageId, area);
      try {
        await link(pathOf(location), pathOf(target));
      } catch (e) {
        if (!NO_LINK.has(errno(e) ?? '')) throw e;
        const temp = tempOf(target);
        try {
          await copyFile(pathOf(location), pathOf(temp));
          const fh = await open(pathOf(temp), 'r+');
          await fh.sync().finally(() => fh.close());
          await publish(temp, target);
        } catch (err) {
          await rm(pathOf(temp), { force: true });
          throw err;
        }
      }
      // A link shares the original's (old) mtime: mark the new name fresh so the sweeper leaves it alone.
      await touchPath(pathOf(target));
      await syncDir(dirname(pathOf(target)));
      return target;
    },

    async entries() {
      const found: StoreEntry[] = [];
      for (const prefix of Object.values(AREA_PREFIX)) {
        for (const d of await readdir(join(dir, prefix), { withFileTypes: true })) {
          const location = prefix + d.name;
          if (!d.isFile() || !LOCATION.test(location)) continue;
          const st = await stat(join(dir, location)).catch(() => undefined);
          if (st) found.push({ location, temporary: d.name.startsWith(TEMP_PREFIX), changedAt: st.mtimeMs });
        }
      }
      return found;
    },
  };
}
