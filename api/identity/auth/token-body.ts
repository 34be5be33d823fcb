import { notFound } from '../../../lib/errors.ts';
import type { TokenClaims } from '../../../lib/tokens/claims.ts';
import { getAppCred } from '../application-credentials/store.ts';
import * as dir from '../assignments/directory-store.ts';
import { listCatalog } from '../catalog/store.ts';
import type { IdentityContext } from '../context.ts';
import { catalogForToken, type CatalogEntry } from './catalog-view.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** Keystone's timestamps: ISO 8601, microseconds, Z ('2026-11-25T05:49:00.000000Z'). */
export const keystoneTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** A datetime as Keystone's JSON prints a naive UTC one ('2026-11-25T05:49:00.000000'). */
export const keystoneNaiveTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000');

export const tokenNotFound = () => notFound('Could not find token.');

/**
 * The body of a token response (render_token_response_from_model), rebuilt
 * from the token's claims: names of its user, project or domain, its
 * application credential, and (when scoped and asked for) the catalog. A
 * token whose user, project or domain is gone or disabled is not found
 * (as Keystone's token model validation).
 */
export async function renderTokenBody(deps: Deps, claims: TokenClaims, includeCatalog: boolean) {
  const user = await dir.findUser(deps.db, claims.user_id);
  const userDomain = user ? await dir.findDomain(deps.db, user.domain_id) : undefined;
  if (!user || !userDomain || !user.enabled || !userDomain.enabled) throw tokenNotFound();

  const token: Record<string, unknown> = {
    methods: claims.methods,
    user: {
      domain: { id: userDomain.id, name: userDomain.name },
      id: user.id,
      name: user.name,
      password_expires_at: user.password_expires_at ? keystoneNaiveTime(user.password_expires_at) : null,
    },
    audit_ids: claims.audit_ids,
    expires_at: keystoneTime(claims.expires_at),
    issued_at: keystoneTime(claims.issued_at),
  };

  const scope = claims.scope;
  if (scope.type === 'system') {
    token.roles = claims.roles;
    token.system = { all: true };
  } else if (scope.type === 'domain') {
    const domain = await dir.findDomain(deps.db, scope.domain_id);
    if (!domain || !domain.enabled) throw tokenNotFound();
    token.domain = { id: domain.id, name: domain.name };
    token.roles = claims.roles;
  } else if (scope.type === 'project') {
    const project = await dir.findProject(deps.db, scope.project_id);
    const projectDomain = project ? await dir.findDomain(deps.db, project.domain_id) : undefined;
    if (!project || !projectDomain || !project.enabled || !projectDomain.enabled) throw tokenNotFound();
    token.project = { domain: { id: projectDomain.id, name: projectDomain.name }, id: project.id, name: project.name };
    token.is_domain = false;
    token.roles = claims.roles;
  }

  if (includeCatalog && scope.type !== 'unscoped') {
    const catalog = (await listCatalog(deps.db)) as CatalogEntry[];
    token.catalog = catalogForToken(catalog, {
      user_id: claims.user_id,
      project_id: scope.type === 'project' ? scope.project_id : undefined,
    });
  }

  if (claims.application_credential_id) {
    const appCred = await getAppCred(deps.db, claims.application_credential_id);
    if (!appCred) throw tokenNotFound();
    token.application_credential = { id: appCred.id, name: appCred.name, restricted: !appCred.unrestricted };
    if (appCred.access_rules.length) (token.application_credential as Record<string, unknown>).access_rules = appCred.access_rules;
  }
  return { token };
}
