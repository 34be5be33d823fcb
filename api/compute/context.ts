import type { Bus } from '../../lib/bus/bus.ts';
import type { Config } from '../../lib/config/index.ts';
import type { Db } from '../../lib/db/index.ts';
import type { Logger } from '../../lib/log.ts';
import type { Enforcer } from '../../lib/policy/enforcer.ts';
import type { TokenService } from '../../lib/tokens/claims.ts';
import type { BodyValidator } from '../http/validation.ts';

/** What the compute API's routes and services are given. */
export interface ComputeContext {
  db: Db;
  bus: Bus;
  tokens: TokenService;
  policy: Enforcer;
  config: Config;
  logger: Logger;
  validate: BodyValidator;
}
