/**
 * The one place that knows which runtime we are on (hono's adapter idea).
 * Everything else in `src/` is web-standard `fetch` handlers and node: modules.
 *
 * What differs lives in ./bun.ts and ./deno.ts, imported lazily so that each
 * runtime evaluates only its own:
 * - serving: Elysia's own `listen` on Bun, `Deno.serve(app.fetch)` on Deno
 *   (Elysia's `listen` throws on Deno, SPEC 7);
 * - holding a port for the start-up bind check: `Bun.listen` on Bun,
 *   node:net on Deno;
 * - the unverified HTTPS requests to the local MinIO: Bun's `fetch` with
 *   its `tls` option on Bun; node:https on Deno, whose fetch cannot skip
 *   certificate verification per request.
 * - reading manifests and writing stdout/stderr for the CLI: Bun's file API
 *   on Bun (node:fs costs a compiled `render` over 1 ms to evaluate),
 *   node:fs elsewhere.
 * Keeping node:net and node:http(s) off Bun's path is worth it (issue 11):
 * evaluating them costs a compiled binary about 4 and 7 MiB of resident
 * memory and 3 and 5 ms of start-up (bench/attribution.ts), in every pod.
 * YAML: kubeconfig files (written by tools, read in every pod) go through
 * Bun's native parser; manifests, which people write, only when they are
 * plain enough that it reads them exactly as js-yaml does
 * (config/plain-yaml.ts), else js-yaml on both runtimes, because Bun's
 * parser accepts documents js-yaml and kubectl refuse.
 */
import type { Elysia } from "elysia";
import { InputError } from "../errors.ts";

export interface Listener {
  /** The port bound (the one asked for, or the kernel's choice for port 0). */
  port: number;
  /** The address bound, as the server reports it. */
  hostname: string;
  /** An `anyFamily` address bound 0.0.0.0 because this kernel has no IPv6. */
  ipv4Only?: boolean;
  stop(): Promise<void>;
}

export interface Address {
  hostname: string;
  port: number;
  /**
   * `:PORT`: every IPv4 and IPv6 address, one `[::]` socket with IPV6_V6ONLY
   * off (Bun and Deno leave it off, as Linux does by default), so a kubelet
   * probing the pod's IPv6 address on an IPv6-only or IPv6-first cluster
   * reaches it as well as one probing IPv4; 0.0.0.0 where the kernel has no
   * IPv6. An explicit host (0.0.0.0, [::], an address) is bound as given.
   */
  anyFamily?: boolean;
}

/** A port held open by `holdPort`. */
export interface HeldPort {
  close(): Promise<void>;
}

export interface LocalRequest {
  method?: string;
  headers?: Record<string, string>;
  /** The whole exchange, headers and body; past it the request is abandoned. */
  timeoutMs: number;
  /** A larger body is an error (BodyTooLargeError), never a silently cut one. */
  maxBody: number;
  /**
   * https only: verify the server's certificate for the URL's host, against
   * `ca` (PEM) or, without it, the system's trust store. Requests that carry
   * credentials to a host other than this pod's use it (minio/client.ts).
   */
  verify?: { ca?: string };
}

export interface LocalResponse {
  status: number;
  body: string;
}

/**
 * HTTP(S) to a server on this pod whose certificate is for other names
 * (MinIO's is for its service names, not localhost): the certificate is not
 * verified (unless a request asks for `verify`), SNI is `serverName`,
 * connections are kept alive and reused, and redirects are not followed.
 */
export interface LocalHttp {
  request(url: URL, r: LocalRequest): Promise<LocalResponse>;
  close(): void;
}

/** The answer was larger than the caller's limit: the body is not complete, so it is not given at all. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
  constructor(limit: number) {
    super(`answer larger than ${limit} bytes`);
  }
}

const bun = (globalThis as { Bun?: typeof Bun }).Bun;
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
/** Bun, whose fetch takes `tls` and `proxy` options (kube/kubeconfig.ts builds them instead of an agent). */
export const onBun = bun !== undefined;

/** What a request abandoned at its deadline reports (the probe's reason names the limit). */
export const noAnswerWithin = (ms: number) => Object.assign(new Error(`no answer within ${ms} ms`), { code: "ETIMEDOUT" });

/**
 * Hex SHA-256. On Bun its native hasher, so node:crypto (about 4 MiB of
 * resident memory when evaluated in a compiled binary) is never loaded;
 * elsewhere node:crypto, fetched only when first called.
 */
export function sha256Hex(data: string | Uint8Array): string {
  if (bun) return new bun.CryptoHasher("sha256").update(data).digest("hex");
  return process.getBuiltinModule("node:crypto").createHash("sha256").update(data).digest("hex");
}

/**
 * A kubeconfig's YAML. On Bun its native parser: nothing more to evaluate
 * (js-yaml costs 5 MiB and 2 ms of start-up in a compiled probe). Elsewhere
 * (Deno) js-yaml, the parser client-node uses, loaded synchronously through
 * createRequire so that loading stays synchronous; the bundler leaves that
 * call alone, and under Bun it never runs.
 */
export function parseKubeconfigYaml(text: string): unknown {
  if (bun) return bun.YAML.parse(text);
  const { createRequire } = process.getBuiltinModule("node:module");
  return (createRequire(import.meta.url)("js-yaml") as { load(s: string): unknown }).load(text);
}

/**
 * The runtime's native YAML parser (Bun's), or undefined (Deno). Bun's gives
 * one document as its value and several as an array; duplicate keys are not
 * errors to it. Only config/manifest.ts uses it, behind its own checks.
 */
export const parseNativeYaml: ((text: string) => unknown) | undefined = bun ? (text) => bun.YAML.parse(text) : undefined;

