// Runs Tempest's API tests for the services Nubo serves against a fresh all-in-one.
// Each suite (identity: tempest.api.identity, image: tempest.api.image) has its
// list of tests that pass, <suite>-passing.txt, and of those that fail, <suite>-failing.txt.
//
//   node --import tsx test/tempest/run.ts             guard: only the tests in the passing lists;
//                                                      exits 1 unless every one of them passes
//   node --import tsx test/tempest/run.ts --update    every test of the suites; rewrites their
//                                                      passing and failing lists
//
// Options: --suite NAME (repeatable; all suites by default), --concurrency N (2),
// --verbose (stream Tempest's output), --keep (keep the workspace even when all is
// well), --json FILE (write the results as JSON), --regex R (with --update: another
// selection than the suites'; the lists are then not rewritten), --timeout SECONDS
// (for the Tempest run; 1500), --auth-url URL --password PW (test a cloud that is
// already running).
//
// Test ids in the lists are Tempest's ids without the attribute suffix
// (`…UsersV3TestJSON.test_user_update`, not `…test_user_update[id-…]`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAllInOne, type AllInOne } from '../support/all-in-one.ts';
import { uploadTempestImages } from './images.ts';
import { tempestNuboEnv, writeTempestWorkspace } from './write-config.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
/** Each suite: the Tempest tests it covers. */
export const SUITES = {
  identity: '^tempest\\.api\\.identity',
  image: '^tempest\\.api\\.image',
  compute: '^tempest\\.api\\.compute',
} as const;
export type Suite = keyof typeof SUITES;
export const passingFile = (suite: Suite) => join(here, `${suite}-passing.txt`);
export const failingFile = (suite: Suite) => join(here, `${suite}-failing.txt`);
const suitesRegex = (suites: Suite[]) => suites.map((s) => SUITES[s]).join('|');
const PYTHON = '/usr/bin/python3';

export type Status = 'pass' | 'fail' | 'skip' | 'missing';
export interface TestResult {
  id: string;
  status: Status;
  reason: string;
  duration: number | null;
}
export interface RunResults {
  mode: 'guard' | 'update';
  suites: Suite[];
  workspace: string;
  seconds: number;
  counts: Record<Status, number>;
  tests: TestResult[];
  /** Listed tests Tempest does not have (renamed or removed). */
  unknown: string[];
  /** setUpClass/tearDownClass errors, and anything else not a selected test. */
  classErrors: { id: string; reason: string }[];
  tempestExit: number | null;
}

/** `pkg.mod.Class.test_x[id-…,smoke]` → `pkg.mod.Class.test_x` */
export const baseId = (id: string) => id.replace(/\[[^\]]*\]$/, '');

/** Reads a list file: one test id a line; blank lines and `#` comments ignored. */
export function readList(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map(baseId);
}

/** The exception that ended a traceback, on one line (with Tempest's `Details:` line). */
export function lastException(traceback: string): string {
  const lines = traceback.replace(/\r/g, '').split('\n');
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--)
    if (lines[i].startsWith('Traceback (most recent call last)')) {
      start = i;
      break;
    }
  let i = start + 1;
  // Skip the indented frames ("  File …" and their source lines).
  while (i < lines.length && (lines[i].startsWith(' ') || lines[i] === '')) i++;
  let text = (start >= 0 && i < lines.length ? lines.slice(i) : lines.filter((l) => l.trim()).slice(-3))
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  text = text.replace(/\s+/g, ' ').trim();
  // Name the Tempest service client call that raised it, if any: `(users_client.create_user)`.
  let call = '';
  for (const l of lines.slice(Math.max(start, 0))) {
    const m = /File ".*\/tempest\/(?:lib\/)?services\/.*?\/(\w+)\.py", line \d+, in (\w+)/.exec(l);
    if (m && !call) call = `${m[1]}.${m[2]}`;
  }
  if (call) text = `(${call}) ${text}`;
  return text.length > 600 ? text.slice(0, 597) + '...' : text || '(no traceback)';
}

