#!/usr/bin/env node
// The `nubo` command from the TypeScript sources, run through tsx (what the
// tests and development use). `npm start` runs the compiled tree instead
// (bin/build.js → .build/bin/main.js): the same code without a compiler
// loaded in the process.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
