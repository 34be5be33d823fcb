import type { Command } from './command.ts';
import { allInOne } from './all-in-one.ts';
import { api } from './api.ts';
import { bootstrap } from './bootstrap.ts';
import { configShow } from './config-show.ts';
import { dbMigrate } from './db-migrate.ts';
import { tokensRotate } from './tokens-rotate.ts';
import { scheduler } from './scheduler.ts';
import { compute } from './compute.ts';

export const commands: Command[] = [allInOne, api, scheduler, compute, bootstrap, dbMigrate, tokensRotate, configShow];
