// Bearer-token authentication and RBAC authorization with the semantics of
// k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac (rule matching) and
// k8s.io/apiserver/pkg/endpoints/request (how a request's attributes are derived).

export interface Rule {
  /** "" = core, "minio.min.io", "*" = any. */
  apiGroups: string[];
  /** "secrets", "tenants", "tenants/status", "*" = any; a subresource needs its own entry ("tenants/status") or "*". */
  resources: string[];
  /** get, list, watch, create, update, patch, delete, deletecollection, "*". */
  verbs: string[];
  /**
   * Restricts the rule to these object names. As in Kubernetes, a rule with
   * resourceNames never matches create or deletecollection, and matches
   * list/watch only when the request carries `fieldSelector=metadata.name=<name>`.
   */
  resourceNames?: string[];
  /** Namespaces this rule applies in (a RoleBinding). Absent = everywhere, including cluster scope (a ClusterRoleBinding). */
  namespaces?: string[];
}

export interface TokenIdentity {
  /** Username shown in Forbidden messages, e.g. "system:serviceaccount:minio:sidecar". */
  user?: string;
  rules: Rule[] | "admin";
}

/** What a token maps to: its rules, "admin" (everything), or an identity with a user name. */
export type TokenSpec = Rule[] | "admin" | TokenIdentity;

export interface Identity {
  user: string;
  rules: Rule[] | "admin";
}

export function identityFor(token: string, spec: TokenSpec): Identity {
  if (spec === "admin" || Array.isArray(spec)) return { user: `token:${token}`, rules: spec };
  return { user: spec.user ?? `token:${token}`, rules: spec.rules };
}

export interface RequestAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string; // "" = cluster scope
  name: string; // "" = none (create, unnamed list/watch)
}

function has(list: string[], v: string): boolean {
  return list.includes("*") || list.includes(v);
}

function resourceMatches(rule: Rule, a: RequestAttributes): boolean {
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  for (const r of rule.resources) {
    if (r === "*") return true;
    if (r === combined) return true;
    if (a.subresource && r === `*/${a.subresource}`) return true;
  }
  return false;
}

export function ruleAllows(rule: Rule, a: RequestAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!has(rule.apiGroups, a.apiGroup)) return false;
  if (!resourceMatches(rule, a)) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) {
    if (!a.name || !rule.resourceNames.includes(a.name)) return false;
  }
  if (rule.namespaces && rule.namespaces.length > 0) {
    if (!a.namespace || !rule.namespaces.includes(a.namespace)) return false;
  }
  return true;
}

export function authorize(identity: Identity, a: RequestAttributes): boolean {
  if (identity.rules === "admin") return true;
  return identity.rules.some((r) => ruleAllows(r, a));
}
