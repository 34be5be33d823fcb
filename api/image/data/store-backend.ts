import type { Readable, Writable } from 'node:stream';
import type { SendOutcome } from './send-file.ts';

/**
 * Where image data lives. The data helper's filesystem store implements it;
 * image services use only this interface.
 *
 * A location is an opaque key the store returned. Data is never visible under
 * a location until it is complete and durable: a writer fills a temporary
 * object and `commit` publishes it. Image data lives in the `images` area,
 * data staged for an interoperable import in the `staging` area.
 */
export interface ImageDataStore {
  /** Removes the data at `location` (a key this store returned); no error when it is already gone. */
  delete(location: string): Promise<void>;
  /** Starts writing new data for `imageId` in `area`. */
  create(imageId: string, area: StoreArea): Promise<DataWriter>;
  /** The data at `location` (bytes start…end inclusive when given), or undefined when there is none. */
  read(location: string, range?: { start: number; end: number }): Promise<StoredData | undefined>;
  /** The data at `location` opened for sending (bytes start…end inclusive when given), or undefined when there is none. */
  open(location: string, range?: { start: number; end: number }): Promise<OpenedData | undefined>;
  /** Publishes the data at `location` also under a new location in `area` (the original stays). */
  duplicate(location: string, imageId: string, area: StoreArea): Promise<string>;
  /** Everything the store holds, finished or not, for the sweeper. */
  entries(): Promise<StoreEntry[]>;
}

export type StoreArea = 'images' | 'staging';

/** Data being written: temporary until committed. */
export interface DataWriter {
  /** Writes the first `length` bytes of `data` at `position`; writes may overlap in time. */
  write(data: Uint8Array, length: number, position: number): Promise<void>;
  /** Marks the unfinished data as still being written (the sweeper removes stale temporaries). */
  touch(): Promise<void>;
  /** Makes the data durable and visible; returns its location. */
  commit(): Promise<string>;
  /** Drops the unfinished data; safe to call more than once, and after a failed commit. */
  abort(): Promise<void>;
}

export interface StoredData {
  /** Size of the whole data, whatever range was asked for. */
  size: number;
  stream: Readable;
}

/** Data opened for a download: sent once, closed always. */
export interface OpenedData {
  /** Size of the whole data, whatever range was asked for. */
  size: number;
  /** Writes the data (the range given to `open`) to `out`, an HTTP response whose head is written, and ends it; see send-file.ts. */
  send(out: Writable): Promise<SendOutcome>;
  /** Releases the data; call it once, after `send` settled or instead of it. */
  close(): Promise<void>;
}

export interface StoreEntry {
  /** A key `delete` accepts. */
  location: string;
  /** An unfinished write's temporary data. */
  temporary: boolean;
  /** When it last changed (ms since the epoch). */
  changedAt: number;
}
