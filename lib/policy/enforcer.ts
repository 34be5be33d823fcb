/**
 * The policy enforcer every Nubo API uses: named oslo.policy rules (the
 * service's defaults, replaced by name by an operator's policy file) checked
 * against a target and the caller's credentials.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { forbidden } from '../errors.ts';
import { evaluateRule, parseRule, PolicySyntaxError, referencedRules, type RuleNode } from './rule.ts';

/** What policy rules know of the caller (oslo.context's policy values). */
export interface PolicyCredentials {
  user_id: string;
  user_domain_id?: string;
  project_id?: string | null;
  project_domain_id?: string | null;
  domain_id?: string | null;
  system_scope?: 'all' | null;
  roles: string[];
  is_admin_project?: boolean;
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/**
 * The credentials dict rules are checked against: the flat values above, plus
 * `system` (as oslo.policy adds) and `token`, shaped like the body of a
 * Keystone token (token.user.id, token.domain.id, token.project.domain.id,
 * token.roles.name…) since Keystone's rules read it.
 */
export function policyCredsDict(creds: PolicyCredentials): Record<string, unknown> {
  const token: Record<string, unknown> = {
    user: { id: creds.user_id, ...(creds.user_domain_id ? { domain: { id: creds.user_domain_id } } : {}) },
    roles: creds.roles.map((name) => ({ name })),
  };
  if (creds.project_id) {
    token.project = { id: creds.project_id, ...(creds.project_domain_id ? { domain: { id: creds.project_domain_id } } : {}) };
  }
  if (creds.domain_id) token.domain = { id: creds.domain_id };
  if (creds.system_scope) token.system = { [creds.system_scope]: true };
  const dict: Record<string, unknown> = {
    user_id: creds.user_id,
    user_domain_id: creds.user_domain_id ?? null,
    project_id: creds.project_id ?? null,
    project_domain_id: creds.project_domain_id ?? null,
    domain_id: creds.domain_id ?? null,
    system_scope: creds.system_scope ?? null,
    system: creds.system_scope ?? null,
    roles: creds.roles,
    token,
  };
  if (creds.is_admin_project !== undefined) dict.is_admin_project = creds.is_admin_project;
  return dict;
}

export class Enforcer {
  private readonly texts: Record<string, string>;
  private readonly compiled = new Map<string, RuleNode>();

  /**
   * `overrides` replace defaults of the same name and may add named rules.
   * Throws PolicySyntaxError naming a rule that does not parse, and an Error
   * naming the rules of a rule:<name> cycle.
   */
  constructor(defaults: Record<string, string>, overrides: Record<string, string> = {}) {
    this.texts = { ...defaults, ...overrides };
    for (const [name, text] of Object.entries(this.texts)) {
      if (typeof text !== 'string') throw new Error(`policy rule '${name}' is not a string`);
      this.compiled.set(name, parseRule(text, name));
    }
    this.checkCycles();
  }

  /** The rule string in force for `name`, if any. */
  ruleText(name: string): string | undefined {
    return hasOwn(this.texts, name) ? this.texts[name] : undefined;
  }

  /** Whether `creds` may perform `action` on `target`; an action with no rule is denied. */
  allows(action: string, target: Record<string, unknown>, creds: PolicyCredentials): boolean {
    const rule = this.compiled.get(action);
    if (!rule) return false;
    return evaluateRule(rule, {
      target,
      creds: policyCredsDict(creds),
      rule: (name) => this.compiled.get(name),
    });
  }

  /** allows(), or throws a 403 Forbidden naming the action. */
  authorize(action: string, target: Record<string, unknown>, creds: PolicyCredentials): void {
    if (!this.allows(action, target, creds)) {
      throw forbidden(`You are not authorized to perform the requested action: ${action}.`);
    }
  }

  private checkCycles(): void {
    const done = new Set<string>();
    const visit = (name: string, path: string[]): void => {
      if (done.has(name)) return;
      const at = path.indexOf(name);
      if (at >= 0) {
        throw new Error(`policy rules refer to each other in a cycle: ${[...path.slice(at), name].join(' → ')}`);
      }
      const node = this.compiled.get(name);
      if (!node) return;
      for (const ref of referencedRules(node)) visit(ref, [...path, name]);
      done.add(name);
    };
    for (const name of this.compiled.keys()) visit(name, []);
  }
}

/**
 * Reads an operator's policy file: YAML or JSON, a map of rule name → rule
 * string (an empty file is an empty map). Throws an Error naming the file (and
 * the key) when it is not such a map or a rule does not parse.
 */
export function loadPolicyFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`policy file ${path}: cannot be read: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new Error(`policy file ${path}: not valid YAML or JSON: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`policy file ${path}: expected a map of rule name to rule string, found ${Array.isArray(data) ? 'a list' : typeof data}`);
  }
  const rules: Record<string, string> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      const found = value === null ? 'nothing' : Array.isArray(value) ? 'a list' : typeof value;
      throw new Error(`policy file ${path}: rule '${key}' must be a string, found ${found}`);
    }
    try {
      parseRule(value, key);
    } catch (e) {
      if (e instanceof PolicySyntaxError) throw new Error(`policy file ${path}: ${e.message}`);
      throw e;
    }
    rules[key] = value;
  }
  return rules;
}
