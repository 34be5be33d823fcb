/**
 * The base images instances' root disks are overlays of:
 * `<state_dir>/_base/<image id>` (+ `<id>.json`, what qemu-img saw). An
 * image is fetched once from Glance (`GET /v2/images/{id}/file` with
 * X-Auth-Token), streamed to a temporary file while its md5 (`checksum`) and
 * `os_hash_value` are computed, checked with qemu-img (the format must be
 * what the image claims, with no backing or data file), then renamed into
 * place. Concurrent fetches of one image share one download: an in-flight
 * promise within the process and a lock file (with the holder's pid) across
 * processes. An entry no instance uses any more is removed (release, sweep).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, ImageUnacceptable, type ImageMeta } from '../../driver.ts';
import { imageInfo } from './qemu-img.ts';

export interface CachedImage {
  path: string;
  /** raw or qcow2, as qemu-img saw it. */
  format: string;
  virtualSize: number;
}

const ACCEPTED_FORMATS = ['raw', 'qcow2'];
/** A lock whose holder has not finished for this long is stale. */
const STALE_LOCK_MS = 30 * 60_000;

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export class ImageCache {
  readonly dir: string;
  private readonly inFlight = new Map<string, Promise<CachedImage>>();
  /** Images that a spawn in progress relies on (not yet in any launch.json): release leaves them. */
  private readonly pinned = new Map<string, number>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, '_base');
  }

  pathOf(imageId: string): string {
    return join(this.dir, imageId);
  }

  /** The cached image, fetched when missing; pinned until unpin. */
  async acquire(image: ImageMeta): Promise<CachedImage> {
    this.pinned.set(image.id, (this.pinned.get(image.id) ?? 0) + 1);
    try {
      let p = this.inFlight.get(image.id);
      if (!p) {
        p = this.fetchOnce(image).finally(() => this.inFlight.delete(image.id));
        this.inFlight.set(image.id, p);
      }
      return await p;
    } catch (e) {
      this.unpin(image.id);
      throw e;
    }
  }

  unpin(imageId: string): void {
    const n = (this.pinned.get(imageId) ?? 1) - 1;
    if (n <= 0) this.pinned.delete(imageId);
    else this.pinned.set(imageId, n);
  }

  /** Removes the cache entry of imageId unless `inUse` says an instance uses it or a spawn has it pinned. */
  async release(imageId: string, inUse: (imageId: string) => Promise<boolean>): Promise<boolean> {
    if (this.pinned.has(imageId) || this.inFlight.has(imageId)) return false;
    if (await inUse(imageId)) return false;
    await rm(this.pathOf(imageId), { force: true });
    await rm(`${this.pathOf(imageId)}.json`, { force: true });
    return true;
  }

  /** Removes the entries no instance uses, and the partial downloads of processes that are gone. */
  async sweep(inUse: (imageId: string) => Promise<boolean>): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.includes('.part-')) {
        const pid = Number(name.split('.part-')[1]?.split('-')[0]);
        if (pid !== process.pid && !isAlive(pid)) await rm(join(this.dir, name), { force: true });
      } else if (name.endsWith('.lock')) {
        await this.breakStaleLock(join(this.dir, name));
      } else if (!name.includes('.')) {
        await this.release(name, inUse);
      }
    }
  }

  private async fetchOnce(image: ImageMeta): Promise<CachedImage> {
    await mkdir(this.dir, { recursive: true });
    const path = this.pathOf(image.id);
    const cached = await this.readEntry(image.id);
    if (cached) return cached;
    const lock = `${path}.lock`;
    for (;;) {
      const handle = await open(lock, 'wx').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return null;
        throw e;
      });
      if (handle) {
        await handle.writeFile(String(process.pid));
        await handle.close();
        break;
      }
      // Another process is fetching it: wait for the entry or for its lock to go (or go stale).
      await sleep(200);
      const done = await this.readEntry(image.id);
      if (done) return done;
      await this.breakStaleLock(lock);
    }
    try {
      const again = await this.readEntry(image.id);
      if (again) return again;
      return await this.download(image, path);
    } finally {
      await rm(lock, { force: true });
    }
  }

  private async breakStaleLock(lock: string): Promise<void> {
    try {
      const [text, st] = await Promise.all([readFile(lock, 'utf8'), stat(lock)]);
      const pid = Number.parseInt(text, 10);
      const dead = Number.isInteger(pid) && pid > 0 && !isAlive(pid);
      if (dead || Date.now() - st.mtimeMs > STALE_LOCK_MS) await rm(lock, { force: true });
    } catch {
      // gone already
    }
  }

  private async readEntry(imageId: string): Promise<CachedImage | null> {
    const path = this.pathOf(imageId);
    if (!existsSync(path)) return null;
    try {
      const meta = JSON.parse(await readFile(`${path}.json`, 'utf8')) as Omit<CachedImage, 'path'>;
      return { path, ...meta };
    } catch {
      return null;
    }
  }

  private async download(image: ImageMeta, path: string): Promise<CachedImage> {
    if (!image.download?.url) throw new DriverError(`Image ${image.id} has no download location.`, { name: 'ImageDownloadFailed' });
    const tmp = `${path}.part-${process.pid}-${Date.now()}`;
    try {
      await this.streamTo(image, tmp);
      const info = await imageInfo(tmp);
      const claimed = image.disk_format ?? null;
      if (!ACCEPTED_FORMATS.includes(info.format)) throw new ImageUnacceptable(image.id, `its data is ${info.format}; only raw and qcow2 are supported`);
      if (claimed && claimed !== info.format) throw new ImageUnacceptable(image.id, `its disk_format is ${claimed} but its data is ${info.format}`);
      if (info.backingFile) throw new ImageUnacceptable(image.id, 'a qcow2 image with a backing file is not allowed');
      if (info.dataFile) throw new ImageUnacceptable(image.id, 'a qcow2 image with an external data file is not allowed');
      const entry = { format: info.format, virtualSize: info.virtualSize };
      await writeFile(`${path}.json`, JSON.stringify(entry));
      await rename(tmp, path);
      return { path, ...entry };
    } catch (e) {
      await rm(tmp, { force: true });
      await rm(`${path}.json`, { force: true });
      throw e;
    }
  }

  /** Streams the image data into `tmp`, checking the md5 checksum and os_hash_value when the image has them. */
  private async streamTo(image: ImageMeta, tmp: string): Promise<void> {
    const { url, token } = image.download!;
    const fail = (why: string) => new DriverError(`Downloading image ${image.id} failed: ${why}`, { name: 'ImageDownloadFailed' });
    let res: Response;
    try {
      res = await fetch(url, { headers: token ? { 'X-Auth-Token': token } : {} });
    } catch (e) {
      throw fail((e as Error).cause ? String((e as Error & { cause: unknown }).cause) : (e as Error).message);
    }
    if (!res.ok || !res.body) throw fail(`HTTP ${res.status}`);
    const md5 = createHash('md5');
    const algo = image.os_hash_algo && image.os_hash_value ? image.os_hash_algo : null;
    let hash: ReturnType<typeof createHash> | null = null;
    if (algo) {
      try {
        hash = createHash(algo);
      } catch {
        throw new ImageUnacceptable(image.id, `unknown os_hash_algo ${algo}`);
      }
    }
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        md5.update(chunk);
        hash?.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), tap, createWriteStream(tmp, { mode: 0o644 }));
    } catch (e) {
      throw fail((e as Error).message);
    }
    const expected = Number(res.headers.get('content-length') ?? image.size ?? NaN);
    if (Number.isFinite(expected) && expected !== bytes) throw fail(`got ${bytes} bytes of ${expected}`);
    if (image.checksum && md5.digest('hex') !== image.checksum) throw fail('the md5 checksum does not match');
    if (hash && hash.digest('hex') !== image.os_hash_value) throw fail(`the ${algo} hash does not match`);
  }
}
