/**
 * Keystone's default policy rules as of keystone 22 (Zed), rule strings in
 * oslo.policy syntax.
 *
 * Zed ships new, scope-aware rules (system / domain / project readers and
 * admins) and keeps each one's previous rule as a "deprecated rule". With the
 * oslo.policy defaults Keystone runs under (enforce_scope = False,
 * enforce_new_defaults = False) a deprecated rule is OR'd with its new rule —
 * `(new) or (old)` — unless the operator overrides the rule by name. So
 * `identityPolicyDefaults` holds those OR'd strings: a project-scoped admin
 * token (`rule:admin_required`) can manage everything, as on a stock Keystone,
 * including, on a stock Keystone, a domain-scoped admin, whom the old rules
 * treat as a cloud admin. `identityPolicyNewDefaults` holds the new rules
 * alone (what enforce_new_defaults = True gives), for operators who want
 * domain administrators confined to their domain.
 *
 * Targets are shaped like Keystone's: `target.user.id`, `target.project.domain_id`,
 * `target.domain.id`, `target.group.domain_id`, `target.role.domain_id`,
 * `target.token.user_id`, `target.credential.user_id`, … plus the URL's
 * parameters and list filters flat (`user_id`, `domain_id`).
 */
import { combinedDefaults, newDefaults, type RuleEntry } from '../../lib/policy/defaults.ts';


// Building blocks, named as what they allow.
const SYSTEM_READER = 'role:reader and system_scope:all';
const SYSTEM_ADMIN = 'role:admin and system_scope:all';
const ADMIN_REQUIRED = 'rule:admin_required';
const ADMIN_OR_OWNER = 'rule:admin_or_owner';
const OWNER = 'user_id:%(user_id)s';
const ADMIN_OR_TARGET_PROJECT = 'rule:admin_required or project_id:%(target.project.id)s';
const ADMIN_OR_TARGET_DOMAIN = 'rule:admin_required or token.project.domain.id:%(target.domain.id)s';
const SYSTEM_READER_OR_OWNER = `(${SYSTEM_READER}) or rule:owner`;
const SYSTEM_ADMIN_OR_OWNER = `(${SYSTEM_ADMIN}) or rule:owner`;
/** Readers of the system, or of the domain the listing is about (`target.domain_id`). */
const SYSTEM_OR_DOMAIN_READER_OF_LIST = `(${SYSTEM_READER}) or (role:reader and domain_id:%(target.domain_id)s)`;

// keystone/common/policies/base.py — the named rules others refer to.
const base: Record<string, RuleEntry> = {
  admin_required: ['role:admin or is_admin:1'],
  service_role: ['role:service'],
  service_or_admin: ['rule:admin_required or rule:service_role'],
  owner: [OWNER],
  admin_or_owner: ['rule:admin_required or rule:owner'],
  token_subject: ['user_id:%(target.token.user_id)s'],
  admin_or_token_subject: ['rule:admin_required or rule:token_subject'],
  service_admin_or_token_subject: ['rule:service_or_admin or rule:token_subject'],
};

// keystone/common/policies/token.py and token_revocation.py
const tokens: Record<string, RuleEntry> = {
  'identity:check_token': [`(${SYSTEM_READER}) or rule:token_subject`, 'rule:admin_or_token_subject'],
  'identity:validate_token': [`(${SYSTEM_READER}) or rule:service_role or rule:token_subject`, 'rule:service_admin_or_token_subject'],
  'identity:revoke_token': [`(${SYSTEM_ADMIN}) or rule:token_subject`, 'rule:admin_or_token_subject'],
  'identity:revocation_list': ['rule:service_or_admin'],
};

// keystone/common/policies/auth.py, and the two open rules of user.py
// (list_projects_for_user / list_domains_for_user: any valid token, even unscoped)
const auth: Record<string, RuleEntry> = {
  'identity:get_auth_catalog': [''],
  'identity:get_auth_projects': [''],
  'identity:get_auth_domains': [''],
  'identity:get_auth_system': [''],
  'identity:list_projects_for_user': [''],
  'identity:list_domains_for_user': [''],
};

