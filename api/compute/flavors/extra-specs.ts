import { badRequest, notFound } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { parseBool } from '../query.ts';
import { findFlavor } from './service.ts';
import * as store from './store.ts';

export type ExtraSpecValue = string | number;

type Rule = { enum: string[] } | { int: { min: number } } | { bool: true } | { pattern: RegExp };

/**
 * The extra specs whose values Nubo checks from 2.86 (a subset of Nova's
 * nova/api/validation/extra_specs registry: the common hw: ones). Other keys,
 * known to Nova or not, are accepted as they are.
 */
const KNOWN: Record<string, Rule> = {
  'hw:cpu_policy': { enum: ['dedicated', 'shared', 'mixed'] },
  'hw:cpu_thread_policy': { enum: ['prefer', 'isolate', 'require'] },
  'hw:emulator_threads_policy': { enum: ['isolate', 'share'] },
  'hw:watchdog_action': { enum: ['none', 'pause', 'poweroff', 'reset', 'disabled'] },
  'hw:mem_page_size': { pattern: /^(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)$/ },
  'hw:numa_nodes': { int: { min: 1 } },
  'hw:cpu_sockets': { int: { min: 1 } },
  'hw:cpu_cores': { int: { min: 1 } },
  'hw:cpu_threads': { int: { min: 1 } },
  'hw:max_cpu_sockets': { int: { min: 1 } },
  'hw:max_cpu_cores': { int: { min: 1 } },
  'hw:max_cpu_threads': { int: { min: 1 } },
  'hw:serial_port_count': { int: { min: 0 } },
  'hw:cpu_realtime': { bool: true },
  'hw:hide_hypervisor_id': { bool: true },
  'hw:locked_memory': { bool: true },
  'hw:boot_menu': { bool: true },
  'hw:vif_multiqueue_enabled': { bool: true },
  'hw:mem_encryption': { bool: true },
};

function validateKnown(name: string, value: string): void {
  const rule = KNOWN[name];
  if (!rule) return;
  if ('enum' in rule && !rule.enum.includes(value)) {
    throw badRequest(`Validation failed; '${value}' is not one of: ${rule.enum.join(', ')}.`);
  }
  if ('pattern' in rule && !rule.pattern.test(value)) {
    throw badRequest(`Validation failed; '${value}' is not of the format '${rule.pattern.source.slice(1, -1)}'.`);
  }
  if ('int' in rule) {
    if (!/^\s*[-+]?\d+\s*$/.test(value)) throw badRequest(`Validation failed; '${value}' is not a valid integer value.`);
    if (Number(value) < rule.int.min) throw badRequest(`Validation failed; '${value}' is less than the min value of '${rule.int.min}'.`);
  }
  if ('bool' in rule && parseBool(value) === undefined) throw badRequest(`Validation failed; '${value}' is not a valid boolean-like value.`);
}

/**
 * Nova's _check_extra_specs_value: a number becomes its text (at most 255
 * characters); from 2.86 known keys are validated. Returns what is stored.
 */
function checkedSpecs(specs: Record<string, ExtraSpecValue>, validate: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(specs)) {
    const value = String(raw);
    if (typeof raw === 'number' && value.length > 255) {
      throw badRequest('Invalid input received: extra_specs value has more than 255 characters.');
    }
    if (validate) validateKnown(name, value);
    out[name] = value;
  }
  return out;
}

const noSuchKey = (flavorid: string, key: string) => notFound(`Flavor ${flavorid} has no extra specs with key ${key}.`);

async function specsOf(ctx: ComputeContext, flavorId: number): Promise<Record<string, string>> {
  return (await store.extraSpecsOf(ctx.db, [flavorId])).get(flavorId)!;
}

/** GET /flavors/{id}/os-extra_specs */
export async function listExtraSpecs(ctx: ComputeContext, caller: ComputeCaller, flavorid: string): Promise<Record<string, string>> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-extra-specs:index', { project_id: caller.projectId });
  return specsOf(ctx, (await findFlavor(ctx, caller, flavorid)).id);
}

/** GET /flavors/{id}/os-extra_specs/{key}: the one spec, or a 404. */
export async function showExtraSpec(ctx: ComputeContext, caller: ComputeCaller, flavorid: string, key: string): Promise<Record<string, string>> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-extra-specs:show', { project_id: caller.projectId });
  const specs = await specsOf(ctx, (await findFlavor(ctx, caller, flavorid)).id);
  if (!Object.prototype.hasOwnProperty.call(specs, key)) throw noSuchKey(flavorid, key);
  return { [key]: specs[key] };
}

/**
 * Adds or replaces extra specs (others stay): POST /flavors/{id}/os-extra_specs,
 * or with `urlKey` PUT /flavors/{id}/os-extra_specs/{key}, whose one-key body
 * must name the key of the URL.
 */
export async function setExtraSpecs(
  ctx: ComputeContext,
  caller: ComputeCaller,
  flavorid: string,
  specs: Record<string, ExtraSpecValue>,
  opts: { validate: boolean; urlKey?: string },
): Promise<void> {
  const action = opts.urlKey === undefined ? 'create' : 'update';
  authorizeCompute(ctx, caller, `os_compute_api:os-flavor-extra-specs:${action}`, {});
  const values = checkedSpecs(specs, opts.validate);
  if (opts.urlKey !== undefined && !Object.prototype.hasOwnProperty.call(specs, opts.urlKey)) throw badRequest('Request body and URI mismatch');
  await store.upsertExtraSpecs(ctx.db, (await findFlavor(ctx, caller, flavorid)).id, values);
}

/** DELETE /flavors/{id}/os-extra_specs/{key} */
export async function deleteExtraSpec(ctx: ComputeContext, caller: ComputeCaller, flavorid: string, key: string): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-extra-specs:delete', {});
  const flavor = await findFlavor(ctx, caller, flavorid);
  if (!(await store.deleteExtraSpec(ctx.db, flavor.id, key))) throw noSuchKey(flavorid, key);
}