/**
 * Standard streams and whole-file reads for the CLI and `render`. On Bun its
 * own file API: evaluating node:fs cost a compiled probe 1.4 ms of start-up
 * (2026-12-02, against 3 ms for all of hello-world), and these are the only
 * file operations on render's path. Elsewhere (Deno) node:fs,
 * fetched when first called. A missing file rejects with `code` ENOENT on
 * both.
 */
export async function readTextFile(path: string): Promise<string> {
  if (bun) {
    // A regular file is mapped and decoded at once, on this thread: Bun.file().text() reads on
    // Bun's thread pool, which render would start for two small files (+0.3 ms). What cannot
    // be mapped (a pipe such as `--tenant-file <(kubectl get ...)`, /proc files, an empty
    // file) or does not exist is read the ordinary way, which also reports the error.
    try {
      return new TextDecoder().decode(bun.mmap(path));
    } catch {
      return bun.file(path).text();
    }
  }
  return process.getBuiltinModule("node:fs").readFileSync(path, "utf8");
}

export async function readStdin(): Promise<string> {
  if (bun) return bun.stdin.text();
  return process.getBuiltinModule("node:fs").readFileSync(0, "utf8");
}

/** All of `text` to stdout (1) or stderr (2), resolved once written (the CLI exits right after). */
export async function writeStd(fd: 1 | 2, text: string): Promise<void> {
  if (bun) {
    await bun.write(fd === 1 ? bun.stdout : bun.stderr, text);
    return;
  }
  const { writeSync } = process.getBuiltinModule("node:fs");
  const buf = new TextEncoder().encode(text);
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      // A non-blocking pipe that is full: try again (the reader is draining it).
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
    }
  }
}

/**
 * `HOST:PORT`, `[v6]:PORT` or `:PORT` (every IPv4 and IPv6 address, see
 * Address.anyFamily). `localhost` is taken to mean 127.0.0.1, never looked
 * up: a name is resolved by whatever the pod's resolver says (an /etc/hosts
 * entry, a search domain), and the webhook, which creates Services without
 * authentication, must bind the loopback address it was promised (sidecar.ts
 * checks the bound address too).
 */
export function parseAddress(text: string): Address {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`invalid address "${text}" (want HOST:PORT)`);
  const hostname = m[1] ?? m[2];
  if (!hostname) return { hostname: "::", port, anyFamily: true };
  return { hostname: hostname.toLowerCase() === "localhost" ? "127.0.0.1" : hostname, port };
}

/** 127.0.0.0/8, ::1 (bracketed or not) and `localhost`: this pod's own network namespace. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Errors that mean "no IPv6 here" when binding [::]: EAFNOSUPPORT (kernel
 * built or booted without IPv6), EADDRNOTAVAIL. Bun reports some bind
 * failures without a code; its message names the family then.
 */
function noIPv6(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return e?.code === "EAFNOSUPPORT" || e?.code === "EADDRNOTAVAIL" || /address family not supported/i.test(String(e?.message));
}

/** Runs `bindTo` on [::] for an anyFamily address, retrying on 0.0.0.0 where the kernel has no IPv6. */
async function bindAnyFamily<T>(address: Address, bindTo: (a: Address) => T | Promise<T>): Promise<{ result: T; ipv4Only: boolean }> {
  if (!address.anyFamily) return { result: await bindTo(address), ipv4Only: false };
  try {
    return { result: await bindTo(address), ipv4Only: false };
  } catch (err) {
    if (!noIPv6(err)) throw err;
    return { result: await bindTo({ hostname: "0.0.0.0", port: address.port }), ipv4Only: true };
  }
}

const adapter = () => (isDeno ? import("./deno.ts") : import("./bun.ts"));

// deno-lint-ignore no-explicit-any
export async function listen(app: Elysia<any, any, any, any, any, any, any>, address: Address): Promise<Listener> {
  const a = await adapter();
  const { result, ipv4Only } = await bindAnyFamily(address, (addr) => a.listen(app, addr));
  return ipv4Only ? { ...result, ipv4Only } : result;
}

/** A LocalHttp for servers presenting certificates for `serverName`; made on first use. */
export function localHttp(serverName: string): LocalHttp {
  let made: Promise<LocalHttp> | undefined;
  const get = () => (made ??= adapter().then((a) => a.localHttp(serverName)));
  return {
    request: async (url, r) => (await get()).request(url, r),
    close: () => void made?.then((h) => h.close()), // closing twice is harmless on both adapters
  };
}

/**
 * Start-up check that every listen address can be bound, before the sidecar
 * spends up to 10 s on its first read of the cluster: a port that is taken
 * is reported at once, naming the flag, instead of after the wait. All
 * sockets stay open until all are checked, so two flags naming one port are
 * caught too; then they are closed and the real servers bind.
 */
export async function checkBindable(addresses: ReadonlyArray<{ flag: string; value: string }>): Promise<void> {
  const { holdPort } = await adapter();
  const held: HeldPort[] = [];
  try {
    for (const { flag, value } of addresses) {
      held.push(
        await bindAnyFamily(parseAddress(value), (a) => holdPort(a.hostname, a.port)).then(
          (b) => b.result,
          (err: NodeJS.ErrnoException) => {
            throw new InputError(`${flag} ${value}`, "", reasonOf(err));
          },
        ),
      );
    }
  } finally {
    await Promise.all(held.map((h) => h.close()));
  }
}

function reasonOf(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "address already in use (another process, or another of the three address flags, holds this port)";
    case "EACCES":
      return "permission denied (ports below 1024 need privileges)";
    case "EADDRNOTAVAIL":
      return "address not available on this host";
    default:
      return `cannot listen: ${err.code ?? err.message}`;
  }
}
