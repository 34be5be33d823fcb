/**
 * Every configuration option Nubo reads, with its default and meaning. This is
 * the one place options are documented: `nubo config show` prints the
 * effective values from it and the README's configuration table follows it.
 *
 * An option `a.b_c` is set in the YAML file as `a: { b_c: … }` and in the
 * environment as `NUBO_A_B_C`.
 */
export type OptionType = 'string' | 'integer' | 'float' | 'boolean' | 'enum';

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
  'image.direct_io': { type: 'boolean', default: true, doc: 'Write uploaded image data with direct I/O (O_DIRECT), past the page cache, where the store\'s filesystem allows it: it saves the CPU of copying every byte into the cache. false writes through the page cache.' },
  'image.hashing_algorithm': { type: 'enum', default: 'sha512', values: ['sha512', 'sha384', 'sha256'], doc: 'Multihash of image data (os_hash_algo, os_hash_value), as Glance\'s hashing_algorithm; checksum stays md5. sha256 costs about half of sha512\'s CPU on CPUs with SHA extensions.' },
  'image.upload_stale_seconds': { type: 'integer', default: 60, min: 5, doc: 'An upload whose writer has not been heard from for this long is abandoned: the image goes back to queued and its partial data is removed.' },
  'scheduler.ram_weight_multiplier': { type: 'float', default: 1.0, doc: 'Weight of free RAM in host selection: positive spreads instances across hosts, negative stacks them.' },
  'scheduler.cpu_weight_multiplier': { type: 'float', default: 1.0, doc: 'Weight of free vCPUs in host selection: positive spreads instances across hosts, negative stacks them.' },
  'scheduler.soft_affinity_weight_multiplier': { type: 'float', default: 1.0, min: 0, doc: 'Weight of a soft-affinity server group: how strongly hosts already running group members are preferred.' },
  'scheduler.soft_anti_affinity_weight_multiplier': { type: 'float', default: 1.0, min: 0, doc: 'Weight of a soft-anti-affinity server group: how strongly hosts running fewer group members are preferred.' },
  'scheduler.max_attempts': { type: 'integer', default: 3, min: 1, doc: 'Hosts tried per instance: the chosen one plus max_attempts − 1 alternates for reschedules after a failed build.' },
  'scheduler.host_subset_size': { type: 'integer', default: 1, min: 1, doc: 'The host is picked at random among this many best-weighed hosts (1 takes the best), to spread concurrent schedulers.' },
  'scheduler.service_down_time': { type: 'integer', default: 60, min: 1, doc: 'Seconds without a heartbeat after which a compute service counts as down and gets no new instances.' },
  'scheduler.build_timeout': { type: 'integer', default: 120, min: 1, doc: 'Seconds a build may wait for a host, or for its host to start it, before the conductor\'s sweep schedules it again (or sets it to error); also how long a conductor\'s claim on an instance being scheduled lasts if that conductor dies, and how long the sweep waits before asking a move\'s source again to drop the disks it kept.' },
  'scheduler.move_timeout': { type: 'integer', default: 3600, min: 1, doc: 'Seconds a resize or cold migration may stay in one step (waiting for a host, moving disks) before the conductor\'s sweep ends it: back as it was if nothing moved yet, else in error; its resource claims are settled either way.' },
  'scheduler.sweep_interval': { type: 'integer', default: 30, min: 0, doc: 'Seconds between the conductor\'s sweeps for stuck builds, builds on hosts that went down, leaked resource claims, and disks kept by moves that ended without confirm or revert; 0 disables them.' },
  'compute.cpu_allocation_ratio': { type: 'float', default: 16.0, min: 0, doc: 'vCPUs a host offers per physical CPU (overcommit), set on its VCPU inventory.' },
  'compute.ram_allocation_ratio': { type: 'float', default: 1.5, min: 0, doc: 'MB of instance memory a host offers per MB of RAM (overcommit), set on its MEMORY_MB inventory.' },
  'compute.disk_allocation_ratio': { type: 'float', default: 1.0, min: 0, doc: 'GB of instance disk a host offers per GB of local disk, set on its DISK_GB inventory.' },
  'compute.reserved_host_cpus': { type: 'integer', default: 0, min: 0, doc: 'Host CPUs kept back from instances (reserved in the VCPU inventory).' },
  'compute.reserved_host_memory_mb': { type: 'integer', default: 512, min: 0, doc: 'MB of host memory kept back from instances (reserved in the MEMORY_MB inventory).' },
  'compute.reserved_host_disk_mb': { type: 'integer', default: 0, min: 0, doc: 'MB of host disk kept back from instances (reserved in the DISK_GB inventory, rounded up to GB).' },
  'compute.port': { type: 'integer', default: 8774, min: 0, max: 65535, doc: 'Nova v2.1 port.' },
  'compute.default_image': { type: 'string', default: '', doc: 'A qcow2 file the all-in-one registers once as a public image of the admin project (as DevStack registers CirrOS); empty registers none. `npm start` sets it to the test guest it builds.' },
  'compute.default_image_name': { type: 'string', default: 'nubo-guest', doc: 'Name of the image registered from compute.default_image; a start finding an image of that name in the admin project registers nothing.' },
  'compute.default_flavors': { type: 'boolean', default: true, doc: 'The all-in-one creates flavors m1.nano (id 42) and m1.tiny … m1.xlarge (ids 1–5) when it starts with no flavor at all (Nova itself has none).' },
  'compute.max_limit': { type: 'integer', default: 1000, min: 1, doc: 'Most items one page of a Nova list returns, whatever `limit` asks (Nova\'s [api] max_limit).' },
  'compute.quota.instances': { type: 'integer', default: 10, min: -1, doc: 'Default quota: servers per project; -1 is unlimited.' },
  'compute.quota.cores': { type: 'integer', default: 20, min: -1, doc: 'Default quota: vCPUs of all servers of a project; -1 is unlimited.' },
  'compute.quota.ram': { type: 'integer', default: 51200, min: -1, doc: 'Default quota: MB of RAM of all servers of a project; -1 is unlimited.' },
  'compute.quota.metadata_items': { type: 'integer', default: 128, min: -1, doc: 'Default quota: metadata items per server; -1 is unlimited.' },
  'compute.quota.injected_files': { type: 'integer', default: 5, min: -1, doc: 'Default quota: injected (personality) files per server; -1 is unlimited.' },
  'compute.quota.injected_file_content_bytes': { type: 'integer', default: 10240, min: -1, doc: 'Default quota: bytes per injected file; -1 is unlimited.' },
  'compute.quota.injected_file_path_length': { type: 'integer', default: 255, min: -1, doc: 'Default quota: characters of an injected file\'s path (the injected_file_path_bytes quota); -1 is unlimited.' },
  'compute.quota.key_pairs': { type: 'integer', default: 100, min: -1, doc: 'Default quota: key pairs per user; -1 is unlimited.' },
  'compute.quota.server_groups': { type: 'integer', default: 10, min: -1, doc: 'Default quota: server groups per project; -1 is unlimited.' },
  'compute.quota.server_group_members': { type: 'integer', default: 10, min: -1, doc: 'Default quota: servers per server group; -1 is unlimited.' },
  'compute.host': { type: 'string', default: '', doc: 'Host name this compute agent serves as (it consumes topic compute.<host>); empty uses the machine\'s host name.' },
  'compute.driver': {
    type: 'enum',
    default: 'auto',
    values: ['auto', 'fake', 'qemu'],
    doc: 'Compute driver of the agent: qemu (real guests, KVM or TCG), fake (in memory, for tests and scale runs: no guest runs), or auto: qemu when qemu-system-x86_64, qemu-img and genisoimage are on PATH and QEMU runs, else fake (said loudly at start, and hypervisor_type fake).',
  },
  'compute.report_interval': { type: 'integer', default: 10, min: 1, doc: 'Seconds between a compute agent\'s heartbeats (service_update) to the conductor.' },
  'compute.sync_power_state_interval': { type: 'integer', default: 60, min: -1, doc: 'Seconds between a compute agent\'s syncs of instance power states with the hypervisor; 0 or less disables them.' },
  'compute.allow_resize_to_same_host': { type: 'boolean', default: true, doc: 'A resize may keep the server on its own host (the new flavor claimed beside the old until the resize is confirmed or reverted), as Nova\'s allow_resize_to_same_host; cold migrations always move.' },
  'compute.shutdown_timeout': { type: 'integer', default: 60, min: 0, doc: 'Seconds a clean stop waits for the guest to shut down before powering it off.' },
  'compute.qemu.state_dir': { type: 'string', default: '', doc: 'Qemu driver: directory of the instance directories (disks, config drive, console log, QMP socket), the image cache (_base) and the old disks a resize keeps until it is confirmed or reverted (<uuid>_resize); empty uses <data_dir>/instances.' },
  'compute.qemu.accel': { type: 'enum', default: 'auto', values: ['auto', 'kvm', 'tcg'], doc: 'Qemu driver: accelerator of the guests. auto boots a probe guest under KVM at start and falls back to TCG (emulation) when KVM does not really run it; the answer is kept in <state_dir>/accel-probe.json until QEMU, the host kernel or /dev/kvm change.' },
  'compute.qemu.soft_reboot_seconds': { type: 'integer', default: 120, min: 1, doc: 'Qemu driver: seconds a soft reboot waits for the guest to power off (ACPI) before rebooting it hard.' },
  'compute.console_port': { type: 'integer', default: 6080, min: 0, max: 65535, doc: 'Port of the console proxy the API serves (noVNC page and WebSocket for vnc and serial consoles; Nova\'s novncproxy 6080).' },
  'compute.console_base_url': { type: 'string', default: '', doc: 'Base URL of the console proxy in the console URLs the API hands out; empty: http://<api.public_host>:<compute.console_port>.' },
  'compute.console_allowed_origins': { type: 'string', default: '', doc: 'Comma-separated host names besides the proxy\'s own from which a browser page may open a console WebSocket (its Origin header; Nova\'s [console] allowed_origins).' },
  'compute.console_token_ttl': { type: 'integer', default: 600, min: 1, doc: 'Seconds a remote console\'s one-time token stays valid (Nova\'s [consoleauth] token_ttl).' },
  'compute.console_listen': { type: 'string', default: '127.0.0.1', doc: 'Address the compute agent\'s console listener listens on; the console proxy connects to it.' },
  'compute.console_listen_port': { type: 'integer', default: 0, min: 0, max: 65535, doc: 'Port of the compute agent\'s console listener; 0 picks a free one (get_console_target tells the proxy).' },
  'compute.console_proxyclient_address': { type: 'string', default: '', doc: 'Address the console proxy connects to for this compute agent\'s consoles; empty: compute.console_listen.' },
  'compute.fake.spawn_ms': { type: 'integer', default: 0, min: 0, doc: 'Fake driver: milliseconds each spawn takes (instance metadata fake_spawn_ms overrides it).' },
  'compute.fake.fail_rate': { type: 'float', default: 0, min: 0, max: 1, doc: 'Fake driver: chance (0–1) that a spawn fails. Instance metadata fake_fail: spawn (or reboot, power_off…) fails one instance for sure.' },
  'compute.fake.vcpus': { type: 'integer', default: 32, min: 1, doc: 'Fake driver: vCPUs the host reports.' },
  'compute.fake.memory_mb': { type: 'integer', default: 131072, min: 1, doc: 'Fake driver: MB of memory the host reports.' },
  'compute.fake.local_gb': { type: 'integer', default: 1024, min: 1, doc: 'Fake driver: GB of local disk the host reports.' },
  policy_file: { type: 'string', default: '', doc: 'YAML file of policy rules overriding the defaults (oslo.policy syntax).' },
  clouds_yaml: { type: 'string', default: '~/.config/openstack/clouds.yaml', doc: 'Where the all-in-one writes the `nubo` cloud entry (merged into an existing file); empty disables.' },
  'log.level': { type: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], doc: 'Log level.' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof options;
