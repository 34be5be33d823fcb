import { randomUUID } from 'node:crypto';

/** A new resource id as OpenStack makes them: 32 lowercase hex characters. */
export const newId = () => randomUUID().replace(/-/g, '');
