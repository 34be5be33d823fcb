/**
 * OpenStack API microversions, as Nova (and Cinder, Placement, Manila…)
 * negotiate them: the client names a version in `OpenStack-API-Version:
 * <service> X.Y` (or the service's legacy header, e.g.
 * `X-OpenStack-Nova-API-Version: X.Y`), or `latest`; no header means the
 * minimum. A version outside the service's range is a 406 and a malformed one
 * a 400 (Nova's InvalidGlobalAPIVersion / InvalidAPIVersionString). Every
 * versioned response names the version it was served at in both headers, with
 * `Vary` on both, so caches and clients (novaclient checks the legacy header)
 * know what they got.
 *
 * Routes that are not under version control (Nova's root version document)
 * opt out with route config `{ microversion: false }`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, NuboError } from '../../lib/errors.ts';

/**
 * The versions code compares with (`atLeast('2.47')`), parsed once each: a
 * server list asks a dozen of them per server. Bounded, in case a caller
 * compares with versions that vary.
 */
const parsed = new Map<string, Microversion>();
function parsedOnce(text: string): Microversion {
  let v = parsed.get(text);
  if (!v) {
    v = Microversion.parse(text);
    if (parsed.size < 256) parsed.set(text, v);
  }
  return v;
}

/** A parsed `X.Y`: compare with atLeast / atMost / between. */
export class Microversion {
  constructor(
    readonly major: number,
    readonly minor: number,
  ) {}

  /** `X.Y` with X ≥ 1 and no leading zeros (Nova's pattern); throws a 400 otherwise. */
  static parse(text: string): Microversion {
    const m = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(text);
    if (!m) throw badRequest(`API Version String ${text} is of invalid format. Must be of format MajorNum.MinorNum.`);
    return new Microversion(Number(m[1]), Number(m[2]));
  }

  compare(other: Microversion | string): number {
    const o = typeof other === 'string' ? parsedOnce(other) : other;
    return this.major - o.major || this.minor - o.minor;
  }

  /** This version is `v` or later (`request.microversion.atLeast('2.47')`). */
  atLeast(v: Microversion | string): boolean {
    return this.compare(v) >= 0;
  }

  /** This version is `v` or earlier. */
  atMost(v: Microversion | string): boolean {
    return this.compare(v) <= 0;
  }

  /** min ≤ this ≤ max. */
  between(min: Microversion | string, max: Microversion | string): boolean {
    return this.atLeast(min) && this.atMost(max);
  }

  toString(): string {
    return `${this.major}.${this.minor}`;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The microversion this request is served at (the minimum when none was asked for). */
    microversion: Microversion;
  }
  interface FastifyContextConfig {
    /** false: the route is not under microversion control (no parsing, no headers). */
    microversion?: boolean;
  }
}

export interface MicroversionOptions {
  /** The service type in `OpenStack-API-Version` (e.g. 'compute'). */
  serviceType: string;
  min: string;
  max: string;
  /** Older headers that carry the bare version, checked after the standard one (e.g. X-OpenStack-Nova-API-Version). */
  legacyHeaders: string[];
}

const STANDARD_HEADER = 'OpenStack-API-Version';

const headerValues = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * The version string a request asks for, as microversion-parse finds it: the
 * `<serviceType> <version>` entry of OpenStack-API-Version (folded,
 * comma-separated; service type case-insensitive), else the first legacy
 * header present; undefined when there is none.
 */
export function requestedVersion(headers: FastifyRequest['headers'], opts: Pick<MicroversionOptions, 'serviceType' | 'legacyHeaders'>): string | undefined {
  const entries = headerValues(headers[STANDARD_HEADER.toLowerCase()]).flatMap((v) => v.split(','));
  for (const entry of entries) {
    const [service, version, ...rest] = entry.trim().split(/\s+/);
    if (service && service.toLowerCase() === opts.serviceType.toLowerCase() && rest.length === 0) return version ?? '';
  }
  for (const legacy of opts.legacyHeaders) {
    const values = headerValues(headers[legacy.toLowerCase()]);
    if (values.length) return values.join(',').trim();
  }
  return undefined;
}

/**
 * Resolves what a request asked for to a version within [min, max]: none → min,
 * `latest` → max; malformed → 400, out of range → 406.
 */
export function negotiate(asked: string | undefined, opts: Pick<MicroversionOptions, 'min' | 'max'>): Microversion {
  const min = Microversion.parse(opts.min);
  const max = Microversion.parse(opts.max);
  if (asked === undefined) return min;
  if (asked === 'latest') return max;
  const v = Microversion.parse(asked);
  if (!v.between(min, max)) {
    throw new NuboError('NotAcceptable', `Version ${v} is not supported by the API. Minimum is ${min} and maximum is ${max}.`);
  }
  return v;
}

/**
 * Puts microversion negotiation on an app: `request.microversion` on every
 * versioned route, and the version headers on each of their responses
 * (errors included, as Nova's faults carry them).
 */
export function registerMicroversions(app: FastifyInstance, opts: MicroversionOptions): void {
  const min = Microversion.parse(opts.min);
  app.decorateRequest('microversion', null as unknown as Microversion);
  const versioned = (request: FastifyRequest) => request.routeOptions.config?.microversion !== false;

  app.addHook('onRequest', async (request) => {
    if (!versioned(request)) return;
    request.microversion = min;
    const asked = requestedVersion(request.headers, opts);
    try {
      request.microversion = negotiate(asked, opts);
    } catch (e) {
      // Nova names the version asked for in its 406 response's headers too.
      if (e instanceof NuboError && e.kind === 'NotAcceptable') request.microversion = Microversion.parse(asked!);
      throw e;
    }
  });

  app.addHook('onSend', async (request, reply) => {
    if (!versioned(request) || !request.microversion) return;
    const v = request.microversion.toString();
    reply.header(STANDARD_HEADER, `${opts.serviceType} ${v}`);
    for (const legacy of opts.legacyHeaders) reply.header(legacy, v);
    reply.header('Vary', [STANDARD_HEADER, ...opts.legacyHeaders].join(', '));
  });
}
