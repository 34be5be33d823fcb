#!/usr/bin/env node
// The `nubo` command. Nubo is written in TypeScript and run through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
