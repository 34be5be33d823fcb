import type { Bus } from '../../lib/bus/bus.ts';
import type { Db } from '../../lib/db/index.ts';
import type { Logger } from '../../lib/log.ts';
import type { InventoryPolicy } from '../placement/resources.ts';
import type { Placement } from '../placement/service.ts';
import type { SelectOptions } from '../select.ts';
import type { SchedulerOptions } from '../state.ts';
import type { InstanceRow } from './store.ts';

/** What every conductor flow works with. */
export interface ConductorContext {
  db: Db;
  bus: Bus;
  placement: Placement;
  options: SchedulerOptions;
  /** Allocation ratios and reservations for the inventories of reported nodes. */
  policy: InventoryPolicy;
  log: Logger;
  /** The machine the conductor runs on (recorded on its action events). */
  host: string;
  /** Names this process in scheduling leases (host:pid:random). */
  owner: string;
  /** scheduler.build_timeout in ms: how long a lease, or a build nobody moves on, lasts before the sweep takes it over. */
  buildTimeoutMs: number;
  /** compute.allow_resize_to_same_host: a resize may pick the instance's own host. */
  allowResizeToSameHost: boolean;
  /** scheduler.move_timeout in ms: how long a resize or migration may sit in one step before the sweep ends it. */
  moveTimeoutMs: number;
  /** Now (the tests move it). */
  now(): Date;
  /** Filters, weighers, randomness for host selection (the defaults unless given). */
  select?: SelectOptions;
  /** A token for the agent to download the instance's image with; none unless given. */
  /** The image service's URL from the catalog (recentImageEndpoint: read at most every few seconds). */
  imageEndpoint(): Promise<string | null>;
  imageToken?: (row: Pick<InstanceRow, 'uuid' | 'user_id' | 'project_id'>) => Promise<string | undefined>;
}

export const ago = (ctx: ConductorContext, ms: number) => new Date(ctx.now().getTime() - ms);
