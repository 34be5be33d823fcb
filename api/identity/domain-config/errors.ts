import { forbidden, notFound } from '../../../lib/errors.ts';

/** Keystone's InvalidDomainConfig, a 403. */
export const invalidDomainConfig = (reason: string) =>
  forbidden(`Invalid domain specific configuration: ${reason.replace(/\.$/, '')}.`);

/** Keystone's DomainConfigNotFound: nothing stored for the domain (group / option). */
export function domainConfigNotFound(domainId: string, group?: string, option?: string) {
  const what = option !== undefined ? `option ${option} in group ${group}` : group !== undefined ? `group ${group}` : 'any options';
  return notFound(`Could not find ${what} in domain configuration for domain ${domainId}.`);
}
