/**
 * What a Nubo token asserts. A token is a JWT signed by the identity
 * service's current primary key; every API process verifies it locally with
 * the public keys and the revocation list, with no call to identity.
 */
export type TokenScope =
  | { type: 'project'; project_id: string; domain_id: string }
  | { type: 'domain'; domain_id: string }
  | { type: 'system' }
  | { type: 'unscoped' };

export interface TokenRole {
  id: string;
  name: string;
}

export interface TokenClaims {
  user_id: string;
  user_domain_id: string;
  methods: string[];
  scope: TokenScope;
  /** Effective roles (implied roles expanded) on the scope, at issue time. */
  roles: TokenRole[];
  /** [own audit id] or [own, audit id of the token it was made from]. */
  audit_ids: string[];
  issued_at: Date;
  expires_at: Date;
  application_credential_id?: string;
  application_credential_unrestricted?: boolean;
}

/**
 * A revocation: every token that matches all the ids it names and was issued
 * at or before issued_before is invalid from then on.
 */
export interface RevocationMatch {
  audit_id?: string;
  user_id?: string;
  project_id?: string;
  domain_id?: string;
  role_id?: string;
  application_credential_id?: string;
}

export type RevocationEvent = RevocationMatch & { issued_before: Date };

export type NewTokenClaims = Omit<TokenClaims, 'issued_at' | 'audit_ids'> & { parent_audit_id?: string };

export interface TokenService {
  /** Signs a new token with the primary key. */
  issue(claims: NewTokenClaims): Promise<{ token: string; claims: TokenClaims }>;
  /** Verifies signature, expiry and revocation; throws unauthorized() (lib/errors) otherwise. */
  verify(token: string): TokenClaims;
  /** Records a revocation in the database and tells every process over the bus. */
  revoke(event: RevocationEvent): Promise<void>;
  /** Rotates the signing keys as Keystone rotates Fernet keys. */
  rotate(): Promise<void>;
  close(): Promise<void>;
}
