// Certificates and keys for a throw-away control plane, made with the openssl
// CLI (as test/fixtures/tls/regen.sh does): a CA that signs both the serving
// certificate (SAN 127.0.0.1/localhost) and the harness's admin client
// certificate (O=system:masters, like envtest's), and the service-account
// signing key pair.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  caCrt: string;
  servingCrt: string;
  servingKey: string;
  adminCrt: string;
  adminKey: string;
  saKey: string;
  saPub: string;
  /** PEM contents, for clients. */
  caPem: string;
  adminCertPem: string;
  adminKeyPem: string;
}

function openssl(dir: string, args: string[]) {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.error) throw new Error(`kube-apiserver harness: needs the openssl CLI to make certificates (${r.error.message})`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/**
 * `extraSans`: more subjectAltName entries for the serving certificate (e.g.
 * "IP:10.96.0.1" for a node test's API server on a Service address).
 */
export function makePki(dir: string, extraSans: string[] = []): Pki {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=minio-operator-sidecar test CA"]);
  writeFileSync(
    join(dir, "serving.ext"),
    `subjectAltName=${["IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local", ...extraSans].join(",")}\n` +
      "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
  );
  signCert(dir, "serving", "/CN=kube-apiserver", "serving.ext");
  signCert(dir, "admin", "/O=system:masters/CN=test-harness-admin");
  openssl(dir, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"]);
  openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  const p = (n: string) => join(dir, n);
  return {
    caCrt: p("ca.crt"),
    servingCrt: p("serving.crt"),
    servingKey: p("serving.key"),
    adminCrt: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
    caPem: readFileSync(p("ca.crt"), "utf8"),
    adminCertPem: readFileSync(p("admin.crt"), "utf8"),
    adminKeyPem: readFileSync(p("admin.key"), "utf8"),
  };
}

/**
 * `name`.key and `name`.crt in `dir`, signed by the CA makePki made there:
 * a client certificate for `subj` (O= groups, CN= user), or, given `ext`,
 * whatever that extensions file says.
 */
export function signCert(dir: string, name: string, subj: string, ext = "client.ext"): { crt: string; key: string } {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n");
  openssl(dir, ["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", `${name}.crt`]);
  return { crt: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** One request as the harness admin (system:masters, the PKI's admin certificate) to an API server's secure port on loopback. */
export async function adminRequest(
  pki: Pki,
  port: number,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`https://127.0.0.1:${port}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
    tls: { ca: pki.caPem, cert: pki.adminCertPem, key: pki.adminKeyPem },
  } as RequestInit);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined; // a proxy's page or an empty answer: the text is kept
  }
  return { status: res.status, body: parsed, text };
}
