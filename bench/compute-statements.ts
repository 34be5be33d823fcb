/**
 * What one single-POST server create costs the database, load-independently:
 * SQL statements per create (from pg_stat_statements) and PostgreSQL CPU
 * seconds per 1,000 creates, on the cloud bench/compute.ts runs (separate
 * processes, RabbitMQ, fake agents), from the first POST to all ACTIVE.
 *
 *   NUBO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5499/postgres \
 *     node --import tsx bench/compute-statements.ts [--servers 300] [--agents 10] [--concurrency 16] [--top 40]
 *
 * The PostgreSQL server must load pg_stat_statements
 * (shared_preload_libraries): run it against a private server started for
 * this, never by reconfiguring a shared one. Statements are counted per
 * normalised query over the cloud's database only, the bench's own polling
 * left out.
 */
import { parseArgs } from 'node:util';
import { startCloud, type Cloud } from './support/cloud.ts';
import { http } from './support/api.ts';
import { cpuOf, prepare } from './support/compute-setup.ts';

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '300' },
    agents: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    top: { type: 'string', default: '40' },
  },
});
const N = Number(values.servers);
/** Marks the bench's own statements, so that they are not counted. */
const MARK = '/* bench-poll */';

async function pgCpu(cloud: Cloud, seen: Map<number, number>): Promise<void> {
  const r = await cloud.db.raw(`${MARK} select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`);
  for (const { pid } of r.rows as { pid: number }[]) seen.set(pid, cpuOf(pid));
}

async function main() {
  const cloud = await startCloud({ agents: Number(values.agents), schedulers: 1, built: false });
  try {
    await cloud.db.raw('create extension if not exists pg_stat_statements');
    const { token, flavorId, imageId } = await prepare(cloud);
    // Let the agents' start-up reports settle before counting.
    await new Promise((r) => setTimeout(r, 3000));

    const cpu0 = new Map<number, number>();
    await pgCpu(cloud, cpu0);
    await cloud.db.raw(`${MARK} select pg_stat_statements_reset()`);
    // Sampled every second: a backend that ends before the run does keeps its last figure.
    const cpu1 = new Map<number, number>();
    const sampler = setInterval(() => void pgCpu(cloud, cpu1).catch(() => undefined), 1000);
    const start = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        await http('POST', `${cloud.computeUrl}/servers`, token, { server: { name: `s-${i}`, imageRef: imageId, flavorRef: flavorId } });
      }
    };
    await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
    const postsMs = Date.now() - start;
    for (;;) {
      const r = await cloud.db.raw(`${MARK} select count(*) filter (where vm_state = 'active' and task_state is null)::int as active from instances where deleted_at is null`);
      if (r.rows[0].active >= N) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const activeMs = Date.now() - start;
    clearInterval(sampler);
    await pgCpu(cloud, cpu1);
    let cpu = 0;
    for (const [pid, c] of cpu1) cpu += c - (cpu0.get(pid) ?? 0);

    const stats = await cloud.db.raw(
      `${MARK} select calls::int, rows::int, round(total_exec_time::numeric, 1)::float as ms, round(total_plan_time::numeric, 1)::float as plan_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) as query
         from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database()) and query not like '%bench-poll%'
        order by calls desc`,
    );
    const rows = stats.rows as { calls: number; rows: number; ms: number; plan_ms: number; query: string }[];
    const calls = rows.reduce((s, r) => s + r.calls, 0);
    const execMs = rows.reduce((s, r) => s + r.ms, 0);
    const planMs = rows.reduce((s, r) => s + r.plan_ms, 0);
    const tx = rows.filter((r) => /^(BEGIN|COMMIT|ROLLBACK)/i.test(r.query)).reduce((s, r) => s + r.calls, 0);
    console.log(`${N} creates, ${values.concurrency} in flight: POSTs ${(postsMs / 1000).toFixed(1)} s, all ACTIVE ${(activeMs / 1000).toFixed(1)} s (under load: timings noisy)`);
    console.log(
      `statements per create: ${(calls / N).toFixed(1)} (${(tx / N).toFixed(1)} of them BEGIN/COMMIT/ROLLBACK); PostgreSQL exec ${(execMs / N).toFixed(2)} ms (lock waits included) and planning ${(planMs / N).toFixed(2)} ms (with pg_stat_statements.track_planning) per create; PostgreSQL CPU ${((cpu / N) * 1000).toFixed(1)} s per 1,000 creates`,
    );
    console.log('| calls/create | rows/call | ms total | query |');
    console.log('| --- | --- | --- | --- |');
    for (const r of rows.slice(0, Number(values.top))) {
      console.log(`| ${(r.calls / N).toFixed(2)} | ${(r.rows / Math.max(1, r.calls)).toFixed(1)} | ${r.ms} | ${r.query.replace(/\|/g, '\\|')} |`);
    }
  } finally {
    await cloud.stop();
  }
}

await main();
