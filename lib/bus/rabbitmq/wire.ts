import { BusRemoteError } from '../bus.ts';

/** What every message body is: JSON. */
export const JSON_TYPE = 'application/json';

export const encode = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null');

/** The parsed JSON body of a message. */
export const decode = <T>(content: Buffer): T => JSON.parse(content.toString('utf8')) as T;

/** What a reply carries of a handler's error. */
export const errorFields = (e: unknown): { message: string; name: string } => {
  if (e instanceof BusRemoteError) return { message: e.message, name: e.remoteName };
  const err = e as { message?: unknown; name?: unknown } | null;
  return {
    message: typeof err?.message === 'string' ? err.message : String(e),
    name: typeof err?.name === 'string' ? err.name : 'Error',
  };
};

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

export const deferred = <T>(): Deferred<T> => {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // nobody may be waiting
  return { promise, resolve, reject };
};

/** Waits for `promise` to settle, but no longer than `ms`; never rejects. */
export const settledWithin = async (promise: Promise<unknown>, ms: number): Promise<void> => {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => {}), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
};
