/**
 * A local stand-in for a cluster: the in-repo fake Kubernetes API server
 * (https with its own CA) holding the example Tenant and Secret, and the
 * Services the operator creates for the Tenant (so a bucket named `minio`
 * meets the Tenant's own Service, 409, as in a cluster). Used by the rootfs
 * check and the benchmarks; `npm run demo` builds the same world.
 *
 *   bun scripts/dev-cluster.ts --kubeconfig PATH [--port 0] [--http]
 *       [--tenant-file F] [--secret-file F] [--extra-secrets N]
 *
 * Prints `ready <url>` once listening; runs until SIGTERM/SIGINT.
 */
import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import { startFakeApiServer } from "../test/fake-apiserver/index.ts";
import { operatorServices, tenantUsesTls } from "./operator-services.ts";

const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const kubeconfig = arg("kubeconfig");
if (!kubeconfig) {
  console.error("usage: bun scripts/dev-cluster.ts --kubeconfig PATH [--port N] [--http] [--tenant-file F] [--secret-file F] [--extra-secrets N]");
  process.exit(2);
}
const docs = (file: string) => loadAll(readFileSync(file, "utf8")) as Record<string, unknown>[];
const objects = [...docs(arg("tenant-file", "deploy/examples/tenant.yaml")!), ...docs(arg("secret-file", "deploy/examples/secret.yaml")!)];

const api = await startFakeApiServer({ tls: !process.argv.includes("--http"), port: Number(arg("port", "0")), objects });
const namespace = ((objects[0]?.metadata as { namespace?: string }) ?? {}).namespace ?? "minio-tenant";
for (const t of api.list("tenants")) for (const svc of operatorServices(t, tenantUsesTls(t))) api.create(svc);
const extra = Number(arg("extra-secrets", "0"));
for (let i = 0; i < extra; i++) {
  api.create({ apiVersion: "v1", kind: "Secret", metadata: { name: `other-${i}`, namespace }, data: { "config.env": btoa(`OTHER_${i}=${"x".repeat(200)}`) } });
}
await api.writeKubeconfig(kubeconfig, { namespace });
console.log(`ready ${api.url}`);

const stop = async () => {
  await api.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
