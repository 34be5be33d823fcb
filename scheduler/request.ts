import type { Resources } from './placement/resources.ts';
import { requestResources, type HostState, type RequestSpec, type SchedulerOptions } from './state.ts';

/**
 * A request spec with what every filter and weigher would otherwise work out
 * again per host: the resources one instance takes, the canonical image
 * requirements, the scheduler hints as lists, the hosts of the server group.
 * Built once per decision (and per instance of a multi-create).
 */
export interface PreparedRequest {
  spec: RequestSpec;
  options: SchedulerOptions;
  /** Now, ms since the epoch (for service liveness). */
  now: number;
  resources: Resources;
  /** The instance being placed (a placeholder when the spec gives no uuids). */
  instanceUuid: string;
  sameHost: readonly string[];
  differentHost: readonly string[];
  /** Hosts of the affinity group's members (for the affinity filter; empty for other policies). */
  groupHosts: ReadonlySet<string>;
  /** The group's members, including the instances being placed. */
  groupMembers: ReadonlySet<string>;
  image: ImageRequirements;
}

export interface ImageRequirements {
  architecture: string | null;
  hypervisorType: string | null;
  vmMode: string | null;
}

const asList = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v.toLowerCase() : null);

/** Image properties canonicalized as Nova's Architecture, HVType and VMMode fields do. */
export function imageRequirements(props: Readonly<Record<string, unknown>> = {}): ImageRequirements {
  let architecture = str(props.hw_architecture ?? props.architecture);
  if (architecture && ['i386', 'i486', 'i586', 'x86_32', 'x86_32p'].includes(architecture)) architecture = 'i686';
  if (architecture === 'amd64') architecture = 'x86_64';
  let hypervisorType = str(props.img_hv_type ?? props.hypervisor_type);
  if (hypervisorType === 'xapi') hypervisorType = 'xen';
  let vmMode = str(props.hw_vm_mode ?? props.vm_mode);
  if (vmMode === 'pv') vmMode = 'xen';
  if (vmMode === 'hv' || vmMode === 'baremetal') vmMode = 'hvm';
  return { architecture, hypervisorType, vmMode };
}

/**
 * The hosts running members of the spec's affinity group: as given, or found
 * among the host states. Only the affinity filter reads them.
 */
function groupHosts(spec: RequestSpec, hosts: readonly HostState[]): Set<string> {
  const g = spec.group;
  if (g?.policy !== 'affinity') return new Set();
  if (g.hosts) return new Set(g.hosts);
  const out = new Set<string>();
  if (g.members.length === 0) return out;
  for (const h of hosts) if (g.members.some((m) => h.instances.has(m))) out.add(h.host);
  return out;
}

/** The uuid of the spec's `index`th instance, or a placeholder standing for it. */
export const instanceUuid = (spec: RequestSpec, index: number) => spec.instanceUuids?.[index] ?? `(instance ${index})`;

/** Prepares `spec` for placing `count` instances among `hosts`. */
export function prepareRequest(spec: RequestSpec, hosts: readonly HostState[], options: SchedulerOptions, count = 1, now = Date.now()): PreparedRequest {
  const hints = spec.schedulerHints ?? {};
  return {
    spec,
    options,
    now,
    resources: requestResources(spec),
    instanceUuid: instanceUuid(spec, 0),
    sameHost: asList(hints.same_host),
    differentHost: asList(hints.different_host),
    groupHosts: groupHosts(spec, hosts),
    groupMembers: new Set(spec.group ? [...spec.group.members, ...Array.from({ length: count }, (_, i) => instanceUuid(spec, i))] : []),
    image: imageRequirements(spec.imageProperties),
  };
}
