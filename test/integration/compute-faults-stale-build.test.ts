// Fault: a build_and_run_instance delivered late to a host the build was
// taken from (its agent was killed and restarted, or the broker held the
// message through an outage) while a conductor is placing the instance
// again. The agent's first instance_update must be refused (not_owner), or
// the agent would start an instance that then ends ACTIVE with no host and
// no allocation while the conductor loses its placement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { TaskState, VmState, type InstanceUpdate } from '../../compute-driver/rpc.ts';
import { createMemoryBus } from '../../lib/bus/memory.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { createLogger } from '../../lib/log.ts';
import { createConductor } from '../../scheduler/conductor/index.ts';
import { leaseForScheduling } from '../../scheduler/conductor/store.ts';
import { conductorHandlers } from '../../scheduler/conductor/handlers.ts';
import { addInstance } from '../support/compute-rows.ts';
import { pgliteDatabase } from '../support/db.ts';
import type { Db } from '../../lib/db/index.ts';

/** A conductor's instance_update and friends on a fresh PGlite database; `run` gets them and the database. */
async function withConductor(run: (h: ReturnType<typeof conductorHandlers>, db: Db, owner: string) => Promise<void>): Promise<void> {
  const { db, drop } = await pgliteDatabase();
  const bus = createMemoryBus();
  try {
    const conductor = createConductor({ db, bus, config: loadConfig({ env: {} }), logger: createLogger({ level: 'silent' }), sweepIntervalMs: 0 });
    await run(conductorHandlers(conductor.context), db, conductor.context.owner);
  } finally {
    await bus.close();
    await drop();
  }
}

test('an agent may not start a build that waits for a host; it may still report on a host-less instance that does not', () =>
  withConductor(async (h, db) => {
    let seq = Date.now() * 1000;
    // What the agent sends first when build_and_run_instance arrives (compute-driver/agent/build.ts).
    const firstSave = (uuid: string): InstanceUpdate => ({
      uuid,
      from_host: 'stale-host',
      seq: ++seq,
      vm_state: VmState.BUILDING,
      task_state: null,
      expected_task_state: [TaskState.SCHEDULING, null],
      expected_vm_state: [VmState.BUILDING],
    });

    const waiting = await addInstance(db, { projectId: 'p', vmState: VmState.BUILDING, taskState: TaskState.SCHEDULING, launchedAt: null });
    assert.deepEqual(await h.instance_update(firstSave(waiting)), { applied: false, reason: 'not_owner', vm_state: VmState.BUILDING, task_state: TaskState.SCHEDULING });
    const row = await db('instances').where({ uuid: waiting }).first();
    assert.deepEqual([row.vm_state, row.task_state, row.host], [VmState.BUILDING, TaskState.SCHEDULING, null], 'still waiting for its conductor');

    // A host-less instance that waits for nothing (in error, its build given up) still takes an agent's update.
    const errored = await addInstance(db, { projectId: 'p', vmState: VmState.ERROR, launchedAt: null });
    const update: InstanceUpdate = { uuid: errored, from_host: 'stale-host', seq: ++seq, power_state: 0 };
    assert.deepEqual(await h.instance_update(update), { applied: true });
    assert.equal((await h.instance_update({ ...firstSave(randomUUID()) })).reason, 'not_found');
  }));

test('the first update of the agent that got the build ends the lease its conductor kept over the cast', () =>
  withConductor(async (h, db, owner) => {
    // Placed on host-a, its conductor still between the cast and ending the lease.
    const uuid = await addInstance(db, { projectId: 'p', host: 'host-a', vmState: VmState.BUILDING, taskState: TaskState.SCHEDULING, launchedAt: null });
    await db('instances').where({ uuid }).update({ request_spec: JSON.stringify({ scheduling_lease: { owner: 'other:1:abc', at: new Date().toISOString() } }) });
    // The agent failed at once and gives the build up for a reschedule.
    const given = { uuid, from_host: 'host-a', seq: Date.now() * 1000, task_state: TaskState.SCHEDULING, host: null, node: null } as InstanceUpdate;
    assert.deepEqual(await h.instance_update(given), { applied: true });
    const row = await db('instances').where({ uuid }).first();
    assert.equal(row.request_spec.scheduling_lease, undefined, 'no lease left to hold back the reschedule');
    const [leased] = await leaseForScheduling(db, [uuid], owner, new Date(), new Date(Date.now() - 60_000));
    assert.equal(leased?.uuid, uuid, 'build_failed, whichever conductor gets it, can lease it again right away');
  }));
