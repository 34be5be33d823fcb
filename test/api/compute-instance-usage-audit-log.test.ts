import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { lastCompletedAuditPeriod, parseBefore } from '../../api/compute/instance-usage-audit-log/service.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost, addService } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova os-instance_usage_audit_log', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    const db = h.identity.database.db;
    await addComputeHost(db, h.identity.config, 'node-1');
    await addComputeHost(db, h.identity.config, 'node-2');
    await db('compute_services').where({ host: 'node-2' }).update({ disabled: true });
    await addService(db, 'control', 'nubo-scheduler');
  });
  after(() => h.close());

  test('the audit period is the calendar month before the time; timestamps parse as Nova\'s strptime formats', () => {
    const p = lastCompletedAuditPeriod(new Date('2026-01-15T10:00:00Z'));
    assert.deepEqual([p.begin.toISOString(), p.end.toISOString()], ['2025-12-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
    assert.equal(parseBefore('2026-03-02 04:05:06').toISOString(), '2026-03-02T04:05:06.000Z');
    assert.equal(parseBefore('2026-03-02 04:05:06.250000').toISOString(), '2026-03-02T04:05:06.250Z');
    for (const bad of ['invalid_time', '2026-02-30 00:00:00', '2026-03-02T04:05:06', '2026-03-02 24:00:00']) assert.throws(() => parseBefore(bad), /Invalid timestamp/, bad);
  });

  test('list: every compute host (disabled too, not the scheduler) not run, for last month', async () => {
    const r = await h.call('GET', '/v2.1/os-instance_usage_audit_log');
    assert.equal(r.status, 200);
    const log = r.body.instance_usage_audit_logs;
    conforms('InstanceUsageAuditReport', log);
    assert.deepEqual(log.hosts_not_run.sort(), ['node-1', 'node-2']);
    assert.equal(log.num_hosts, 2);
    assert.equal(log.num_hosts_not_run, 2);
    assert.equal(log.overall_status, '0 of 2 hosts done. 0 errors.');
    const { begin, end } = lastCompletedAuditPeriod(new Date());
    assert.equal(log.period_beginning, begin.toISOString().replace('T', ' ').slice(0, 19));
    assert.equal(log.period_ending, end.toISOString().replace('T', ' ').slice(0, 19));
  });

  test('show before a time: that month\'s period; a bad time is a 400; members get 403 (before the time is read)', async () => {
    const r = await h.call('GET', `/v2.1/os-instance_usage_audit_log/${encodeURIComponent('2026-05-20 12:00:00')}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.instance_usage_audit_log.period_beginning, '2026-04-01 00:00:00');
    assert.equal(r.body.instance_usage_audit_log.period_ending, '2026-05-01 00:00:00');
    const bad = await h.call('GET', '/v2.1/os-instance_usage_audit_log/invalid_time');
    assert.deepEqual(bad.body, { badRequest: { code: 400, message: 'Invalid timestamp for date invalid_time' } });
    assert.equal((await h.call('GET', '/v2.1/os-instance_usage_audit_log', { token: alice.token })).status, 403);
    assert.equal((await h.call('GET', '/v2.1/os-instance_usage_audit_log/invalid_time', { token: alice.token })).status, 403);
  });
});
