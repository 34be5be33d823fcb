import { notFound } from '../../../lib/errors.ts';
import type { TokenClaims } from '../../../lib/tokens/claims.ts';
import { getAppCred } from '../application-credentials/store.ts';
import * as dir from '../assignments/directory-store.ts';
import { listCatalog } from '../catalog/store.ts';
import type { IdentityContext } from '../context.ts';
import { catalogForToken, type CatalogEntry } from './catalog-view.ts';
import type { ResolutionCache } from './resolution-cache.ts';
import { micros as keystoneTime, microsNaive as keystoneNaiveTime } from '../../http/times.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** Keystone's timestamps: microseconds with a Z, and naive ones without. */
export { keystoneTime, keystoneNaiveTime };

export const tokenNotFound = () => notFound('Could not find token.');

/** The parts of a token body that depend only on who and what it is for, not on the token itself. */
export interface TokenSubjectView {
  user: Record<string, unknown>;
  scope: Record<string, unknown>;
  catalog?: unknown;
  application_credential?: Record<string, unknown>;
}

const scopeKey = (s: TokenClaims['scope']) =>
  s.type === 'project' ? `p:${s.project_id}` : s.type === 'domain' ? `d:${s.domain_id}` : s.type;

/**
 * Names of the token's user, project or domain, its application credential,
 * and (when scoped and asked for) the catalog. A token whose user, project or
 * domain is gone or disabled is not found (as Keystone's token model
 * validation).
 */
async function loadSubjectView(deps: Deps, claims: TokenClaims, includeCatalog: boolean): Promise<TokenSubjectView> {
  const user = await dir.findUser(deps.db, claims.user_id);
  const userDomain = user ? await dir.findDomain(deps.db, user.domain_id) : undefined;
  if (!user || !userDomain || !user.enabled || !userDomain.enabled) throw tokenNotFound();
  const view: TokenSubjectView = {
    user: {
      domain: { id: userDomain.id, name: userDomain.name },
      id: user.id,
      name: user.name,
      password_expires_at: user.password_expires_at ? keystoneNaiveTime(user.password_expires_at) : null,
    },
    scope: {},
  };

  const scope = claims.scope;
  if (scope.type === 'system') {
    view.scope = { system: { all: true } };
  } else if (scope.type === 'domain') {
    const domain = await dir.findDomain(deps.db, scope.domain_id);
    if (!domain || !domain.enabled) throw tokenNotFound();
    view.scope = { domain: { id: domain.id, name: domain.name } };
  } else if (scope.type === 'project') {
    const project = await dir.findProject(deps.db, scope.project_id);
    const projectDomain = project ? await dir.findDomain(deps.db, project.domain_id) : undefined;
    if (!project || !projectDomain || !project.enabled || !projectDomain.enabled) throw tokenNotFound();
    view.scope = { project: { domain: { id: projectDomain.id, name: projectDomain.name }, id: project.id, name: project.name }, is_domain: false };
  }

  if (includeCatalog && scope.type !== 'unscoped') {
    const catalog = (await listCatalog(deps.db)) as CatalogEntry[];
    view.catalog = catalogForToken(catalog, {
      user_id: claims.user_id,
      project_id: scope.type === 'project' ? scope.project_id : undefined,
    });
  }

  if (claims.application_credential_id) {
    const appCred = await getAppCred(deps.db, claims.application_credential_id);
    if (!appCred) throw tokenNotFound();
    view.application_credential = { id: appCred.id, name: appCred.name, restricted: !appCred.unrestricted };
    if (appCred.access_rules.length) view.application_credential.access_rules = appCred.access_rules;
  }
  return view;
}

/**
 * The body of a token response (render_token_response_from_model), rebuilt
 * from the token's claims; the subject's part comes from `subjects` when
 * given (memoized until the next identity change).
 */
export async function renderTokenBody(deps: Deps, claims: TokenClaims, includeCatalog: boolean, subjects?: ResolutionCache<TokenSubjectView>) {
  const load = () => loadSubjectView(deps, claims, includeCatalog);
  const key = JSON.stringify([claims.user_id, scopeKey(claims.scope), claims.application_credential_id ?? null, includeCatalog]);
  const view = subjects ? await subjects.get(key, load) : await load();
  const token: Record<string, unknown> = {
    methods: claims.methods,
    user: view.user,
    audit_ids: claims.audit_ids,
    expires_at: keystoneTime(claims.expires_at),
    issued_at: keystoneTime(claims.issued_at),
    ...view.scope,
  };
  if (claims.scope.type !== 'unscoped') token.roles = claims.roles;
  if (view.catalog !== undefined) token.catalog = view.catalog;
  if (view.application_credential) token.application_credential = view.application_credential;
  return { token };
}
