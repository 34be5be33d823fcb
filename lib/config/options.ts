/**
 * Every configuration option Nubo reads, with its default and meaning. This is
 * the one place options are documented: `nubo config show` prints the
 * effective values from it and the README's configuration table follows it.
 *
 * An option `a.b_c` is set in the YAML file as `a: { b_c: … }` and in the
 * environment as `NUBO_A_B_C`.
 */
export type OptionType = 'string' | 'integer' | 'boolean' | 'enum';

export interface OptionSpec {
  type: OptionType;
  default: string | number | boolean;
  doc: string;
  secret?: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
}

export const options = {
  data_dir: { type: 'string', default: './data', doc: 'Directory for the embedded database, keys, generated credentials and clouds.yaml.' },
  'database.url': {
    type: 'string', default: '', secret: true,
    doc: 'postgres://user:pass@host:5432/db selects PostgreSQL; empty uses the embedded PGlite database in <data_dir>/pglite.',
  },
  'database.pool_max': { type: 'integer', default: 10, min: 1, max: 1000, doc: 'Maximum PostgreSQL connections per process.' },
  'bus.url': {
    type: 'string', default: '', secret: true,
    doc: 'amqp://user:pass@host:5672/vhost selects RabbitMQ; empty uses the in-process bus (all-in-one only).',
  },
  'bus.call_timeout_ms': { type: 'integer', default: 30000, min: 100, doc: 'Default time a bus call waits for its reply.' },
  'api.host': { type: 'string', default: '127.0.0.1', doc: 'Address the API services listen on.' },
  'api.public_host': { type: 'string', default: '', doc: 'Host name put in the service catalog; empty uses api.host.' },
  'api.max_body_bytes': { type: 'integer', default: 114688, min: 1024, doc: 'Largest JSON request body accepted (413 above it), as Keystone\'s max_request_body_size.' },
  'identity.port': { type: 'integer', default: 5000, min: 0, max: 65535, doc: 'Keystone v3 port.' },
  'identity.region': { type: 'string', default: 'RegionOne', doc: 'Region registered by bootstrap.' },
  'identity.token_expiration': { type: 'integer', default: 3600, min: 60, doc: 'Token lifetime in seconds.' },
  'identity.max_active_keys': { type: 'integer', default: 3, min: 2, max: 100, doc: 'Signing keys kept by `nubo tokens rotate` (staged + primary + secondaries), as Keystone\'s fernet max_active_keys.' },
  'identity.password_hash_cost': { type: 'integer', default: 15, min: 10, max: 20, doc: 'scrypt cost: log2 of N (memory 128·N·8 bytes). Raising it slows brute force and logins alike.' },
  'identity.lockout_failure_attempts': { type: 'integer', default: 10, min: 0, doc: 'Failed password logins before a user is locked out; 0 disables lockout.' },
  'identity.lockout_duration': { type: 'integer', default: 300, min: 1, doc: 'Seconds a locked-out user stays locked.' },
  'identity.revocation_poll_ms': { type: 'integer', default: 5000, min: 100, doc: 'How often each API process re-reads revocations from the database, as a backstop to bus events.' },
  'identity.admin_project': { type: 'string', default: 'admin', doc: 'Project created by bootstrap.' },
  'identity.admin_user': { type: 'string', default: 'admin', doc: 'User created by bootstrap.' },
  'identity.admin_password': { type: 'string', default: '', secret: true, doc: 'Admin password set by bootstrap; empty generates one into <data_dir>/admin-password (mode 0600).' },
  'image.port': { type: 'integer', default: 9292, min: 0, max: 65535, doc: 'Glance v2 port.' },
  'image.store_dir': { type: 'string', default: '', doc: 'Directory of the filesystem image store; empty uses <data_dir>/images.' },
  'image.image_count_total': { type: 'integer', default: 100, min: -1, doc: 'Images a project may have, unless a Keystone limit (service image) says otherwise; -1 is unlimited.' },
  'image.image_size_total': { type: 'integer', default: 1048576, min: -1, doc: 'MiB of image data a project may store, unless a Keystone limit says otherwise; -1 is unlimited.' },
  'image.image_stage_total': { type: 'integer', default: 1048576, min: -1, doc: 'MiB of staged (not yet imported) data a project may hold, unless a Keystone limit says otherwise; -1 is unlimited.' },
  'image.image_count_uploading': { type: 'integer', default: 10, min: -1, doc: 'Uploads and imports a project may have in progress at once, unless a Keystone limit says otherwise; -1 is unlimited.' },
  'image.image_member_quota': { type: 'integer', default: 128, min: -1, doc: 'Projects an image may be shared with (Glance\'s image_member_quota); -1 is unlimited.' },
  'image.upload_stale_seconds': { type: 'integer', default: 60, min: 5, doc: 'An upload whose writer has not been heard from for this long is abandoned: the image goes back to queued and its partial data is removed.' },
  policy_file: { type: 'string', default: '', doc: 'YAML file of policy rules overriding the defaults (oslo.policy syntax).' },
  clouds_yaml: { type: 'string', default: '~/.config/openstack/clouds.yaml', doc: 'Where the all-in-one writes the `nubo` cloud entry (merged into an existing file); empty disables.' },
  'log.level': { type: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], doc: 'Log level.' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof options;