const PARSE_SUBUNIT = String.raw`
import sys, json, subunit, testtools
out = []
def text(details, key):
    c = details.get(key)
    if c is None:
        return ''
    try:
        return c.as_text()
    except Exception:
        return b''.join(c.iter_bytes()).decode('utf-8', 'replace')
def on_test(t):
    ts = t['timestamps']
    out.append({'id': t['id'], 'status': t['status'],
                'traceback': text(t['details'], 'traceback'), 'reason': text(t['details'], 'reason'),
                'duration': (ts[1] - ts[0]).total_seconds() if ts[0] and ts[1] else None})
stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout')
result = testtools.StreamToDict(on_test)
result.startTestRun()
stream.run(result)
result.stopTestRun()
json.dump(out, sys.stdout)
`;

interface RawResult {
  id: string;
  status: string;
  traceback: string;
  reason: string;
  duration: number | null;
}

function tempestEnv(ws: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('OS_') || /^(https?|all|no|ftp)_proxy$/i.test(k) || k.startsWith('TEMPEST_')) continue;
    env[k] = v;
  }
  return {
    ...env,
    // Keep Tempest and stestr off ~/.tempest, ~/.cache and the network: only 127.0.0.1 is used.
    HOME: ws,
    NO_PROXY: '*',
    no_proxy: '*',
    PYTHON,
    PYTHONWARNINGS: 'ignore',
    PYTHONDONTWRITEBYTECODE: '1',
    OS_TEST_TIMEOUT: '180',
  };
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, input?: Buffer) {
  const r = spawnSync(cmd, args, { cwd, env, input, maxBuffer: 1 << 30, timeout: 300_000 });
  if (r.error) throw r.error;
  return r;
}

function listTests(ws: string, env: NodeJS.ProcessEnv, configFile: string, regex: string): string[] {
  const r = sh('tempest', ['run', '--config-file', configFile, '--list-tests', '--regex', regex], ws, env);
  if (r.status !== 0) throw new Error(`tempest run --list-tests failed (${r.status}):\n${r.stderr}`);
  return r.stdout
    .toString()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('tempest.'));
}

