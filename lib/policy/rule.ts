/**
 * The oslo.policy rule language: parse a rule string once into a tree, then
 * evaluate it against a target (what is acted on) and credentials (who acts).
 *
 *   @  ""            always            !                 never
 *   rule:<name>      another named rule (unknown name → false)
 *   role:<name>      the caller holds that role (case-insensitive)
 *   <key>:<value>    the credential at the dotted path <key> equals <value>;
 *                    <value> may hold %(dotted.target.path)s substitutions, and
 *                    may be quoted ('x' or "x"); <key> may itself be a literal
 *                    ('x', "x", True, False, None or a number), compared with
 *                    the substituted value instead of a credential
 *   not, and, or, parentheses: precedence not > and > or; keywords in any case.
 *
 * Substitution follows Python's `match % target`: a missing key makes the
 * check false; null renders as None, booleans as True / False. A key is looked
 * up both as a flat key containing dots (Keystone flattens its targets) and as
 * a path into nested objects, in any mix. A credential list matches when any
 * element does. A credential that is null or absent never matches (oslo.policy
 * would compare the text "None"; we fail closed instead).
 */

/** A rule string that does not parse; names the rule it came from. */
export class PolicySyntaxError extends Error {
  constructor(
    readonly ruleName: string,
    readonly ruleText: string,
    readonly detail: string,
  ) {
    super(`policy rule '${ruleName}' is invalid: ${detail} (in "${ruleText}")`);
    this.name = 'PolicySyntaxError';
  }
}

/** One piece of a value: literal text, or a %(path)s reference into the target. */
type TemplatePart = string | { path: string };

export type RuleNode =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'not'; rule: RuleNode }
  | { kind: 'and'; rules: RuleNode[] }
  | { kind: 'or'; rules: RuleNode[] }
  | { kind: 'rule'; name: string }
  | { kind: 'role'; match: TemplatePart[] }
  /** `key` is a credential path (split on dots) or, for a literal left side, its text. */
  | { kind: 'generic'; key: { creds: string[] } | { literal: string }; match: TemplatePart[] };

/** What a rule is evaluated against. */
export interface EvalContext {
  target: Record<string, unknown>;
  creds: Record<string, unknown>;
  /** The compiled rule of that name, for rule:<name>; undefined when there is none. */
  rule(name: string): RuleNode | undefined;
}

// ---------------------------------------------------------------------------
// Tokenizing

type Token = { type: '(' | ')' | 'and' | 'or' | 'not' } | { type: 'check'; text: string };

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
const isQuote = (c: string) => c === "'" || c === '"';

/**
 * Splits on whitespace, as oslo.policy does, except inside a quoted string that
 * opens a word or follows its first colon ('a b':%(x)s, name:"a b"). Leading
 * '(' and trailing ')' of each word are separate tokens; parentheses inside a
 * word (as in %(target.id)s) belong to it.
 */
function splitWords(text: string, fail: (detail: string) => never): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && isSpace(text[i])) i++;
    if (i >= text.length) break;
    let word = '';
    while (i < text.length && !isSpace(text[i])) {
      const c = text[i];
      const opensQuote = isQuote(c) && (/^\(*$/.test(word) || (word.endsWith(':') && word.indexOf(':') === word.length - 1));
      if (opensQuote) {
        const end = text.indexOf(c, i + 1);
        if (end < 0) fail(`unterminated quoted string starting at "${text.slice(i)}"`);
        word += text.slice(i, end + 1);
        i = end + 1;
        continue;
      }
      word += c;
      i++;
    }
    words.push(word);
  }
  return words;
}

function tokenize(text: string, fail: (detail: string) => never): Token[] {
  const tokens: Token[] = [];
  for (const word of splitWords(text, fail)) {
    let rest = word;
    while (rest.startsWith('(')) {
      tokens.push({ type: '(' });
      rest = rest.slice(1);
    }
    if (rest === '') continue;
    // a quoted string ends in its quote, so a trailing ')' is never inside one
    let trailing = 0;
    while (rest.endsWith(')')) {
      rest = rest.slice(0, -1);
      trailing++;
    }
    if (rest !== '') {
      const lower = rest.toLowerCase();
      if (lower === 'and' || lower === 'or' || lower === 'not') tokens.push({ type: lower });
      else tokens.push({ type: 'check', text: rest });
    }
    for (let k = 0; k < trailing; k++) tokens.push({ type: ')' });
  }
  return tokens;
}

// ---------------------------------------------------------------------------
// Single checks

const unquote = (s: string): string | undefined =>
  s.length >= 2 && isQuote(s[0]) && s[s.length - 1] === s[0] ? s.slice(1, -1) : undefined;

