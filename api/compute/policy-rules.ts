/**
 * Nova's default policy rules as of Nova 26 (Zed) for the APIs Nubo serves
 * (nova/policies/{base,flavor_manage,flavor_access,flavor_extra_specs,
 * keypairs,limits,quota_sets,quota_class_sets,server_groups,services,aggregates,
 * hypervisors,hosts,availability_zone,simple_tenant_usage,servers,server_metadata,
 * server_tags,instance_actions,lock_server,pause_server,suspend_server,
 * admin_actions,console_output,deferred_delete,extended_server_attributes,
 * ips,create_backup,server_password,server_external_events,
 * instance_usage_audit_log}.py), in oslo.policy syntax and
 * under Nova's rule names (os_compute_api:…), so an operator's Nova policy
 * file applies unchanged.
 *
 * Zed's rules are the new project-scoped defaults, each with the deprecated
 * rule it replaced; with oslo.policy's defaults (enforce_new_defaults =
 * False) a deprecated rule is OR'd with its new rule, as
 * api/identity/policy-rules.ts explains. Two adaptations, neither changing
 * what the rules allow:
 * - Nova's deprecated rules test `is_admin:True`, a credential Nova sets from
 *   `context_is_admin`; here they say `rule:context_is_admin` directly.
 * - Nova's `admin_or_owner` (`is_admin:True or project_id:%(project_id)s`)
 *   shares its name with Keystone's, which means something else; the one
 *   compute rule that refers to it (os-flavor-access's deprecated rule) has
 *   it written out, and the name stays Keystone's.
 *
 * Targets are Nova's: a rule checked without one sees the caller's own
 * `project_id` and `user_id` (nova/context.py `can`), keypair rules the
 * keypair's `user_id`, quota rules the `project_id` asked about.
 */
import { combinedDefaults, newDefaults, type RuleEntry } from '../../lib/policy/defaults.ts';


// nova/policies/base.py
const ADMIN = 'rule:context_is_admin';
const DEPRECATED_ADMIN = 'rule:context_is_admin';
const DEPRECATED_ADMIN_OR_OWNER = 'rule:context_is_admin or project_id:%(project_id)s';
const PROJECT_READER_OR_ADMIN = 'rule:project_reader_or_admin';
const PROJECT_MEMBER_OR_ADMIN = 'rule:project_member_or_admin';
/** The deprecated rule of os-services and os-hypervisors (their old `os_compute_api:os-services` / `:os-hypervisors` = admin_api). */
const DEPRECATED_ADMIN_API = 'rule:admin_api';
const ANY = '@';

const base: Record<string, RuleEntry> = {
  context_is_admin: ['role:admin'],
  admin_api: [DEPRECATED_ADMIN],
  project_member_api: ['role:member and project_id:%(project_id)s', DEPRECATED_ADMIN_OR_OWNER],
  project_reader_api: ['role:reader and project_id:%(project_id)s', DEPRECATED_ADMIN_OR_OWNER],
  project_member_or_admin: ['rule:project_member_api or rule:context_is_admin', DEPRECATED_ADMIN_OR_OWNER],
  project_reader_or_admin: ['rule:project_reader_api or rule:context_is_admin', DEPRECATED_ADMIN_OR_OWNER],
};

// nova/policies/flavor_manage.py
const flavorManage: Record<string, RuleEntry> = {
  'os_compute_api:os-flavor-manage:create': [ADMIN],
  'os_compute_api:os-flavor-manage:update': [ADMIN],
  'os_compute_api:os-flavor-manage:delete': [ADMIN],
};

// nova/policies/flavor_access.py: listing a flavor's projects keeps its old
// admin-or-owner rule, which any caller passes (its target is the caller's project).
const flavorAccess: Record<string, RuleEntry> = {
  'os_compute_api:os-flavor-access:add_tenant_access': [ADMIN],
  'os_compute_api:os-flavor-access:remove_tenant_access': [ADMIN],
  'os_compute_api:os-flavor-access': [ADMIN, DEPRECATED_ADMIN_OR_OWNER],
};

// nova/policies/flavor_extra_specs.py (index also decides whether ≥ 2.61 flavor bodies show extra_specs)
const flavorExtraSpecs: Record<string, RuleEntry> = {
  'os_compute_api:os-flavor-extra-specs:show': [PROJECT_READER_OR_ADMIN],
  'os_compute_api:os-flavor-extra-specs:index': [PROJECT_READER_OR_ADMIN],
  'os_compute_api:os-flavor-extra-specs:create': [ADMIN],
  'os_compute_api:os-flavor-extra-specs:update': [ADMIN],
  'os_compute_api:os-flavor-extra-specs:delete': [ADMIN],
};

