import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { jsonLines } from './json-lines.ts';

const nubo = fileURLToPath(new URL('../../bin/nubo.js', import.meta.url));
/** The compiled entry `npm start` runs (after `node bin/build.js`). */
export const builtNubo = fileURLToPath(new URL('../../.build/bin/main.js', import.meta.url));

export interface AllInOne {
  dataDir: string;
  cloudsFile: string;
  authUrl: string;
  password: string;
  child: ChildProcess;
  /** What the process has written to stderr so far (the start's banner among it). */
  readonly stderr: string;
  /** Log lines the process printed so far (JSON objects). */
  logs: any[];
  stop(): Promise<number | null>;
  /** Runs `openstack --os-cloud nubo <args>`; output parsed as JSON when args ask for `-f json`. */
  openstack(args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number): any;
  /** Runs `openstack` with exactly the given environment, no cloud; returns status and output. */
  openstackRaw(args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number): { status: number | null; stdout: string; stderr: string };
}

/**
 * Starts `nubo all-in-one` as a child process on a free port with its own
 * data directory and clouds.yaml; resolves once it has bootstrapped. With
 * `built`, the compiled tree `npm start` runs (build it first).
 */
export async function startAllInOne(opts: { env?: NodeJS.ProcessEnv; dataDir?: string; built?: boolean; startTimeoutMs?: number } = {}): Promise<AllInOne> {
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'nubo-e2e-'));
  const cloudsFile = join(dataDir, 'clouds.yaml');
  const child = spawn(process.execPath, [opts.built ? builtNubo : nubo, 'all-in-one'], {
    env: {
      ...process.env,
      NUBO_DATA_DIR: dataDir,
      NUBO_CLOUDS_YAML: '',
      NUBO_IDENTITY_PORT: '0',
      NUBO_IMAGE_PORT: '0',
      NUBO_COMPUTE_PORT: '0',
      NUBO_COMPUTE_CONSOLE_PORT: '0',
      NUBO_IDENTITY_PASSWORD_HASH_COST: '12',
      NUBO_LOG_LEVEL: 'info',
      // The fake driver unless a test asks for another (auto would run qemu wherever it is installed).
      NUBO_COMPUTE_DRIVER: 'fake',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: any[] = [];
  let stderr = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (stderr.includes('Nubo is running.')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`all-in-one exited with ${code} before starting:\n${stderr}`)));
    setTimeout(() => reject(new Error(`all-in-one did not start within ${startTimeoutMs / 1000} s:\n${stderr}`)), startTimeoutMs).unref();
  });
  child.stdout!.on(
    'data',
    jsonLines((parsed) => {
      if (parsed !== undefined) logs.push(parsed);
    }),
  );
  try {
    await started;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const clouds = parse(readFileSync(cloudsFile, 'utf8'));
  const auth = clouds.clouds.nubo.auth;
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, OS_CLIENT_CONFIG_FILE: cloudsFile, PYTHONWARNINGS: 'ignore' };
  for (const k of Object.keys(baseEnv)) if (k.startsWith('OS_') && k !== 'OS_CLIENT_CONFIG_FILE') delete baseEnv[k];
  const openstackRaw = (args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000) => {
    const r = spawnSync('openstack', args, { env: { ...env, PYTHONWARNINGS: 'ignore' }, encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    dataDir,
    cloudsFile,
    authUrl: auth.auth_url,
    password: auth.password,
    child,
    get stderr() {
      return stderr;
    },
    logs,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
    openstack(args, env = {}, timeoutMs) {
      const r = openstackRaw(['--os-cloud', 'nubo', ...args], { ...baseEnv, ...env }, timeoutMs);
      if (r.status !== 0) throw new Error(`openstack ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
      return args.includes('json') && r.stdout.trim() ? JSON.parse(r.stdout) : r.stdout;
    },
    openstackRaw,
  };
}

export const removeDataDir = (dir: string) => rmSync(dir, { recursive: true, force: true });
