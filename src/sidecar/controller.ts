/**
 * The sidecar's one loop (configmap-reload style): watch the Tenant and its
 * configuration Secret, regenerate the config on every change, write it when
 * valid and changed. Invalid input never crashes the process and never
 * replaces the last good file: the error is logged and kept for /status and
 * /metrics until a later change fixes it (the Go sidecar's os.Exit in a
 * watch handler crash-looped every pod on one bad Secret edit).
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { generateConfig, type Generated } from "../config/generate.ts";
import { describe, InputError } from "../errors.ts";
import type { Tenant } from "../tenant/schema.ts";
import { backoffDelay, type BackoffOptions } from "../kube/backoff.ts";
import type { Kube } from "../kube/client.ts";
import { ObjectWatch, type WatchStatus } from "../kube/object-watch.ts";
import { secretSource, tenantSource, type RawObject } from "../kube/sources.ts";
import type { Metrics } from "./metrics.ts";

export interface ControllerOptions {
  kube: Kube;
  namespace: string;
  tenantName: string;
  /** From --config-name; replaced by the Tenant's spec.configuration.name once seen. */
  secretName: string;
  configFile: string;
  clusterDomain: string;
  log: Logger;
  metrics: Metrics;
  backoff?: BackoffOptions;
  resyncMs?: number;
}

/** What /status shows: names, hashes, times, states, the last error. Never a value. */
export interface ControllerStatus {
  tenant: string;
  namespace: string;
  secret: string;
  configFile: string;
  configSha256?: string;
  lastWriteTime?: string;
  configValid: boolean;
  lastError?: string;
  lastErrorTime?: string;
  watches: WatchStatus[];
}

const UNSEEN = Symbol("unseen");
/** Retrying a failed file write: 500 ms doubling to 30 s. */
const WRITE_RETRY: BackoffOptions = { baseMs: 500, capMs: 30_000 };

export class ConfigController {
  private tenantObj: RawObject | undefined | typeof UNSEEN = UNSEEN;
  private secretObj: RawObject | undefined | typeof UNSEEN = UNSEEN;
  private tenantWatch?: ObjectWatch<RawObject>;
  private secretWatch?: ObjectWatch<RawObject>;
  private secretName: string;
  private running?: Promise<void>;
  private dirty = false;
  private stopped = false;
  private current?: { generated: Generated; sha256: string; writtenAt?: Date };
  private lastError?: { message: string; at: Date };
  private firstSync?: () => void;
  private writeRetry?: ReturnType<typeof setTimeout>;
  private writeFailures = 0;
  /** Resolves once both objects have been read and a first config attempt was made. */
  readonly synced: Promise<void>;

  constructor(private readonly o: ControllerOptions) {
    this.secretName = o.secretName;
    this.synced = new Promise((resolve) => (this.firstSync = resolve));
  }

  /** The last valid configuration (for the sidecar API and bucket reconcile). */
  get config(): { tenant: Tenant; env: ReadonlyMap<string, string>; sha256: string } | undefined {
    const c = this.current;
    return c && { tenant: c.generated.tenant, env: c.generated.env, sha256: c.sha256 };
  }

  /** The latest Tenant object as seen by the watch (uid for ownerReferences), valid or not. */
  get tenantObject(): RawObject | undefined {
    return this.tenantObj === UNSEEN ? undefined : this.tenantObj;
  }