// nova/policies/keypairs.py: a user's own keys, or any user's for an admin (≥ 2.10 user_id)
const KEYPAIR_OWNER = `(${ADMIN}) or user_id:%(user_id)s`;
const keypairs: Record<string, RuleEntry> = {
  'os_compute_api:os-keypairs:index': [KEYPAIR_OWNER],
  'os_compute_api:os-keypairs:create': [KEYPAIR_OWNER],
  'os_compute_api:os-keypairs:delete': [KEYPAIR_OWNER],
  'os_compute_api:os-keypairs:show': [KEYPAIR_OWNER],
};

// nova/policies/limits.py (other_project's deprecated rule was os-used-limits = admin_api)
const limits: Record<string, RuleEntry> = {
  'os_compute_api:limits': [ANY],
  'os_compute_api:limits:other_project': [ADMIN, 'rule:admin_api'],
};

// nova/policies/quota_sets.py and quota_class_sets.py
const quotas: Record<string, RuleEntry> = {
  'os_compute_api:os-quota-sets:update': [ADMIN],
  'os_compute_api:os-quota-sets:defaults': [ANY],
  'os_compute_api:os-quota-sets:show': [PROJECT_READER_OR_ADMIN],
  'os_compute_api:os-quota-sets:delete': [ADMIN],
  'os_compute_api:os-quota-sets:detail': [PROJECT_READER_OR_ADMIN],
  'os_compute_api:os-quota-class-sets:show': [ADMIN],
  'os_compute_api:os-quota-class-sets:update': [ADMIN],
};

// nova/policies/server_groups.py (index:all_projects is checked only for admins asking all_projects)
const serverGroups: Record<string, RuleEntry> = {
  'os_compute_api:os-server-groups:create': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-server-groups:delete': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-server-groups:index': [PROJECT_READER_OR_ADMIN],
  'os_compute_api:os-server-groups:index:all_projects': [ADMIN],
  'os_compute_api:os-server-groups:show': [PROJECT_READER_OR_ADMIN],
};

// nova/policies/services.py and hypervisors.py
const services: Record<string, RuleEntry> = {
  'os_compute_api:os-services:list': [ADMIN, DEPRECATED_ADMIN_API],
  'os_compute_api:os-services:update': [ADMIN, DEPRECATED_ADMIN_API],
  'os_compute_api:os-services:delete': [ADMIN, DEPRECATED_ADMIN_API],
};
// nova/policies/aggregates.py: every action admin only.
const aggregates: Record<string, RuleEntry> = Object.fromEntries(
  ['index', 'create', 'show', 'update', 'delete', 'add_host', 'remove_host', 'set_metadata'].map((a) => [`os_compute_api:os-aggregates:${a}`, [ADMIN, DEPRECATED_ADMIN_API]]),
);
const hypervisors: Record<string, RuleEntry> = Object.fromEntries(
  ['list', 'list-detail', 'statistics', 'show', 'uptime', 'search', 'servers'].map((a) => [`os_compute_api:os-hypervisors:${a}`, [ADMIN, DEPRECATED_ADMIN_API]]),
);
// nova/policies/hosts.py (os-hosts, deprecated)
const hosts: Record<string, RuleEntry> = Object.fromEntries(
  ['list', 'show', 'update', 'reboot', 'shutdown', 'start'].map((a) => [`os_compute_api:os-hosts:${a}`, [ADMIN, DEPRECATED_ADMIN_API]]),
);

// nova/policies/server_password.py and server_external_events.py
const serverPassword: Record<string, RuleEntry> = {
  'os_compute_api:os-server-password:show': [PROJECT_READER_OR_ADMIN, DEPRECATED_ADMIN_OR_OWNER],
  'os_compute_api:os-server-password:clear': [PROJECT_MEMBER_OR_ADMIN, DEPRECATED_ADMIN_OR_OWNER],
};
const serverExternalEvents: Record<string, RuleEntry> = {
  'os_compute_api:os-server-external-events:create': [ADMIN, DEPRECATED_ADMIN_API],
};
// nova/policies/instance_usage_audit_log.py
const instanceUsageAuditLog: Record<string, RuleEntry> = {
  'os_compute_api:os-instance-usage-audit-log:list': [ADMIN, DEPRECATED_ADMIN_API],
  'os_compute_api:os-instance-usage-audit-log:show': [ADMIN, DEPRECATED_ADMIN_API],
};

// nova/policies/availability_zone.py and simple_tenant_usage.py
const availabilityZones: Record<string, RuleEntry> = {
  'os_compute_api:os-availability-zone:list': [ANY],
  'os_compute_api:os-availability-zone:detail': [ADMIN],
};
const simpleTenantUsage: Record<string, RuleEntry> = {
  'os_compute_api:os-simple-tenant-usage:show': [PROJECT_READER_OR_ADMIN],
  'os_compute_api:os-simple-tenant-usage:list': [ADMIN],
};

