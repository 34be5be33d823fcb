import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.ts';
import { options, type OptionName, type OptionSpec } from './options.ts';

type ValueOf<N extends OptionName> = (typeof options)[N]['default'] extends number
  ? number
  : (typeof options)[N]['default'] extends boolean
    ? boolean
    : string;

export type Config = { readonly [N in OptionName]: ValueOf<N> } & { readonly source: string | null };

export const envName = (option: string) => 'NUBO_' + option.replace(/\./g, '_').toUpperCase();

function flatten(obj: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else out[key] = v;
    }
  }
  return out;
}

function inRange(name: string, spec: OptionSpec, n: number): number {
  if (spec.min !== undefined && n < spec.min) throw new ConfigError(name, `must be at least ${spec.min}, got ${n}`);
  if (spec.max !== undefined && n > spec.max) throw new ConfigError(name, `must be at most ${spec.max}, got ${n}`);
  return n;
}

function coerce(name: string, spec: OptionSpec, raw: unknown): string | number | boolean {
  switch (spec.type) {
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) throw new ConfigError(name, `expected an integer, got ${JSON.stringify(raw)}`);
      return inRange(name, spec, n);
    }
    case 'float': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?(\d+\.?\d*|\.\d+)$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw new ConfigError(name, `expected a number, got ${JSON.stringify(raw)}`);
      return inRange(name, spec, n);
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0|no|off)$/i.test(raw)) return false;
      throw new ConfigError(name, `expected true or false, got ${JSON.stringify(raw)}`);
    }
    case 'enum': {
      const s = String(raw);
      if (!spec.values!.includes(s)) throw new ConfigError(name, `must be one of ${spec.values!.join(', ')}, got ${JSON.stringify(raw)}`);
      return s;
    }
    default:
      if (typeof raw === 'object' && raw !== null) throw new ConfigError(name, 'expected a string');
      return String(raw);
  }
}

export const expandHome = (p: string) => (p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : p);

/**
 * Effective configuration: defaults, then the YAML file (`file`, or
 * NUBO_CONFIG), then NUBO_* environment variables, then `overrides`.
 * Unknown keys and bad values throw ConfigError naming the option.
 */
export function loadConfig(
  { file, env = process.env, overrides = {} }: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {},
): Config {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) values[name] = spec.default;

  const path = file ?? env.NUBO_CONFIG;
  if (path) {
    if (!existsSync(path)) throw new ConfigError('config', `file ${path} does not exist`);
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(path, 'utf8')) ?? {};
    } catch (e) {
      throw new ConfigError('config', `${path} is not valid YAML: ${(e as Error).message}`);
    }
    for (const [name, raw] of Object.entries(flatten(doc))) {
      const spec = (options as Record<string, OptionSpec>)[name];
      if (!spec) throw new ConfigError(name, `unknown option in ${path}`);
      values[name] = coerce(name, spec, raw);
    }
  }
  for (const [name, spec] of Object.entries(options) as [string, OptionSpec][]) {
    const raw = env[envName(name)];
    // An empty variable sets a string option to '' (e.g. NUBO_CLOUDS_YAML= disables it) and leaves others alone.
    if (raw === undefined || (raw === '' && spec.type !== 'string')) continue;
    values[name] = coerce(envName(name), spec, raw);
  }
  for (const [name, raw] of Object.entries(overrides)) {
    const spec = (options as Record<string, OptionSpec>)[name];
    if (!spec) throw new ConfigError(name, 'unknown option');
    values[name] = coerce(name, spec, raw);
  }
  values.data_dir = resolve(expandHome(values.data_dir as string));
  const db = values['database.url'] as string;
  if (db && !/^postgres(ql)?:\/\//.test(db)) throw new ConfigError('database.url', 'must start with postgres:// (or be empty for embedded PGlite)');
  const bus = values['bus.url'] as string;
  if (bus && !/^amqps?:\/\//.test(bus)) throw new ConfigError('bus.url', 'must start with amqp:// (or be empty for the in-process bus)');
  return Object.freeze({ ...values, source: path ?? null }) as unknown as Config;
}

/** The configuration as `nubo config show` prints it: secrets masked. */
export function describeConfig(config: Config): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [name, spec] of Object.entries(options) as [OptionName, OptionSpec][]) {
    const v = config[name];
    out[name] = spec.secret && v !== '' ? maskSecret(String(v)) : v;
  }
  return out;
}

/** Masks a secret, keeping a URL's scheme and host readable. */
export function maskSecret(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    if (u.protocol && u.host) return u.toString();
  } catch {
    /* not a URL */
  }
  return '***';
}

export { options };
