/**
 * The small set of typed errors every Nubo service raises. Each API maps them
 * to its own OpenStack error body in one place (api/http/errors.ts); nothing
 * else builds an error response.
 */
export type ErrorKind =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'Conflict'
  | 'Gone'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'RangeNotSatisfiable'
  | 'NotAcceptable'
  | 'ServiceUnavailable'
  | 'NotImplemented';

const statusOf: Record<ErrorKind, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  NotAcceptable: 406,
  Conflict: 409,
  Gone: 410,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  RangeNotSatisfiable: 416,
  NotImplemented: 501,
  ServiceUnavailable: 503,
};

export class NuboError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = kind;
    this.kind = kind;
    this.status = statusOf[kind];
  }
}

export const badRequest = (message: string) => new NuboError('BadRequest', message);
export const unauthorized = (message = 'The request you have made requires authentication.') =>
  new NuboError('Unauthorized', message);
export const forbidden = (message = 'You are not authorized to perform the requested action.') =>
  new NuboError('Forbidden', message);
export const notFound = (message: string) => new NuboError('NotFound', message);
export const conflict = (message: string) => new NuboError('Conflict', message);
export const gone = (message: string) => new NuboError('Gone', message);
export const payloadTooLarge = (message: string) => new NuboError('PayloadTooLarge', message);
export const unsupportedMediaType = (message: string) => new NuboError('UnsupportedMediaType', message);
export const rangeNotSatisfiable = (message = 'Requested range not satisfiable.') => new NuboError('RangeNotSatisfiable', message);
export const notImplemented = (message = 'The action you have requested has not been implemented.') =>
  new NuboError('NotImplemented', message);
export const serviceUnavailable = (message: string) => new NuboError('ServiceUnavailable', message);

export function isNuboError(e: unknown): e is NuboError {
  return e instanceof NuboError;
}

/** Thrown by configuration loading: names the option at fault. */
export class ConfigError extends Error {
  constructor(readonly option: string, message: string) {
    super(`configuration option '${option}': ${message}`);
    this.name = 'ConfigError';
  }
}