// keystone/common/policies/domain.py
const domains: Record<string, RuleEntry> = {
  'identity:get_domain': [
    `(${SYSTEM_READER}) or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s`,
    ADMIN_OR_TARGET_DOMAIN,
  ],
  'identity:list_domains': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_domain': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_domain': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_domain': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/project.py
const PROJECT_READER =
  `(${SYSTEM_READER}) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s`;
const PROJECT_ADMIN = `(${SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.project.domain_id)s)`;
const PROJECT_TAG_ADMIN = `${PROJECT_ADMIN} or (role:admin and project_id:%(target.project.id)s)`;
const projects: Record<string, RuleEntry> = {
  'identity:get_project': [PROJECT_READER, ADMIN_OR_TARGET_PROJECT],
  'identity:list_projects': [SYSTEM_OR_DOMAIN_READER_OF_LIST, ADMIN_REQUIRED],
  // /v3/users/{user_id}/projects: the user itself, or readers of its domain
  'identity:list_user_projects': [
    `(${SYSTEM_READER}) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s`,
    ADMIN_OR_OWNER,
  ],
  'identity:create_project': [PROJECT_ADMIN, ADMIN_REQUIRED],
  'identity:update_project': [PROJECT_ADMIN, ADMIN_REQUIRED],
  'identity:delete_project': [PROJECT_ADMIN, ADMIN_REQUIRED],
  'identity:list_project_tags': [PROJECT_READER, ADMIN_OR_TARGET_PROJECT],
  'identity:get_project_tag': [PROJECT_READER, ADMIN_OR_TARGET_PROJECT],
  'identity:update_project_tags': [PROJECT_TAG_ADMIN, ADMIN_REQUIRED],
  'identity:create_project_tag': [PROJECT_TAG_ADMIN, ADMIN_REQUIRED],
  'identity:delete_project_tags': [PROJECT_TAG_ADMIN, ADMIN_REQUIRED],
  'identity:delete_project_tag': [PROJECT_TAG_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/user.py
const USER_ADMIN = `(${SYSTEM_ADMIN}) or (role:admin and token.domain.id:%(target.user.domain_id)s)`;
const users: Record<string, RuleEntry> = {
  'identity:get_user': [
    `(${SYSTEM_READER}) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s`,
    ADMIN_OR_OWNER,
  ],
  'identity:list_users': [SYSTEM_OR_DOMAIN_READER_OF_LIST, ADMIN_REQUIRED],
  'identity:create_user': [USER_ADMIN, ADMIN_REQUIRED],
  'identity:update_user': [USER_ADMIN, ADMIN_REQUIRED],
  'identity:delete_user': [USER_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/group.py
const GROUP_READER = `(${SYSTEM_READER}) or (role:reader and domain_id:%(target.group.domain_id)s)`;
const GROUP_ADMIN = `(${SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.group.domain_id)s)`;
const GROUP_MEMBER_READER =
  `(${SYSTEM_READER}) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)`;
const GROUP_MEMBER_ADMIN =
  `(${SYSTEM_ADMIN}) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)`;
const groups: Record<string, RuleEntry> = {
  'identity:get_group': [GROUP_READER, ADMIN_REQUIRED],
  'identity:list_groups': [GROUP_READER, ADMIN_REQUIRED],
  'identity:list_groups_for_user': [
    `(${SYSTEM_READER}) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s`,
    ADMIN_OR_OWNER,
  ],
  'identity:create_group': [GROUP_ADMIN, ADMIN_REQUIRED],
  'identity:update_group': [GROUP_ADMIN, ADMIN_REQUIRED],
  'identity:delete_group': [GROUP_ADMIN, ADMIN_REQUIRED],
  'identity:list_users_in_group': [GROUP_READER, ADMIN_REQUIRED],
  'identity:remove_user_from_group': [GROUP_MEMBER_ADMIN, ADMIN_REQUIRED],
  'identity:check_user_in_group': [GROUP_MEMBER_READER, ADMIN_REQUIRED],
  'identity:add_user_to_group': [GROUP_MEMBER_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/role.py (global roles, and domain-specific roles)
const roles: Record<string, RuleEntry> = {
  'identity:get_role': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_roles': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:get_domain_role': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_domain_roles': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_domain_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_domain_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_domain_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/implied_role.py
const impliedRoles: Record<string, RuleEntry> = {
  'identity:get_implied_role': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_implied_roles': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_implied_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_implied_role': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:list_role_inference_rules': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:check_implied_role': [SYSTEM_READER, ADMIN_REQUIRED],
};

// keystone/common/policies/grant.py
// A domain reader/admin may see/manage grants when the actor (user or group)
// and the target (project or domain) both belong to its domain; for one grant
// the role must also be global or of that domain.
const grantsInDomain = (role: string) =>
  [
    'domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s',
    'domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s',
    'domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s',
    'domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s',
  ]
    .map((actorAndTarget) => `(role:${role} and ${actorAndTarget})`)
    .join(' or ');
const ROLE_IN_DOMAIN = 'domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s';
// As Keystone writes them: `A or (B) and (C)`, which reads A or ((B) and (C)).
const GRANT_READER = `(${SYSTEM_READER}) or (${grantsInDomain('reader')}) and (${ROLE_IN_DOMAIN})`;
const GRANT_LIST_READER = `(${SYSTEM_READER}) or ${grantsInDomain('reader')}`;
const GRANT_ADMIN = `(${SYSTEM_ADMIN}) or (${grantsInDomain('admin')}) and (${ROLE_IN_DOMAIN})`;
const grants: Record<string, RuleEntry> = {
  'identity:check_grant': [GRANT_READER, ADMIN_REQUIRED],
  'identity:list_grants': [GRANT_LIST_READER, ADMIN_REQUIRED],
  'identity:create_grant': [GRANT_ADMIN, ADMIN_REQUIRED],
  'identity:revoke_grant': [GRANT_ADMIN, ADMIN_REQUIRED],
  'identity:list_system_grants_for_user': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:check_system_grant_for_user': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_system_grant_for_user': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:revoke_system_grant_for_user': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:list_system_grants_for_group': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:check_system_grant_for_group': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_system_grant_for_group': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:revoke_system_grant_for_group': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/role_assignment.py
const roleAssignments: Record<string, RuleEntry> = {
  'identity:list_role_assignments': [SYSTEM_OR_DOMAIN_READER_OF_LIST, ADMIN_REQUIRED],
  'identity:list_role_assignments_for_tree': [
    `(${SYSTEM_READER}) or (role:reader and domain_id:%(target.project.domain_id)s) or (role:admin and project_id:%(target.project.id)s)`,
    ADMIN_REQUIRED,
  ],
};

// keystone/common/policies/application_credential.py (owner = user_id:%(user_id)s, the URL's user)
const applicationCredentials: Record<string, RuleEntry> = {
  'identity:get_application_credential': [SYSTEM_READER_OR_OWNER, ADMIN_OR_OWNER],
  'identity:list_application_credentials': [SYSTEM_READER_OR_OWNER, ADMIN_OR_OWNER],
  'identity:create_application_credential': [OWNER],
  'identity:delete_application_credential': [SYSTEM_ADMIN_OR_OWNER, ADMIN_OR_OWNER],
};

// keystone/common/policies/credential.py
const CREDENTIAL_OWNER = 'user_id:%(target.credential.user_id)s';
const credentials: Record<string, RuleEntry> = {
  'identity:get_credential': [`(${SYSTEM_READER}) or ${CREDENTIAL_OWNER}`, ADMIN_REQUIRED],
  'identity:list_credentials': [`(${SYSTEM_READER}) or ${CREDENTIAL_OWNER}`, ADMIN_REQUIRED],
  'identity:create_credential': [`(${SYSTEM_ADMIN}) or ${CREDENTIAL_OWNER}`, ADMIN_REQUIRED],
  'identity:update_credential': [`(${SYSTEM_ADMIN}) or ${CREDENTIAL_OWNER}`, ADMIN_REQUIRED],
  'identity:delete_credential': [`(${SYSTEM_ADMIN}) or ${CREDENTIAL_OWNER}`, ADMIN_REQUIRED],
};

// keystone/common/policies/ec2_credential.py (`rule:owner` is the URL's user;
// target.credential is the stored credential the access key names)
const ADMIN_OR_CREDENTIAL_OWNER = `rule:admin_required or (rule:owner and ${CREDENTIAL_OWNER})`;
const ec2Credentials: Record<string, RuleEntry> = {
  'identity:ec2_get_credential': [`(${SYSTEM_READER}) or ${CREDENTIAL_OWNER}`, ADMIN_OR_CREDENTIAL_OWNER],
  'identity:ec2_list_credentials': [SYSTEM_READER_OR_OWNER, ADMIN_OR_OWNER],
  'identity:ec2_create_credential': [SYSTEM_ADMIN_OR_OWNER, ADMIN_OR_OWNER],
  'identity:ec2_delete_credential': [`(${SYSTEM_ADMIN}) or ${CREDENTIAL_OWNER}`, ADMIN_OR_CREDENTIAL_OWNER],
};

// keystone/common/policies/consumer.py (OS-OAUTH1 consumers)
const oauth1Consumers: Record<string, RuleEntry> = {
  'identity:get_consumer': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_consumers': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_consumer': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_consumer': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_consumer': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/region.py
const regions: Record<string, RuleEntry> = {
  'identity:get_region': [''],
  'identity:list_regions': [''],
  'identity:create_region': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_region': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_region': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/service.py
const services: Record<string, RuleEntry> = {
  'identity:get_service': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_services': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_service': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_service': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_service': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/endpoint.py
const endpoints: Record<string, RuleEntry> = {
  'identity:get_endpoint': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_endpoints': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_endpoint': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_endpoint': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_endpoint': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/policy.py
const policies: Record<string, RuleEntry> = {
  'identity:get_policy': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_policies': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:create_policy': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_policy': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_policy': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/endpoint_group.py
const endpointGroups: Record<string, RuleEntry> = {
  'identity:create_endpoint_group': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:list_endpoint_groups': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:get_endpoint_group': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:update_endpoint_group': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_endpoint_group': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:list_projects_associated_with_endpoint_group': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_endpoints_associated_with_endpoint_group': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:get_endpoint_group_in_project': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_endpoint_groups_for_project': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:add_endpoint_group_to_project': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:remove_endpoint_group_from_project': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/project_endpoint.py
const projectEndpoints: Record<string, RuleEntry> = {
  'identity:list_projects_for_endpoint': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:add_endpoint_to_project': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:check_endpoint_in_project': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:list_endpoints_for_project': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:remove_endpoint_from_project': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

// keystone/common/policies/domain_config.py (security compliance: any valid token)
const domainConfigs: Record<string, RuleEntry> = {
  'identity:create_domain_config': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:get_domain_config': [SYSTEM_READER, ADMIN_REQUIRED],
  'identity:get_security_compliance_domain_config': [''],
  'identity:update_domain_config': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_domain_config': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:get_domain_config_default': [SYSTEM_READER, ADMIN_REQUIRED],
};

// keystone/common/policies/registered_limit.py and limit.py. Zed's rules are
// system-scoped with no deprecated rule, so a project-scoped admin could not
// manage limits; rule:admin_required (the rule before Stein, and again from
// Keystone 2024.1 on) stands in as the deprecated rule here, so that the
// project admin manages limits as it manages the rest. identityPolicyNewDefaults
// keeps Zed's rules alone.
const LIMIT_READER =
  `(${SYSTEM_READER}) or (domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s) or ` +
  '(project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)';
const limits: Record<string, RuleEntry> = {
  'identity:get_registered_limit': [''],
  'identity:list_registered_limits': [''],
  'identity:create_registered_limits': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_registered_limit': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_registered_limit': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:get_limit_model': [''],
  'identity:get_limit': [LIMIT_READER, ADMIN_REQUIRED],
  'identity:list_limits': [''],
  'identity:create_limits': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:update_limit': [SYSTEM_ADMIN, ADMIN_REQUIRED],
  'identity:delete_limit': [SYSTEM_ADMIN, ADMIN_REQUIRED],
};

const entries: Record<string, RuleEntry> = {
  ...base,
  ...tokens,
  ...auth,
  ...domains,
  ...projects,
  ...users,
  ...groups,
  ...roles,
  ...impliedRoles,
  ...grants,
  ...roleAssignments,
  ...applicationCredentials,
  ...credentials,
  ...ec2Credentials,
  ...oauth1Consumers,
  ...regions,
  ...services,
  ...endpoints,
  ...policies,
  ...endpointGroups,
  ...projectEndpoints,
  ...domainConfigs,
  ...limits,
};

/** Keystone Zed's rules as a stock deployment evaluates them (new OR deprecated). */
export const identityPolicyDefaults: Record<string, string> = combinedDefaults(entries);

/** The new, scope-aware rules alone (Keystone with [oslo_policy] enforce_new_defaults = True). */
export const identityPolicyNewDefaults: Record<string, string> = newDefaults(entries);
