import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { capacity, misfit, nodeInventory, requested, type Inventory } from '../../scheduler/placement/resources.ts';
import { requestResources } from '../../scheduler/state.ts';
import { defaultPolicy, smallFlavor } from '../support/scheduler.ts';

const inv = (over: Partial<Inventory> = {}): Inventory => ({ total: 10, reserved: 2, minUnit: 1, maxUnit: 10, stepSize: 1, allocationRatio: 1.5, ...over });

describe('placement capacity rules', () => {
  it('capacity is (total − reserved) × allocation_ratio', () => {
    assert.equal(capacity(inv()), 12);
  });
  it('misfit says why an amount does not fit, or null', () => {
    assert.equal(misfit(inv(), 10, 2), null);
    assert.equal(misfit(inv(), 11, 2), 'capacity');
    assert.equal(misfit(inv(), 0, 11), 'unit');
    assert.equal(misfit(inv({ minUnit: 2 }), 0, 1), 'unit');
    assert.equal(misfit(inv({ stepSize: 2 }), 0, 3), 'unit');
    assert.equal(misfit(undefined, 0, 1), 'no-inventory');
    assert.equal(misfit(undefined, 0, 0), null);
  });
  it('requested lists the classes asked, in a fixed order', () => {
    assert.deepEqual(requested({ DISK_GB: 5, VCPU: 1, MEMORY_MB: 0 }), [['VCPU', 1], ['DISK_GB', 5]]);
  });
});

describe('nodeInventory', () => {
  it('applies the default ratios and reservations, whole-node max_unit, reserved disk rounded up to GB', () => {
    assert.deepEqual(nodeInventory({ vcpus: 4, memoryMb: 8192, localGb: 100 }, { ...defaultPolicy, reservedHostDiskMb: 1500, reservedHostCpus: 1 }), {
      VCPU: { total: 4, reserved: 1, minUnit: 1, maxUnit: 4, stepSize: 1, allocationRatio: 16 },
      MEMORY_MB: { total: 8192, reserved: 512, minUnit: 1, maxUnit: 8192, stepSize: 1, allocationRatio: 1.5 },
      DISK_GB: { total: 100, reserved: 2, minUnit: 1, maxUnit: 100, stepSize: 1, allocationRatio: 1 },
    });
  });
  it('leaves out what the node lacks, and never reserves more than there is', () => {
    assert.deepEqual(nodeInventory({ vcpus: 2, memoryMb: 256, localGb: 0 }, defaultPolicy), {
      VCPU: { total: 2, reserved: 0, minUnit: 1, maxUnit: 2, stepSize: 1, allocationRatio: 16 },
      MEMORY_MB: { total: 256, reserved: 256, minUnit: 1, maxUnit: 256, stepSize: 1, allocationRatio: 1.5 },
    });
  });
});

describe('requestResources', () => {
  it('takes vcpus, memory, and root + ephemeral + swap rounded up to GB, as resources_from_flavor', () => {
    assert.deepEqual(requestResources({ flavor: { ...smallFlavor, ephemeralGb: 5, swap: 1536 } }), { VCPU: 1, MEMORY_MB: 1024, DISK_GB: 17 });
  });
  it('takes no root disk for a volume-backed instance', () => {
    assert.deepEqual(requestResources({ flavor: smallFlavor, bootFromVolume: true }), { VCPU: 1, MEMORY_MB: 1024, DISK_GB: 0 });
  });
});
