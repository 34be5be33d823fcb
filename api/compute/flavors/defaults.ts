import type { Db } from '../../../lib/db/index.ts';
import { countFlavors, insertFlavor } from './store.ts';

/**
 * The classic flavors (Nova's old defaults, which devstack still creates):
 * ids 1–5, public; and DevStack's m1.nano (id 42), which fits the test guest
 * (under TCG it needs 96 MB or more).
 */
const CLASSIC_FLAVORS = [
  { flavorid: '42', name: 'm1.nano', memory_mb: 128, vcpus: 1, root_gb: 1 },
  { flavorid: '1', name: 'm1.tiny', memory_mb: 512, vcpus: 1, root_gb: 1 },
  { flavorid: '2', name: 'm1.small', memory_mb: 2048, vcpus: 1, root_gb: 20 },
  { flavorid: '3', name: 'm1.medium', memory_mb: 4096, vcpus: 2, root_gb: 40 },
  { flavorid: '4', name: 'm1.large', memory_mb: 8192, vcpus: 4, root_gb: 80 },
  { flavorid: '5', name: 'm1.xlarge', memory_mb: 16384, vcpus: 8, root_gb: 160 },
];

/**
 * Creates m1.nano and m1.tiny … m1.xlarge when there is no flavor at all, so that a
 * fresh all-in-one can boot servers at once (Nova itself ships none). Once an
 * operator has any flavor, nothing is added. Returns the names created.
 */
export async function createDefaultFlavors(db: Db): Promise<string[]> {
  return db.transaction(async (trx) => {
    await trx.raw('lock table flavors in share row exclusive mode');
    if ((await countFlavors(trx)) > 0) return [];
    for (const f of CLASSIC_FLAVORS) {
      await insertFlavor(trx, { ...f, ephemeral_gb: 0, swap: 0, rxtx_factor: 1.0, is_public: true, description: null });
    }
    return CLASSIC_FLAVORS.map((f) => f.name);
  });
}
