import type { FastifyRequest } from 'fastify';
import type { components } from '../../../spec/compute.d.ts';
import { resourceLinks } from '../query.ts';
import type { FlavorRow } from './store.ts';

export type Flavor = components['schemas']['Flavor'];
export type FlavorBrief = components['schemas']['FlavorBrief'];

/** 2.55 adds `description` to flavor bodies, 2.61 `extra_specs`. */
export const FLAVOR_DESCRIPTION_MICROVERSION = '2.55';
export const FLAVOR_EXTRA_SPECS_MICROVERSION = '2.61';

/** GET /flavors: id, name, links (and description from 2.55). */
export function flavorBriefView(request: FastifyRequest, f: FlavorRow): FlavorBrief {
  const body: FlavorBrief = { id: f.flavorid, name: f.name, links: resourceLinks(request, 'flavors', f.flavorid) };
  if (request.microversion.atLeast(FLAVOR_DESCRIPTION_MICROVERSION)) body.description = f.description;
  return body;
}

/**
 * A flavor in full, as Nova's view builder: swap 0 shows as "" before 2.75;
 * `description` when asked for (2.55 on), `extra_specs` when given (2.61 on,
 * if the caller may list them).
 */
export function flavorView(
  request: FastifyRequest,
  f: FlavorRow,
  opts: { description: boolean; extraSpecs?: Record<string, string> },
): Flavor {
  const body: Flavor = {
    id: f.flavorid,
    name: f.name,
    ram: f.memory_mb,
    disk: f.root_gb,
    swap: f.swap || (request.microversion.atLeast('2.75') ? 0 : ''),
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral_gb,
    'OS-FLV-DISABLED:disabled': f.disabled,
    vcpus: f.vcpus,
    'os-flavor-access:is_public': f.is_public,
    rxtx_factor: f.rxtx_factor,
    links: resourceLinks(request, 'flavors', f.flavorid),
  };
  if (opts.description) body.description = f.description;
  if (opts.extraSpecs) body.extra_specs = opts.extraSpecs;
  return body;
}

/** The access list of a private flavor: one entry per project. */
export function flavorAccessView(flavorid: string, projects: string[]) {
  return { flavor_access: projects.map((tenant_id) => ({ flavor_id: flavorid, tenant_id })) };
}