function runTempest(ws: string, env: NodeJS.ProcessEnv, args: string[], verbose: boolean, timeoutSec: number): Promise<number | null> {
  const out = createWriteStream(join(ws, 'tempest-output.txt'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn('tempest', args, { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.tempest = child;
    let done = 0;
    let lastReport = Date.now();
    const onData = (d: Buffer) => {
      out.write(d);
      if (verbose) process.stdout.write(d);
      done += (d.toString().match(/\.\.\. (ok|FAILED|SKIPPED)/g) ?? []).length;
      if (!verbose && Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        console.log(`  … ${done} tests done`);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const timer = setTimeout(() => {
      console.error(`tempest run exceeded ${timeoutSec} s; stopping it`);
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
    }, timeoutSec * 1000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      running.tempest = undefined;
      out.end(() => resolvePromise(code));
    });
  });
}

function parseSubunit(ws: string, env: NodeJS.ProcessEnv): RawResult[] {
  const last = sh('stestr', ['last', '--subunit'], ws, env);
  if (!last.stdout.length) throw new Error(`stestr last --subunit gave nothing (${last.status}):\n${last.stderr}`);
  writeFileSync(join(ws, 'last.subunit'), last.stdout);
  const parsed = sh(PYTHON, ['-c', PARSE_SUBUNIT], ws, env, last.stdout);
  if (parsed.status !== 0) throw new Error(`parsing the subunit stream failed:\n${parsed.stderr}`);
  return JSON.parse(parsed.stdout.toString());
}

/** Maps Tempest's raw results onto the selected tests; class fixture failures fail the class's tests. */
export function collate(selected: string[], raw: RawResult[]): { tests: TestResult[]; classErrors: { id: string; reason: string }[] } {
  const byBase = new Map<string, RawResult>();
  const classErrors: { id: string; reason: string }[] = [];
  const classSetupFailure = new Map<string, string>();
  const classSkip = new Map<string, string>();
  for (const r of raw) {
    const m = /^(setUpClass|tearDownClass) \((.+)\)$/.exec(r.id);
    if (m || !r.id.startsWith('tempest.')) {
      if (m && m[1] === 'setUpClass' && r.status === 'skip') classSkip.set(m[2], (r.reason || 'skipped').replace(/\s+/g, ' ').trim());
      if (r.status === 'fail' || r.status === 'uxsuccess') {
        const reason = lastException(r.traceback || r.reason);
        classErrors.push({ id: r.id, reason });
        if (m && m[1] === 'setUpClass') classSetupFailure.set(m[2], reason);
      }
      continue;
    }
    byBase.set(baseId(r.id), r);
  }
  const tests = selected.map((id): TestResult => {
    const r = byBase.get(id);
    if (!r) {
      const cls = id.slice(0, id.lastIndexOf('.'));
      const setup = classSetupFailure.get(cls);
      if (setup) return { id, status: 'fail', reason: `setUpClass: ${setup}`, duration: null };
      const skip = classSkip.get(cls);
      if (skip !== undefined) return { id, status: 'skip', reason: skip, duration: null };
      return { id, status: 'missing', reason: 'no result from Tempest (not run, or the run was cut short)', duration: null };
    }
    switch (r.status) {
      case 'success':
      case 'xfail':
        return { id, status: 'pass', reason: '', duration: r.duration };
      case 'skip':
        return { id, status: 'skip', reason: (r.reason || 'skipped').replace(/\s+/g, ' ').trim(), duration: r.duration };
      default:
        return { id, status: 'fail', reason: lastException(r.traceback || r.reason), duration: r.duration };
    }
  });
  return { tests, classErrors };
}

/**
 * Prefixes an HTTP error's reason with the request that got it, from Tempest's
 * request log (`Request (Class:test_x): 404 POST http://…/v3/policies`):
 * `[POST /v3/policies → 404]`. Ids in the path become {id}.
 */
export function nameFailedRequests(tests: TestResult[], tempestLog: string) {
  if (!existsSync(tempestLog)) return;
  const lastError = new Map<string, string>();
  const re = /Request \((\w+):(\w+)\): (\d{3}) ([A-Z]+) (\S+)/;
  for (const line of readFileSync(tempestLog, 'utf8').split('\n')) {
    const m = re.exec(line);
    if (!m || Number(m[3]) < 400) continue;
    const path = m[5].replace(/^\w+:\/\/[^/]+/, '').replace(/[0-9a-f]{32}/g, '{id}');
    lastError.set(`${m[1]}:${m[2]}`, `${m[4]} ${path} → ${m[3]}`);
  }
  for (const t of tests) {
    if (t.status !== 'fail' || !t.reason.includes('tempest.lib.exceptions.')) continue;
    const [cls, method] = t.id.split('.').slice(-2);
    const request = lastError.get(`${cls}:${t.reason.startsWith('setUpClass:') ? 'setUpClass' : method}`);
    if (request) t.reason = `[${request}] ${t.reason}`;
  }
}

const running: { cloud?: AllInOne; tempest?: ChildProcess } = {};

async function stopAll() {
  if (running.tempest?.pid) {
    try {
      process.kill(-running.tempest.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const cloud = running.cloud;
  running.cloud = undefined;
  if (cloud) await cloud.stop();
}

export interface RunOptions {
  update: boolean;
  suites: Suite[];
  concurrency: number;
  verbose: boolean;
  keep: boolean;
  regex?: string;
  timeoutSec: number;
  json?: string;
  /** Test an already running cloud instead of starting an all-in-one. */
  authUrl?: string;
  password?: string;
}

export async function run(o: RunOptions): Promise<RunResults> {
  const t0 = Date.now();
  const ws = mkdtempSync(join(tmpdir(), 'nubo-tempest-'));
  const dataDir = join(ws, 'nubo-data');
  mkdirSync(dataDir);
  console.log(`workspace: ${ws}`);

  // The cloud, with its log kept in the workspace.
  const log = createWriteStream(join(ws, 'nubo.log'));
  let cloud: { authUrl: string; password: string };
  if (o.authUrl) {
    cloud = { authUrl: o.authUrl, password: o.password ?? '' };
    console.log(`testing the cloud at ${cloud.authUrl}`);
  } else {
    let aio: AllInOne;
    try {
      // On a loaded machine the start (tsx compiling, PGlite's initdb, the bootstrap) can take minutes.
      aio = await startAllInOne({ dataDir, env: { ...tempestNuboEnv, NUBO_LOG_LEVEL: 'info' }, startTimeoutMs: 300_000 });
    } catch (e) {
      log.end(String((e as Error).message ?? e));
      throw e;
    }
    running.cloud = aio;
    for (const l of aio.logs) log.write(JSON.stringify(l) + '\n');
    aio.child.stdout!.on('data', (d) => log.write(d));
    aio.child.stderr!.on('data', (d) => log.write(d));
    cloud = aio;
    console.log(`nubo all-in-one at ${cloud.authUrl} (log: ${join(ws, 'nubo.log')})`);
  }

  let results: RunResults;
  try {
    const images = o.suites.includes('compute') ? await uploadTempestImages(cloud.authUrl, cloud.password) : {};
    const { configFile } = writeTempestWorkspace({ dir: ws, authUrl: cloud.authUrl, adminPassword: cloud.password, ...images });
    const env = tempestEnv(ws);
    const init = sh('stestr', ['init'], ws, env);
    if (init.status !== 0) throw new Error(`stestr init failed:\n${init.stderr}`);

    const all = listTests(ws, env, configFile, suitesRegex(o.suites));
    if (all.length === 0) throw new Error(`Tempest lists no tests for ${o.suites.join(', ')}`);
    const fullByBase = new Map(all.map((id) => [baseId(id), id]));

    let selected: string[];
    let unknown: string[] = [];
    const args = ['run', '--config-file', configFile, '--concurrency', String(o.concurrency)];
    if (o.update) {
      const regex = o.regex ?? suitesRegex(o.suites);
      const re = new RegExp(regex);
      selected = [...fullByBase.keys()].filter((id) => re.test(id));
      args.push('--regex', regex);
    } else {
      const listed = [...new Set(o.suites.flatMap((suite) => readList(passingFile(suite))))];
      if (listed.length === 0) throw new Error(`the passing lists of ${o.suites.join(', ')} hold no tests; run with --update first`);
      unknown = listed.filter((id) => !fullByBase.has(id));
      selected = listed.filter((id) => fullByBase.has(id));
      const loadList = join(ws, 'load-list.txt');
      writeFileSync(loadList, selected.map((id) => fullByBase.get(id)).join('\n') + '\n');
      args.push('--load-list', loadList);
    }
    console.log(`running ${selected.length} Tempest test(s) with concurrency ${o.concurrency}…`);
    const tempestExit = selected.length ? await runTempest(ws, env, args, o.verbose, o.timeoutSec) : 0;
    const raw = selected.length ? parseSubunit(ws, env) : [];
    const { tests, classErrors } = collate(selected, raw);
    nameFailedRequests(tests, join(ws, 'logs', 'tempest.log'));
    const counts: Record<Status, number> = { pass: 0, fail: 0, skip: 0, missing: 0 };
    for (const t of tests) counts[t.status]++;
    results = {
      mode: o.update ? 'update' : 'guard',
      suites: o.suites,
      workspace: ws,
      seconds: Math.round((Date.now() - t0) / 1000),
      counts,
      tests,
      unknown,
      classErrors,
      tempestExit,
    };
  } finally {
    await stopAll();
    await new Promise<void>((r) => log.end(r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  writeFileSync(join(ws, 'results.json'), JSON.stringify(results, null, 2));
  if (o.json) writeFileSync(o.json, JSON.stringify(results, null, 2));
  return results;
}

function group(items: TestResult[]): [string, string[]][] {
  const m = new Map<string, string[]>();
  for (const t of items) {
    // Group by the reason with ids, UUIDs, numbers and quoted values blurred.
    const key = t.reason
      .replace(/[0-9a-f]{32}|[0-9a-f-]{36}/gi, '<id>')
      .replace(/tempest-[\w-]+/g, '<name>')
      .replace(/0x[0-9a-f]+/gi, '0x…')
      .slice(0, 200);
    m.set(key, [...(m.get(key) ?? []), t.id]);
  }
  return [...m.entries()].sort((a, b) => b[1].length - a[1].length);
}

export function printSummary(r: RunResults) {
  const c = r.counts;
  console.log(`\nTempest ${r.suites.join(' + ')} (${r.mode}): ${c.pass} passed, ${c.fail} failed, ${c.skip} skipped, ${c.missing} without result — ${r.seconds} s`);
  if (r.unknown.length) console.log(`\nlisted but unknown to Tempest (${r.unknown.length}):\n  ${r.unknown.join('\n  ')}`);
  const failed = r.tests.filter((t) => t.status === 'fail' || t.status === 'missing');
  if (failed.length) {
    console.log(`\nfailures by reason:`);
    for (const [reason, ids] of group(failed)) {
      console.log(`  [${ids.length}] ${reason}`);
      for (const id of ids.slice(0, r.mode === 'guard' ? ids.length : 5)) console.log(`      ${id}`);
      if (r.mode === 'update' && ids.length > 5) console.log(`      … and ${ids.length - 5} more`);
    }
  }
  const skipped = r.tests.filter((t) => t.status === 'skip');
  if (skipped.length) {
    console.log(`\nskips by reason:`);
    for (const [reason, ids] of group(skipped)) console.log(`  [${ids.length}] ${reason}`);
  }
  // setUpClass failures are already counted against each test of their class.
  const other = r.classErrors.filter((e) => !e.id.startsWith('setUpClass '));
  if (other.length) {
    console.log(`\nother errors (tearDownClass, …):`);
    for (const e of other) console.log(`  ${e.id}: ${e.reason}`);
  }
}

/** Rewrites each suite's passing and failing lists from an --update run. */
function writeLists(r: RunResults) {
  for (const suite of r.suites) {
    const re = new RegExp(SUITES[suite]);
    const tests = r.tests.filter((t) => re.test(t.id));
    const count = (...st: Status[]) => tests.filter((t) => st.includes(t.status)).length;
    const passed = tests.filter((t) => t.status === 'pass').map((t) => t.id).sort();
    writeFileSync(passingFile(suite), passed.join('\n') + (passed.length ? '\n' : ''));
    const failing = tests
      .filter((t) => t.status === 'fail' || t.status === 'missing')
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((t) => `${t.id} -- ${t.reason}`);
    writeFileSync(
      failingFile(suite),
      `# Written by \`node --import tsx test/tempest/run.ts --update\`: Tempest ${suite} tests that fail, each with\n` +
        `# the exception that ended it. ${count('pass')} passed, ${count('fail', 'missing')} failed, ${count('skip')} skipped.\n` +
        failing.join('\n') +
        (failing.length ? '\n' : ''),
    );
    console.log(`\nwrote ${passingFile(suite)} (${passed.length}) and ${failingFile(suite)} (${failing.length})`);
  }
}

function parseArgs(argv: string[]): RunOptions {
  const o: RunOptions = { update: false, suites: [], concurrency: 2, verbose: false, keep: false, timeoutSec: 1500 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--update') o.update = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--concurrency') o.concurrency = Number(value());
    else if (a === '--timeout') o.timeoutSec = Number(value());
    else if (a === '--regex') o.regex = value();
    else if (a === '--suite') {
      const suite = value();
      if (!(suite in SUITES)) throw new Error(`unknown suite ${suite}; suites: ${Object.keys(SUITES).join(', ')}`);
      o.suites.push(suite as Suite);
    }
    else if (a === '--json') o.json = resolve(value());
    else if (a === '--auth-url') o.authUrl = value();
    else if (a === '--password') o.password = value();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.suites.length) o.suites = Object.keys(SUITES) as Suite[];
  return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2));
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      console.error(`\n${sig}: stopping`);
      stopAll().finally(() => process.exit(130));
    });
  try {
    const r = await run(o);
    printSummary(r);
    if (o.update && !o.regex) writeLists(r);
    const ok = o.update ? r.counts.pass + r.counts.fail + r.counts.skip > 0 : r.counts.pass === r.tests.length && r.unknown.length === 0;
    if (ok && !o.update && !o.keep) rmSync(r.workspace, { recursive: true, force: true });
    else console.log(`\nworkspace (nubo.log, tempest-output.txt, logs/tempest.log, results.json): ${r.workspace}`);
    process.exit(ok ? 0 : 1);
  } catch (e) {
    console.error((e as Error).stack ?? e);
    await stopAll();
    process.exit(2);
  }
}