  start(): this {
    const { kube, namespace, tenantName, log } = this.o;
    log.info({ tenant: tenantName, namespace, secretName: this.secretName, configFile: this.o.configFile }, "starting watches");
    this.tenantWatch = this.watch(tenantSource(kube, namespace, tenantName), (t) => this.onTenant(t)).start();
    this.secretWatch = this.watch(secretSource(kube, namespace, this.secretName), (s) => this.onSecret(s)).start();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.writeRetry);
    await Promise.all([this.tenantWatch?.stop(), this.secretWatch?.stop()]);
    await this.running;
  }

  status(): ControllerStatus {
    return {
      tenant: this.o.tenantName,
      namespace: this.o.namespace,
      secret: this.secretName,
      configFile: this.o.configFile,
      configSha256: this.current?.sha256,
      lastWriteTime: this.current?.writtenAt?.toISOString(),
      configValid: this.lastError === undefined && this.current !== undefined,
      lastError: this.lastError?.message,
      lastErrorTime: this.lastError?.at.toISOString(),
      watches: [this.tenantWatch?.status, this.secretWatch?.status].filter((s): s is WatchStatus => !!s),
    };
  }

  private watch(source: ReturnType<typeof tenantSource>, onObject: (o: RawObject | undefined) => void) {
    return new ObjectWatch(this.o.kube, source, onObject, {
      log: this.o.log,
      backoff: this.o.backoff,
      resyncMs: this.o.resyncMs,
      onRestart: (kind) => this.o.metrics.watchRestarts.inc({ kind }),
    });
  }

  private onTenant(t: RawObject | undefined) {
    this.tenantObj = t;
    // Follow spec.configuration.name to a new Secret (SPEC 4).
    const wanted = (t?.spec as { configuration?: { name?: unknown } } | undefined)?.configuration?.name;
    if (typeof wanted === "string" && wanted && wanted !== this.secretName && !this.stopped) {
      this.o.log.info({ from: this.secretName, to: wanted }, "Tenant spec.configuration.name changed; following the new Secret");
      this.secretName = wanted;
      this.secretObj = UNSEEN;
      const old = this.secretWatch;
      void old?.stop();
      this.secretWatch = this.watch(secretSource(this.o.kube, this.o.namespace, wanted), (s) => this.onSecret(s)).start();
    }
    this.schedule();
  }

  private onSecret(s: RawObject | undefined) {
    // A late event from a Secret we no longer follow is ignored.
    if (s && s.metadata?.name !== this.secretName) return;
    this.secretObj = s;
    this.schedule();
  }

  /** Regenerations run one at a time; changes arriving meanwhile coalesce into one more run on the latest objects. */
  private schedule() {
    this.dirty = true;
    this.running ??= (async () => {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        await this.regenerate();
      }
      this.running = undefined;
    })();
  }

  private retryWrite() {
    if (this.writeRetry || this.stopped) return;
    const delay = backoffDelay(this.writeFailures++, WRITE_RETRY);
    this.writeRetry = setTimeout(() => {
      this.writeRetry = undefined;
      this.schedule();
    }, delay);
  }

  private async regenerate(): Promise<void> {
    if (this.tenantObj === UNSEEN || this.secretObj === UNSEEN) return;
    const { namespace, tenantName, log, metrics } = this.o;
    try {
      if (!this.tenantObj) throw new InputError(`Tenant ${namespace}/${tenantName}`, "", "not found");
      if (!this.secretObj) throw new InputError(`Secret ${namespace}/${this.secretName}`, "", "not found");
      const generated = generateConfig({
        tenant: this.tenantObj,
        secret: this.secretObj,
        namespace,
        clusterDomain: this.o.clusterDomain,
      });
      for (const w of generated.warnings) log.warn(w);
      const sha256 = createHash("sha256").update(generated.content).digest("hex");
      const written = await writeFileAtomic(this.o.configFile, generated.content);
      const writtenAt = written ? new Date() : this.current?.writtenAt;
      this.current = { generated, sha256, writtenAt };
      if (written) {
        metrics.configWrites.inc();
        log.info({ sha256, configFile: this.o.configFile }, "config file written");
      }
      if (this.lastError) log.info("configuration valid again");
      this.writeFailures = 0;
      this.lastError = undefined;
      metrics.configValid.set(1);
    } catch (err) {
      const message = describe(err);
      const reason = err instanceof InputError ? "invalid" : "write";
      metrics.configErrors.inc({ reason });
      metrics.configValid.set(0);
      this.lastError = { message, at: new Date() };
      log.error({ reason, keptSha256: this.current?.sha256 }, `config not updated, keeping the last good file: ${message}`);
      // Invalid input waits for the next change; a failed write (full or read-only volume) is retried by itself.
      if (reason === "write") this.retryWrite();
    } finally {
      this.firstSync?.();
      this.firstSync = undefined;
    }
  }
}
