import type { components } from '../../../spec/compute.d.ts';
import type { KeypairRow } from './store.ts';
import { microsNaive as novaTime } from '../../http/times.ts';

export type Keypair = components['schemas']['Keypair'];

/** Nova's timestamps: ISO 8601 with microseconds and no zone (UTC). */
export { novaTime };

/** The created keypair (with the private key of a generated one); `type` from 2.2. */
export function createdKeypairView(kp: KeypairRow, privateKey: string | undefined, withType: boolean): Keypair {
  return {
    name: kp.name,
    public_key: kp.public_key,
    fingerprint: kp.fingerprint,
    user_id: kp.user_id,
    ...(privateKey !== undefined ? { private_key: privateKey } : {}),
    ...(withType ? { type: kp.type } : {}),
  };
}

/** GET /os-keypairs/{name}: with Nova's id and (never set) deletion fields. */
export function keypairView(kp: KeypairRow, withType: boolean): Keypair {
  return {
    name: kp.name,
    public_key: kp.public_key,
    fingerprint: kp.fingerprint,
    user_id: kp.user_id,
    created_at: novaTime(kp.created_at),
    updated_at: kp.updated_at ? novaTime(kp.updated_at) : null,
    deleted: false,
    deleted_at: null,
    id: kp.id,
    ...(withType ? { type: kp.type } : {}),
  };
}

/** A list entry: name, public key, fingerprint (and type from 2.2). */
export function keypairListEntry(kp: KeypairRow, withType: boolean) {
  return { keypair: { name: kp.name, public_key: kp.public_key, fingerprint: kp.fingerprint, ...(withType ? { type: kp.type } : {}) } };
}
