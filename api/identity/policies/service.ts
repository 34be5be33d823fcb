import { badRequest, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import * as store from './store.ts';
import type { PolicyRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a client may set on a policy: blob and type, plus any extra attribute. */
export interface PolicyInput {
  id?: unknown;
  blob?: string;
  type?: string;
  [extra: string]: unknown;
}

export const policyNotFound = (id: string) => notFound(`Could not find policy: ${id}.`);

function splitInput(input: PolicyInput) {
  const { id: _id, blob, type, ...extra } = input;
  return { blob, type, extra };
}

export async function getPolicy(deps: Deps, id: string): Promise<PolicyRow> {
  const row = await store.getPolicy(deps.db, id);
  if (!row) throw policyNotFound(id);
  return row;
}

export async function listPolicies(deps: Deps, filter: { type?: string }): Promise<PolicyRow[]> {
  return store.listPolicies(deps.db, filter);
}

/** A new policy with a new id (an id in the body is ignored, as in Keystone). */
export async function createPolicy(deps: Deps, input: PolicyInput & { blob: string; type: string }): Promise<PolicyRow> {
  const { blob, type, extra } = splitInput(input);
  const row: PolicyRow = { id: newId(), type: type!, blob: blob!, extra };
  await store.insertPolicy(deps.db, row);
  return row;
}

/** Changes a policy's blob, type or extra attributes; its id cannot change. */
export async function updatePolicy(deps: Deps, id: string, input: PolicyInput): Promise<PolicyRow> {
  if (input.id !== undefined && input.id !== id) throw badRequest('Cannot change policy ID');
  const policy = await getPolicy(deps, id);
  const { blob, type, extra } = splitInput(input);
  const changes: Partial<Omit<PolicyRow, 'id'>> = {};
  if (blob !== undefined) changes.blob = blob;
  if (type !== undefined) changes.type = type;
  if (Object.keys(extra).length > 0) changes.extra = { ...policy.extra, ...extra };
  if (Object.keys(changes).length > 0) await store.updatePolicy(deps.db, id, changes);
  return { ...policy, ...changes };
}

export async function deletePolicy(deps: Deps, id: string): Promise<void> {
  if (!(await store.deletePolicy(deps.db, id))) throw policyNotFound(id);
}
