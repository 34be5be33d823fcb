/**
 * The options a domain may set for itself, as Keystone allows them: groups
 * `identity` and `ldap`; within them the whitelisted options (shown) and the
 * sensitive ones (stored, never shown). Nubo has no LDAP backend: it stores
 * and returns a domain's configuration for the clients that manage it.
 */
export type ConfigGroup = 'identity' | 'ldap';

/** Each whitelisted option with Keystone's default for it (null: unset). */
const defaults: Record<ConfigGroup, Record<string, unknown>> = {
  identity: { driver: 'sql', list_limit: null },
  ldap: {
    url: 'ldap://localhost',
    user: null,
    suffix: 'cn=example,cn=com',
    query_scope: 'one',
    page_size: 0,
    alias_dereferencing: 'default',
    debug_level: null,
    chase_referrals: null,
    user_tree_dn: null,
    user_filter: null,
    user_objectclass: 'inetOrgPerson',
    user_id_attribute: 'cn',
    user_name_attribute: 'sn',
    user_mail_attribute: 'mail',
    user_description_attribute: 'description',
    user_pass_attribute: 'userPassword',
    user_enabled_attribute: 'enabled',
    user_enabled_invert: false,
    user_enabled_mask: 0,
    user_enabled_default: 'True',
    user_attribute_ignore: ['default_project_id'],
    user_default_project_id_attribute: null,
    user_enabled_emulation: false,
    user_enabled_emulation_dn: null,
    user_enabled_emulation_use_group_config: false,
    user_additional_attribute_mapping: [],
    group_tree_dn: null,
    group_filter: null,
    group_objectclass: 'groupOfNames',
    group_id_attribute: 'cn',
    group_name_attribute: 'ou',
    group_members_are_ids: false,
    group_member_attribute: 'member',
    group_desc_attribute: 'description',
    group_attribute_ignore: [],
    group_additional_attribute_mapping: [],
    tls_cacertfile: null,
    tls_cacertdir: null,
    use_tls: false,
    tls_req_cert: 'demand',
    use_pool: true,
    pool_size: 10,
    pool_retry_max: 3,
    pool_retry_delay: 0.1,
    pool_connection_timeout: -1,
    pool_connection_lifetime: 600,
    use_auth_pool: true,
    auth_pool_size: 100,
    auth_pool_connection_lifetime: 60,
  },
};

const sensitive: Record<ConfigGroup, readonly string[]> = { identity: [], ldap: ['password'] };

export const CONFIG_GROUPS = Object.keys(defaults) as ConfigGroup[];

export const isConfigGroup = (group: string): group is ConfigGroup => Object.hasOwn(defaults, group);

/** Whether the option is shown (whitelisted). */
export const isWhitelisted = (group: ConfigGroup, option: string) => Object.hasOwn(defaults[group], option);

/** Whether the option is stored but never shown (a password). */
export const isSensitive = (group: ConfigGroup, option: string) => sensitive[group].includes(option);

/** The whitelisted options of the group with their defaults. */
export const defaultsOf = (group: ConfigGroup): Record<string, unknown> => ({ ...defaults[group] });
