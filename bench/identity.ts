/**
 * Identity figures, printed (never asserted): p50/p99 latency and throughput
 * at concurrency 1 and 16 for token validation (GET /v3/auth/tokens), token
 * issue with the `token` method and with `password`, against the all-in-one
 * on PostgreSQL; and the all-in-one's idle RSS. The all-in-one is the
 * compiled tree that `npm start` runs (built first).
 *
 *   node --import tsx bench/identity.ts [--seconds 10] [--pglite]
 *
 * Targets (2 cores): validation > 5,000/s with p50 < 2 ms; token-method issue
 * > 1,500/s; idle under 150 MB RSS.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startAllInOne, removeDataDir } from '../test/support/all-in-one.ts';
import { postgresDatabase } from '../test/support/db.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, pglite: { type: 'boolean', default: false } } });
const seconds = Number(values.seconds);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function main() {
  // The figures are for what `npm start` runs: the compiled tree.
  if (spawnSync(process.execPath, [fileURLToPath(new URL('../bin/build.js', import.meta.url))], { stdio: 'inherit' }).status !== 0) {
    throw new Error('node bin/build.js failed');
  }
  const database = values.pglite ? null : await postgresDatabase();
  const cloud = await startAllInOne({
    built: true,
    env: {
      NUBO_LOG_LEVEL: 'warn',
      NUBO_IDENTITY_PASSWORD_HASH_COST: '15',
      ...(database ? { NUBO_DATABASE_URL: database.url } : {}),
    },
  }).catch(async (e) => {
    await database?.drop();
    throw e;
  });
  const base = cloud.authUrl.replace(/\/v3$/, '');
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const idle = rssMb(cloud.child.pid!);
    const passwordBody = JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: cloud.password } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
    const issued = await fetch(`${base}/v3/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: passwordBody });
    if (issued.status !== 201) throw new Error(`password auth failed: ${issued.status} ${await issued.text()}`);
    const token = issued.headers.get('x-subject-token')!;
    const tokenBody = JSON.stringify({
      auth: { identity: { methods: ['token'], token: { id: token } }, scope: { project: { name: 'admin', domain: { name: 'Default' } } } },
    });

    const cases: { name: string; opts: autocannon.Options; expect: number }[] = [
      { name: 'validate GET /v3/auth/tokens', expect: 200, opts: { url: `${base}/v3/auth/tokens`, method: 'GET', headers: { 'x-auth-token': token, 'x-subject-token': token } } },
      { name: 'issue (token method)', expect: 201, opts: { url: `${base}/v3/auth/tokens`, method: 'POST', headers: { 'content-type': 'application/json' }, body: tokenBody } },
      { name: 'issue (password)', expect: 201, opts: { url: `${base}/v3/auth/tokens`, method: 'POST', headers: { 'content-type': 'application/json' }, body: passwordBody } },
    ];
    console.log(`identity bench: ${database ? 'PostgreSQL' : 'PGlite'}, in-process bus, ${seconds} s per run, load generator in this process`);
    console.log('| call | concurrency | req/s | p50 ms | p99 ms | non-2xx |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const c of cases) {
      for (const connections of [1, 16]) {
        const r = await autocannon({ ...c.opts, connections, duration: seconds });
        console.log(`| ${c.name} | ${connections} | ${Math.round(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx} |`);
      }
    }
    console.log(`all-in-one RSS: idle ${idle.toFixed(0)} MB, after load ${rssMb(cloud.child.pid!).toFixed(0)} MB`);
    console.log('targets: validate > 5000/s with p50 < 2 ms; token-method issue > 1500/s; idle < 150 MB');
  } finally {
    await cloud.stop();
    removeDataDir(cloud.dataDir);
    await database?.drop();
  }
}

await main();
