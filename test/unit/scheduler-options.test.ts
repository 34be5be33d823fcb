import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../lib/config/index.ts';
import { inventoryPolicy, schedulerOptions } from '../../scheduler/state.ts';

describe('scheduler options', () => {
  it('default as Nova’s', () => {
    const config = loadConfig({ env: {} });
    assert.deepEqual(schedulerOptions(config), {
      ramWeightMultiplier: 1,
      cpuWeightMultiplier: 1,
      softAffinityWeightMultiplier: 1,
      softAntiAffinityWeightMultiplier: 1,
      maxAttempts: 3,
      hostSubsetSize: 1,
      serviceDownTimeMs: 60_000,
    });
    assert.deepEqual(inventoryPolicy(config), {
      cpuAllocationRatio: 16,
      ramAllocationRatio: 1.5,
      diskAllocationRatio: 1,
      reservedHostCpus: 0,
      reservedHostMemoryMb: 512,
      reservedHostDiskMb: 0,
    });
  });

  it('take fractional and negative multipliers and ratios, and refuse what is not a number', () => {
    const config = loadConfig({ env: { NUBO_SCHEDULER_RAM_WEIGHT_MULTIPLIER: '-1.5', NUBO_COMPUTE_RAM_ALLOCATION_RATIO: '.75', NUBO_SCHEDULER_SERVICE_DOWN_TIME: '90' } });
    assert.equal(schedulerOptions(config).ramWeightMultiplier, -1.5);
    assert.equal(schedulerOptions(config).serviceDownTimeMs, 90_000);
    assert.equal(inventoryPolicy(config).ramAllocationRatio, 0.75);
    assert.throws(() => loadConfig({ env: { NUBO_SCHEDULER_CPU_WEIGHT_MULTIPLIER: 'lots' } }), /NUBO_SCHEDULER_CPU_WEIGHT_MULTIPLIER.*expected a number/);
    assert.throws(() => loadConfig({ env: { NUBO_COMPUTE_CPU_ALLOCATION_RATIO: '-1' } }), /at least 0/);
    assert.throws(() => loadConfig({ env: { NUBO_SCHEDULER_MAX_ATTEMPTS: '0' } }), /at least 1/);
  });
});