// nova/policies/servers.py (and the policies of the server actions, metadata,
// tags and instance actions), Zed defaults. The admin-only rules keep their
// new default; the rest are project reader/member or admin.
const SERVERS_MEMBER = ['create', 'create:attach_volume', 'create:attach_network', 'create:trusted_certs', 'delete', 'update', 'confirm_resize',
  'revert_resize', 'reboot', 'resize', 'rebuild', 'rebuild:trusted_certs', 'create_image', 'create_image:allow_volume_backed', 'start', 'stop',
  'trigger_crash_dump'];
const servers: Record<string, RuleEntry> = {
  ...Object.fromEntries(['index', 'detail', 'show'].map((a) => [`os_compute_api:servers:${a}`, [PROJECT_READER_OR_ADMIN]])),
  ...Object.fromEntries(SERVERS_MEMBER.map((a) => [`os_compute_api:servers:${a}`, [PROJECT_MEMBER_OR_ADMIN]])),
  ...Object.fromEntries(
    ['index:get_all_tenants', 'detail:get_all_tenants', 'allow_all_filters', 'show:host_status', 'show:host_status:unknown-only', 'create:forced_host',
      'create:zero_disk_flavor'].map((a) => [`os_compute_api:servers:${a}`, [ADMIN]]),
  ),
  'os_compute_api:servers:show:flavor-extra-specs': [PROJECT_READER_OR_ADMIN, DEPRECATED_ADMIN_OR_OWNER],
  'compute:servers:create:requested_destination': [ADMIN],
  'compute:servers:resize:cross_cell': ['!'],
  'network:attach_external_network': [ADMIN],
  'os_compute_api:os-extended-server-attributes': [ADMIN],
  'os_compute_api:os-admin-actions:reset_state': [ADMIN],
  'os_compute_api:os-migrate-server:migrate': [ADMIN],
  'os_compute_api:os-migrations:index': [ADMIN],
  'os_compute_api:servers:migrations:index': [ADMIN],
  'os_compute_api:os-admin-actions:inject_network_info': [ADMIN],
  'os_compute_api:os-lock-server:lock': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-lock-server:unlock': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-lock-server:unlock:unlock_override': [ADMIN],
  'os_compute_api:os-pause-server:pause': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-pause-server:unpause': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-suspend-server:suspend': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-suspend-server:resume': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-console-output': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-remote-consoles': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-console-auth-tokens': [ADMIN],
  'os_compute_api:os-create-backup': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-deferred-delete:restore': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:os-deferred-delete:force': [PROJECT_MEMBER_OR_ADMIN],
  'os_compute_api:ips:index': [PROJECT_READER_OR_ADMIN],
  'os_compute_api:ips:show': [PROJECT_READER_OR_ADMIN],
  ...Object.fromEntries(['index', 'show'].map((a) => [`os_compute_api:server-metadata:${a}`, [PROJECT_READER_OR_ADMIN]])),
  ...Object.fromEntries(['create', 'update_all', 'update', 'delete'].map((a) => [`os_compute_api:server-metadata:${a}`, [PROJECT_MEMBER_OR_ADMIN]])),
  ...Object.fromEntries(['index', 'show'].map((a) => [`os_compute_api:os-server-tags:${a}`, [PROJECT_READER_OR_ADMIN]])),
  ...Object.fromEntries(['update_all', 'update', 'delete', 'delete_all'].map((a) => [`os_compute_api:os-server-tags:${a}`, [PROJECT_MEMBER_OR_ADMIN]])),
  // The instance-actions rules replaced os_compute_api:os-instance-actions (admin or owner).
  'os_compute_api:os-instance-actions:list': [PROJECT_READER_OR_ADMIN, DEPRECATED_ADMIN_OR_OWNER],
  'os_compute_api:os-instance-actions:show': [PROJECT_READER_OR_ADMIN, DEPRECATED_ADMIN_OR_OWNER],
  'os_compute_api:os-instance-actions:events': [ADMIN],
  'os_compute_api:os-instance-actions:events:details': [ADMIN],
};

const entries: Record<string, RuleEntry> = {
  ...base,
  ...flavorManage,
  ...flavorAccess,
  ...flavorExtraSpecs,
  ...keypairs,
  ...limits,
  ...quotas,
  ...serverGroups,
  ...services,
  ...aggregates,
  ...hypervisors,
  ...hosts,
  ...serverPassword,
  ...serverExternalEvents,
  ...instanceUsageAuditLog,
  ...availabilityZones,
  ...simpleTenantUsage,
  ...servers,
};

/** Nova Zed's rules as a stock deployment evaluates them (new OR deprecated). */
export const computePolicyDefaults: Record<string, string> = combinedDefaults(entries);

/** The new, project-scoped rules alone (Nova with [oslo_policy] enforce_new_defaults = True). */
export const computePolicyNewDefaults: Record<string, string> = newDefaults(entries);
