import { forbidden, notFound } from '../../../lib/errors.ts';
import type { IdentityContext } from '../context.ts';
import * as implied from './implied-store.ts';
import { getRole } from './service.ts';
import * as store from './store.ts';
import type { RoleRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens'>;

/** Roles that no rule may imply (Keystone's [assignment] prohibited_implied_role). */
export const PROHIBITED_IMPLIED_ROLES: readonly string[] = ['admin'];

export interface RoleInference {
  prior: RoleRow;
  implies: RoleRow;
}

const ruleNotFound = (prior: string, implied: string) =>
  notFound(`${prior} does not imply ${implied}.`);

/** Adds "holding `priorId` implies `impliedId`". */
export async function createImpliedRole(deps: Deps, priorId: string, impliedId: string): Promise<RoleInference> {
  const prior = await getRole(deps, priorId);
  const implies = await getRole(deps, impliedId);
  if (PROHIBITED_IMPLIED_ROLES.includes(implies.name)) throw forbidden(`${impliedId} cannot be an implied roles.`);
  if (!prior.domain_id && implies.domain_id) throw forbidden('Global role cannot imply a domain-specific role');
  await implied.insertImpliedRole(deps.db, priorId, impliedId);
  return { prior, implies };
}

/** The rule, or 404 when either role or the rule is missing. */
export async function getImpliedRole(deps: Deps, priorId: string, impliedId: string): Promise<RoleInference> {
  const prior = await getRole(deps, priorId);
  const implies = await getRole(deps, impliedId);
  if (!(await implied.impliedRoleExists(deps.db, priorId, impliedId))) throw ruleNotFound(priorId, impliedId);
  return { prior, implies };
}

/** The roles `priorId` implies directly. */
export async function listImpliedRoles(deps: Deps, priorId: string): Promise<{ prior: RoleRow; implies: RoleRow[] }> {
  const prior = await getRole(deps, priorId);
  const rules = await implied.listImpliedRoles(deps.db, priorId);
  const roles = await store.getRoles(deps.db, rules.map((r) => r.implied_role_id));
  return { prior, implies: sortLike(rules.map((r) => r.implied_role_id), roles) };
}

/** Every rule, grouped by prior role. */
export async function listRoleInferences(deps: Deps): Promise<{ prior: RoleRow; implies: RoleRow[] }[]> {
  const rules = await implied.listAllImpliedRoles(deps.db);
  const roles = new Map(
    (await store.getRoles(deps.db, rules.flatMap((r) => [r.prior_role_id, r.implied_role_id]))).map((r) => [r.id, r]),
  );
  const byPrior = new Map<string, RoleRow[]>();
  for (const rule of rules) {
    const role = roles.get(rule.implied_role_id);
    if (!role || !roles.has(rule.prior_role_id)) continue;
    const list = byPrior.get(rule.prior_role_id) ?? [];
    list.push(role);
    byPrior.set(rule.prior_role_id, list);
  }
  return [...byPrior].map(([priorId, implies]) => ({ prior: roles.get(priorId)!, implies }));
}

/** Removes a rule; tokens that carried the prior role (and so the implied one) are revoked. */
export async function deleteImpliedRole(deps: Deps, priorId: string, impliedId: string): Promise<void> {
  await getRole(deps, priorId);
  await getRole(deps, impliedId);
  if (!(await implied.deleteImpliedRole(deps.db, priorId, impliedId))) throw ruleNotFound(priorId, impliedId);
  await deps.tokens.revoke({ role_id: priorId, issued_before: new Date() });
}

function sortLike(ids: string[], rows: RoleRow[]): RoleRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((r): r is RoleRow => r !== undefined);
}