/** Splits a value into literal text and %(path)s references; %% is a literal %. */
function parseTemplate(text: string, fail: (detail: string) => never): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('%%', i)) {
      literal += '%';
      i += 2;
    } else if (text.startsWith('%(', i)) {
      const close = text.indexOf(')', i + 2);
      if (close < 0 || text[close + 1] !== 's') fail(`malformed substitution in "${text}" (expected %(name)s)`);
      const path = text.slice(i + 2, close);
      if (path === '') fail(`empty substitution %()s in "${text}"`);
      if (literal) parts.push(literal);
      literal = '';
      parts.push({ path });
      i = close + 2;
    } else {
      literal += text[i];
      i++;
    }
  }
  if (literal || parts.length === 0) parts.push(literal);
  return parts;
}

/** Python-literal left sides oslo.policy accepts (ast.literal_eval): the text they compare as. */
function literalKey(kind: string): string | undefined {
  const quoted = unquote(kind);
  if (quoted !== undefined) return quoted;
  if (kind === 'True' || kind === 'False' || kind === 'None') return kind;
  if (/^[+-]?\d+$/.test(kind)) return String(Number.parseInt(kind, 10));
  if (/^[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?$/.test(kind)) return pythonFloat(Number.parseFloat(kind));
  return undefined;
}

/** str() of a Python float: always shows a fractional part. */
function pythonFloat(n: number): string {
  const s = String(n);
  return /[.eE]|Infinity|NaN/.test(s) ? s : `${s}.0`;
}

function parseCheck(text: string, fail: (detail: string) => never): RuleNode {
  if (text === '@') return { kind: 'true' };
  if (text === '!') return { kind: 'false' };
  const colon = indexOfKeyColon(text);
  if (colon < 0) fail(`"${text}" is not a check (expected @, !, or kind:value)`);
  const kind = text.slice(0, colon);
  const rawMatch = text.slice(colon + 1);
  if (kind === '') fail(`"${text}" has nothing before its colon`);
  const matchText = unquote(rawMatch) ?? rawMatch;
  if (kind === 'rule') {
    if (matchText === '') fail(`"${text}" names no rule`);
    return { kind: 'rule', name: matchText };
  }
  if (kind === 'role') return { kind: 'role', match: parseTemplate(matchText, fail) };
  if (kind === 'http' || kind === 'https') fail(`"${text}": remote ${kind} checks are not supported`);
  const literal = literalKey(kind);
  if (literal === undefined && unquote(kind) === undefined && isQuote(kind[0])) fail(`"${text}" has an unterminated quote`);
  return {
    kind: 'generic',
    key: literal !== undefined ? { literal } : { creds: kind.split('.') },
    match: parseTemplate(matchText, fail),
  };
}

/** The colon that separates kind from value: the first one outside a leading quoted string. */
function indexOfKeyColon(text: string): number {
  if (isQuote(text[0])) {
    const end = text.indexOf(text[0], 1);
    if (end < 0) return -1;
    return text[end + 1] === ':' ? end + 1 : -1;
  }
  return text.indexOf(':');
}

// ---------------------------------------------------------------------------
// Expressions: or_expr := and_expr (or and_expr)*; and_expr := unary (and unary)*;
// unary := not unary | ( or_expr ) | check

function parseTokens(tokens: Token[], fail: (detail: string) => never): RuleNode {
  let pos = 0;
  const describe = (t: Token | undefined) => (t === undefined ? 'end of rule' : t.type === 'check' ? `"${t.text}"` : `"${t.type}"`);

  const unary = (): RuleNode => {
    const t = tokens[pos];
    if (t === undefined) fail('unexpected end of rule');
    if (t.type === 'not') {
      pos++;
      return { kind: 'not', rule: unary() };
    }
    if (t.type === '(') {
      pos++;
      const inner = orExpr();
      if (tokens[pos]?.type !== ')') fail(`expected ")" but found ${describe(tokens[pos])}`);
      pos++;
      return inner;
    }
    if (t.type === 'check') {
      pos++;
      return parseCheck(t.text, fail);
    }
    fail(`unexpected ${describe(t)}`);
  };
  const andExpr = (): RuleNode => {
    const rules = [unary()];
    while (tokens[pos]?.type === 'and') {
      pos++;
      rules.push(unary());
    }
    return rules.length === 1 ? rules[0] : { kind: 'and', rules };
  };
  const orExpr = (): RuleNode => {
    const rules = [andExpr()];
    while (tokens[pos]?.type === 'or') {
      pos++;
      rules.push(andExpr());
    }
    return rules.length === 1 ? rules[0] : { kind: 'or', rules };
  };

  const root = orExpr();
  if (pos < tokens.length) fail(`unexpected ${describe(tokens[pos])}`);
  return root;
}

const cache = new Map<string, RuleNode>();

/**
 * Parses a rule string (cached by text). `name` only labels the error: a rule
 * that does not parse throws PolicySyntaxError naming it.
 */
export function parseRule(text: string, name = '(anonymous)'): RuleNode {
  const hit = cache.get(text);
  if (hit) return hit;
  const fail = (detail: string): never => {
    throw new PolicySyntaxError(name, text, detail);
  };
  let node: RuleNode;
  if (text === '') node = { kind: 'true' };
  else {
    const tokens = tokenize(text, fail);
    if (tokens.length === 0) fail('a rule of only whitespace (write "" or @ for always)');
    node = parseTokens(tokens, fail);
  }
  cache.set(text, node);
  return node;
}

/** The names a rule refers to with rule:<name>. */
export function referencedRules(node: RuleNode): string[] {
  switch (node.kind) {
    case 'rule':
      return [node.name];
    case 'not':
      return referencedRules(node.rule);
    case 'and':
    case 'or':
      return node.rules.flatMap(referencedRules);
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------
// Evaluation

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The target value at a dotted path: flat keys with dots, nested objects, or a mix. */
export function lookupTarget(target: unknown, path: string): { found: true; value: unknown } | { found: false } {
  return lookup(target, path.split('.'));
}

function lookup(obj: unknown, segments: string[]): { found: true; value: unknown } | { found: false } {
  if (segments.length === 0) return { found: true, value: obj };
  if (!isRecord(obj)) return { found: false };
  // longest key first: a flat "target.user.id" wins over target → user → id
  for (let n = segments.length; n >= 1; n--) {
    const key = segments.slice(0, n).join('.');
    if (!hasOwn(obj, key)) continue;
    const r = lookup(obj[key], segments.slice(n));
    if (r.found) return r;
  }
  return { found: false };
}

/** Python's str() of a target value. */
function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** The value with its substitutions made, or undefined when a key is missing. */
function render(parts: TemplatePart[], target: Record<string, unknown>): string | undefined {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else {
      const r = lookupTarget(target, p.path);
      if (!r.found) return undefined;
      out += pyStr(r.value);
    }
  }
  return out;
}

/** Whether the credential at `path` equals `match`; lists match on any element. */
function credsMatch(value: unknown, path: string[], match: string): boolean {
  if (path.length === 0) {
    if (value === null || value === undefined) return false;
    if (Array.isArray(value)) return value.some((v) => credsMatch(v, [], match));
    return pyStr(value) === match;
  }
  if (Array.isArray(value)) return value.some((v) => credsMatch(v, path, match));
  if (!isRecord(value) || !hasOwn(value, path[0])) return false;
  return credsMatch(value[path[0]], path.slice(1), match);
}

/** Evaluates a parsed rule. A rule:<name> cycle evaluates to false. */
export function evaluateRule(node: RuleNode, ctx: EvalContext, visiting: Set<string> = new Set()): boolean {
  switch (node.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evaluateRule(node.rule, ctx, visiting);
    case 'and':
      return node.rules.every((r) => evaluateRule(r, ctx, visiting));
    case 'or':
      return node.rules.some((r) => evaluateRule(r, ctx, visiting));
    case 'rule': {
      const ref = ctx.rule(node.name);
      if (!ref || visiting.has(node.name)) return false;
      visiting.add(node.name);
      try {
        return evaluateRule(ref, ctx, visiting);
      } finally {
        visiting.delete(node.name);
      }
    }
    case 'role': {
      const match = render(node.match, ctx.target);
      if (match === undefined) return false;
      const roles = ctx.creds.roles;
      if (!Array.isArray(roles)) return false;
      const wanted = match.toLowerCase();
      return roles.some((r) => typeof r === 'string' && r.toLowerCase() === wanted);
    }
    case 'generic': {
      const match = render(node.match, ctx.target);
      if (match === undefined) return false;
      if ('literal' in node.key) return node.key.literal === match;
      return credsMatch(ctx.creds, node.key.creds, match);
    }
  }
}

/** Parses (cached) and evaluates a rule string on its own: rule:<name> sees only `rules`. */
export function checkRule(
  text: string,
  target: Record<string, unknown>,
  creds: Record<string, unknown>,
  rules: Record<string, string> = {},
): boolean {
  return evaluateRule(parseRule(text), {
    target,
    creds,
    rule: (name) => (hasOwn(rules, name) ? parseRule(rules[name], name) : undefined),
  });
}
