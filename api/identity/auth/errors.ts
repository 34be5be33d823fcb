import { badRequest, unauthorized } from '../../../lib/errors.ts';

/**
 * The one answer to any bad credential: unknown user or domain, wrong
 * password, disabled or locked user, expired or unknown application
 * credential. Identical whatever was wrong, so that it reveals nothing.
 */
export const authenticationFailed = () => unauthorized();

/** Keystone's ValidationError(attribute, target) for a malformed auth request. */
export const expectingToFind = (attribute: string, target: string) =>
  badRequest(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );

/** Keystone's schema check for "id or name must be present". */
export const idOrNameRequired = (field: string) => badRequest(`Invalid input for field ${field}: id or name must be present.`);
