import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Glance's default multihash algorithm (os_hash_algo, its `hashing_algorithm` option); `checksum` is always md5. */
export const OS_HASH_ALGO = 'sha512';

export interface Digests {
  /** md5, hex: the image's `checksum`. */
  checksum: string;
  /** The multihash (os_hash_algo, sha512 by default), hex: the image's `os_hash_value`. */
  hashValue: string;
  /** Its algorithm: the image's `os_hash_algo`. */
  hashAlgo: string;
}

/**
 * The md5 and multihash of a stream of blocks. Blocks are hashed in the
 * order given; `update`'s promise says when the block may be reused. A
 * block lives in shared memory (see blocks.ts), so threads read it in place.
 */
export interface BlockHasher {
  update(block: Buffer, length: number): Promise<void>;
  digest(): Promise<Digests>;
  /** Releases resources without a result (after a failure). */
  close(): void;
}

/** Hashes on the calling thread: for small data, where starting threads costs more than it saves. */
export function inlineHasher(algorithm: string = OS_HASH_ALGO): BlockHasher {
  const md5 = createHash('md5');
  const sha = createHash(algorithm);
  return {
    async update(block, length) {
      const view = block.subarray(0, length);
      md5.update(view);
      sha.update(view);
    },
    async digest() {
      return { checksum: md5.digest('hex'), hashValue: sha.digest('hex'), hashAlgo: algorithm };
    },
    close() {},
  };
}

/** A hashing thread: hashes each shared block it is sent, acknowledges it, and answers `null` with the hex digest. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const hash = require('node:crypto').createHash(workerData);
parentPort.on('message', (m) => {
  if (m === null) return parentPort.postMessage(hash.digest('hex'));
  hash.update(new Uint8Array(m.buffer, m.offset, m.length));
  parentPort.postMessage(true);
});
`;

/** One hashing thread and the acknowledgements it owes, in order. */
class HashThread {
  private readonly worker: Worker;
  private readonly waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor(algorithm: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: algorithm, execArgv: [], stdout: false, stderr: false });
    this.worker.on('message', (m) => this.waiting.shift()?.resolve(m));
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', () => fail(new Error('hashing thread exited')));
  }

  send(message: { buffer: SharedArrayBuffer; offset: number; length: number } | null): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }

  close(): void {
    this.failure ??= new Error('hashing cancelled');
    void this.worker.terminate();
  }
}

/**
 * Hashes md5 and the multihash on two threads of their own, in parallel
 * with each other and with the caller's I/O: md5 costs about 1.3 ns a byte
 * and sha512 1 ns (OpenSSL, one core), which together on the calling thread
 * would cap an upload near 400 MB/s before any I/O. Blocks live in shared
 * memory, so no byte is copied to reach the threads.
 */
export function threadedHasher(algorithm: string = OS_HASH_ALGO): BlockHasher {
  const md5 = new HashThread('md5');
  const sha = new HashThread(algorithm);
  const close = () => {
    md5.close();
    sha.close();
  };
  return {
    async update(block, length) {
      if (!(block.buffer instanceof SharedArrayBuffer)) throw new Error('a hashing thread reads only blocks in shared memory');
      const message = { buffer: block.buffer, offset: block.byteOffset, length };
      await Promise.all([md5.send(message), sha.send(message)]);
    },
    async digest() {
      try {
        const [checksum, hashValue] = await Promise.all([md5.send(null), sha.send(null)]);
        return { checksum: checksum as string, hashValue: hashValue as string, hashAlgo: algorithm };
      } finally {
        close();
      }
    },
    close,
  };
}

/** Below this size, hashing threads cost more to start than they save. */
const THREADED_FROM = 32 * 1024 * 1024;

/** The hasher for data of `expectedSize` bytes (undefined: unknown, perhaps large), with `algorithm` as multihash. */
export function hasherFor(expectedSize: number | undefined, algorithm: string = OS_HASH_ALGO): BlockHasher {
  return expectedSize !== undefined && expectedSize < THREADED_FROM ? inlineHasher(algorithm) : threadedHasher(algorithm);
}
