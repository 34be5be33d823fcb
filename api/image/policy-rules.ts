/**
 * Glance's default policy rules (the scope-aware "new defaults" that Glance
 * enforces from 2023.1 on, which Zed shipped alongside its legacy rules), in
 * oslo.policy syntax and under Glance's own rule names, so an operator's
 * Glance policy file applies unchanged.
 *
 * The target of an image rule is the image as Glance exposes it to policy:
 * `project_id` and `owner` are the image's owner, `visibility` its
 * visibility, and `member_id` the caller's project when that project is a
 * member of the image (absent otherwise).
 */
const PROJECT_MEMBER = 'role:member and project_id:%(project_id)s';
const PROJECT_READER = 'role:reader and project_id:%(project_id)s';
const IMAGE_MEMBER = 'project_id:%(member_id)s';
const SHARED_WITH_CALLER = `${IMAGE_MEMBER} or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s`;
const ADMIN = 'role:admin';
const ADMIN_OR_PROJECT_MEMBER = `${ADMIN} or (${PROJECT_MEMBER})`;
const ADMIN_OR_PROJECT_READER = `${ADMIN} or (${PROJECT_READER})`;

/**
 * Glance's metadefs rules (glance/policies/metadef.py). The target is the
 * namespace: `project_id` its owner and `visibility` its visibility, or only
 * the caller's `project_id` where no namespace is involved.
 */
const ADMIN_OR_READER_OF_NAMESPACE = `${ADMIN} or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))`;
const metadefPolicyDefaults: Record<string, string> = {
  metadef_default: '',
  metadef_admin: ADMIN,
  get_metadef_namespace: ADMIN_OR_READER_OF_NAMESPACE,
  get_metadef_namespaces: ADMIN_OR_PROJECT_READER,
  modify_metadef_namespace: 'rule:metadef_admin',
  add_metadef_namespace: 'rule:metadef_admin',
  delete_metadef_namespace: 'rule:metadef_admin',
  get_metadef_object: ADMIN_OR_READER_OF_NAMESPACE,
  get_metadef_objects: ADMIN_OR_READER_OF_NAMESPACE,
  modify_metadef_object: 'rule:metadef_admin',
  add_metadef_object: 'rule:metadef_admin',
  delete_metadef_object: 'rule:metadef_admin',
  list_metadef_resource_types: ADMIN_OR_READER_OF_NAMESPACE,
  get_metadef_resource_type: ADMIN_OR_READER_OF_NAMESPACE,
  add_metadef_resource_type_association: 'rule:metadef_admin',
  remove_metadef_resource_type_association: 'rule:metadef_admin',
  get_metadef_property: ADMIN_OR_READER_OF_NAMESPACE,
  get_metadef_properties: ADMIN_OR_READER_OF_NAMESPACE,
  modify_metadef_property: 'rule:metadef_admin',
  add_metadef_property: 'rule:metadef_admin',
  remove_metadef_property: 'rule:metadef_admin',
  get_metadef_tag: ADMIN_OR_READER_OF_NAMESPACE,
  get_metadef_tags: ADMIN_OR_READER_OF_NAMESPACE,
  modify_metadef_tag: 'rule:metadef_admin',
  add_metadef_tag: 'rule:metadef_admin',
  add_metadef_tags: 'rule:metadef_admin',
  delete_metadef_tag: 'rule:metadef_admin',
  delete_metadef_tags: 'rule:metadef_admin',
};

export const imagePolicyDefaults: Record<string, string> = {
  context_is_admin: 'role:admin',
  add_image: `${ADMIN} or (${PROJECT_MEMBER} and project_id:%(owner)s)`,
  delete_image: ADMIN_OR_PROJECT_MEMBER,
  get_image: `${ADMIN} or (role:reader and (project_id:%(project_id)s or ${SHARED_WITH_CALLER}))`,
  get_images: ADMIN_OR_PROJECT_READER,
  modify_image: ADMIN_OR_PROJECT_MEMBER,
  publicize_image: ADMIN,
  communitize_image: ADMIN_OR_PROJECT_MEMBER,
  download_image: `${ADMIN} or (role:member and (project_id:%(project_id)s or ${SHARED_WITH_CALLER}))`,
  upload_image: ADMIN_OR_PROJECT_MEMBER,
  deactivate: ADMIN_OR_PROJECT_MEMBER,
  reactivate: ADMIN_OR_PROJECT_MEMBER,
  add_member: ADMIN_OR_PROJECT_MEMBER,
  delete_member: ADMIN_OR_PROJECT_MEMBER,
  get_member: `${ADMIN} or role:reader and (project_id:%(project_id)s or ${IMAGE_MEMBER})`,
  get_members: `${ADMIN} or role:reader and (project_id:%(project_id)s or ${IMAGE_MEMBER})`,
  modify_member: `${ADMIN} or (role:member and ${IMAGE_MEMBER})`,
  get_task: ADMIN,
  get_tasks: ADMIN,
  add_task: ADMIN,
  modify_task: ADMIN,
  tasks_api_access: ADMIN,
  stores_info_detail: ADMIN,
  ...metadefPolicyDefaults,
};
