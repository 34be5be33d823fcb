import { DEFAULT_DOMAIN_ID } from '../domains/default-domain.ts';
import { invalidDomainConfig } from './errors.ts';

/** The group any token may read through the domain config API, for the default domain only. */
export const SECURITY_COMPLIANCE = 'security_compliance';

const readable = ['password_regex', 'password_regex_description'] as const;

/**
 * The password rules Keystone lets anyone read (to tell users what a
 * password must look like). Nubo has no password regex, so both are null.
 */
export function getSecurityComplianceConfig(domainId: string, option?: string): Record<string, unknown> {
  if (domainId !== DEFAULT_DOMAIN_ID) {
    throw invalidDomainConfig(
      'Reading security compliance information for any domain other than the default domain is not allowed or supported.',
    );
  }
  const values: Record<(typeof readable)[number], string | null> = { password_regex: null, password_regex_description: null };
  if (option === undefined) return { [SECURITY_COMPLIANCE]: values };
  if (!(readable as readonly string[]).includes(option)) {
    throw invalidDomainConfig('Reading security compliance values other than password_regex and password_regex_description is not allowed.');
  }
  return { [option]: values[option as (typeof readable)[number]] };
}
