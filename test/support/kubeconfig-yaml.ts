/** A kubeconfig with one cluster, user and context, as both test API servers (fake and real) hand it out. */
export interface KubeconfigYaml {
  name: string;
  server: string;
  /** PEM of the CA; absent: `insecure-skip-tls-verify: true` (plain http). */
  caPem?: string;
  token?: string;
  namespace?: string;
}

export function kubeconfigYaml(o: KubeconfigYaml): string {
  const q = (s: string) => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
  const lines = ["apiVersion: v1", "kind: Config", "clusters:", `- name: ${q(o.name)}`, "  cluster:", `    server: ${q(o.server)}`];
  if (o.caPem !== undefined) lines.push(`    certificate-authority-data: ${q(Buffer.from(o.caPem).toString("base64"))}`);
  else lines.push("    insecure-skip-tls-verify: true");
  lines.push("users:", `- name: ${q(o.name)}`);
  if (o.token !== undefined) lines.push("  user:", `    token: ${q(o.token)}`);
  else lines.push("  user: {}");
  lines.push("contexts:", `- name: ${q(o.name)}`, "  context:", `    cluster: ${q(o.name)}`, `    user: ${q(o.name)}`);
  if (o.namespace !== undefined) lines.push(`    namespace: ${q(o.namespace)}`);
  lines.push(`current-context: ${q(o.name)}`, "");
  return lines.join("\n");
}
