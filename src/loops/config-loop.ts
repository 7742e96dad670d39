/**
 * The sidecar's one loop (configmap-reload style): watch the Tenant and its
 * configuration Secret, regenerate the config on every change, write it when
 * valid and changed. Invalid input never crashes the process and never
 * replaces the last good file: the error is logged and kept for /status and
 * /metrics until a later change fixes it (the Go sidecar's os.Exit in a
 * watch handler crash-looped every pod on one bad Secret edit).
 */
import type { Logger } from "pino";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { generateConfig, type Generated } from "../config/generate.ts";
import { describe, InputError } from "../errors.ts";
import type { Tenant } from "../tenant/schema.ts";
import { type Kube, type KubeError } from "../kube/client.ts";
import { ObjectWatch, type ObjectSource, type WatchStatus, type WatchTimings } from "../kube/object-watch.ts";
import { ACTIONS, REASONS, tenantRegarding, type EventRecorder } from "../kube/events.ts";
import { secretSource, tenantSource, type RawObject } from "../kube/sources.ts";
import { Backoff, Sleeper } from "../retry.ts";
import type { Metrics } from "../metrics.ts";

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
  watchTimings?: Partial<WatchTimings>;
  /** Configuration problems and the recovery, as Events regarding the Tenant (SPEC 4). */
  events?: EventRecorder;
}

/**
 * Which objects the file on disk was rendered from: their uid and
 * resourceVersion. This, not a digest of the file, is how /status and the
 * sidecar API say which configuration is on disk (SPEC 6): the file holds the
 * root password next to values anyone can derive from the Tenant, so any
 * unkeyed hash of it (or of a Secret value) published on a port the whole pod
 * network reaches would let anyone confirm a guessed password offline.
 */
export interface ConfigInputs {
  tenant: ObjectIdentity;
  secret: ObjectIdentity;
}

export interface ObjectIdentity {
  name: string;
  uid: string | null;
  resourceVersion: string | null;
}

/** What /status shows: names, input identifiers, times, states, the last error. Never a value, nor anything computed from one. */
export interface ControllerStatus {
  tenant: string;
  namespace: string;
  secret: string;
  configFile: string;
  /** The inputs of the last valid configuration (the file on disk); null before the first. */
  inputs: ConfigInputs | null;
  lastWriteTime?: string;
  configValid: boolean;
  lastError?: string;
  lastErrorTime?: string;
  watches: WatchStatus[];
}

/**
 * What the controller knows of one object: not read yet (a first LIST is
 * pending or failing transiently), read (present or absent), or unreadable
 * for a reason retrying will not fix by itself (403, 401, ...).
 */
type Observed = { state: "unseen" } | { state: "read"; object?: RawObject } | { state: "unreadable"; reason: string; status?: number };
const UNSEEN: Observed = { state: "unseen" };

/** Retrying a failed file write: 500 ms doubling to 30 s. */
const WRITE_RETRY = { baseMs: 500, capMs: 30_000 };

export class ConfigController {
  private tenant: Observed = UNSEEN;
  private secret: Observed = UNSEEN;
  private tenantWatch?: ObjectWatch<RawObject>;
  private secretWatch?: ObjectWatch<RawObject>;
  private secretName: string;
  private running?: Promise<void>;
  private dirty = false;
  private stopped = false;
  private current?: { generated: Generated; inputs: ConfigInputs; writtenAt?: Date };
  private lastError?: { message: string; at: Date };
  private firstSync?: () => void;
  private readonly writeBackoff = new Backoff(WRITE_RETRY);
  private readonly writeSleeper = new Sleeper();
  private writeRetrying = false;
  /** What the last problem Event reported: the problem and the inputs it came from. */
  private reported?: string;
  /** Resolves once both objects have been read and a first config attempt was made. */
  readonly synced: Promise<void>;

  constructor(private readonly o: ControllerOptions) {
    this.secretName = o.secretName;
    this.synced = new Promise((resolve) => (this.firstSync = resolve));
  }

  /** The last valid configuration (for the sidecar API and bucket reconcile). */
  get config(): { tenant: Tenant; env: ReadonlyMap<string, string> } | undefined {
    const c = this.current;
    return c && { tenant: c.generated.tenant, env: c.generated.env };
  }

  /** The latest Tenant object as seen by the watch (uid for ownerReferences), valid or not. */
  get tenantObject(): RawObject | undefined {
    return this.tenant.state === "read" ? this.tenant.object : undefined;
  }

  /** Both watch loops, for /healthz. */
  get watches(): ObjectWatch<RawObject>[] {
    return [this.tenantWatch, this.secretWatch].filter((w): w is ObjectWatch<RawObject> => !!w);
  }

  start(): this {
    const { namespace, tenantName, log } = this.o;
    log.info({ tenant: tenantName, namespace, secretName: this.secretName, configFile: this.o.configFile }, "starting watches");
    this.tenantWatch = this.watch(tenantSource(namespace, tenantName), (o) => this.onTenant(o));
    this.secretWatch = this.watchSecret(this.secretName);
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.writeSleeper.wake(true);
    await Promise.all([this.tenantWatch?.stop(), this.secretWatch?.stop()]);
    await this.running;
  }

  status(): ControllerStatus {
    return {
      tenant: this.o.tenantName,
      namespace: this.o.namespace,
      secret: this.secretName,
      configFile: this.o.configFile,
      inputs: this.current?.inputs ?? null,
      lastWriteTime: this.current?.writtenAt?.toISOString(),
      configValid: this.lastError === undefined && this.current !== undefined,
      lastError: this.lastError?.message,
      lastErrorTime: this.lastError?.at.toISOString(),
      watches: this.watches.map((w) => w.status),
    };
  }

  /** A watch whose events reach `on` only while it is the current watch of its object. */
  private watch(source: ObjectSource, on: (o: Observed) => void): ObjectWatch<RawObject> {
    const w: ObjectWatch<RawObject> = new ObjectWatch<RawObject>(this.o.kube, source, (object) => this.isCurrent(w) && on({ state: "read", object }), {
      log: this.o.log,
      timings: this.o.watchTimings,
      onRestart: (kind) => this.o.metrics.watchRestarts.inc({ kind }),
      onError: (err: KubeError) => this.isCurrent(w) && on({ state: "unreadable", reason: `cannot be read: ${describe(err)}`, status: err.statusCode }),
    });
    return w.start();
  }

  private isCurrent(w: ObjectWatch<RawObject>) {
    return !this.stopped && (w === this.tenantWatch || w === this.secretWatch);
  }

  private watchSecret(name: string) {
    return this.watch(secretSource(this.o.namespace, name), (o) => {
      this.secret = o;
      this.schedule();
    });
  }

  private onTenant(t: Observed) {
    this.tenant = t;
    // Follow spec.configuration.name to a new Secret (SPEC 4). Events of the old watch are
    // ignored from here on (isCurrent), so a late DELETED cannot mark the new Secret missing.
    const spec = t.state === "read" ? (t.object?.spec as { configuration?: { name?: unknown } } | undefined) : undefined;
    const wanted = spec?.configuration?.name;
    if (typeof wanted === "string" && wanted && wanted !== this.secretName) {
      this.o.log.info({ from: this.secretName, to: wanted }, "Tenant spec.configuration.name changed; following the new Secret");
      const old = this.secretWatch;
      this.secretName = wanted;
      this.secret = UNSEEN;
      this.secretWatch = this.watchSecret(wanted);
      void old?.stop();
    }
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

  /**
   * An invalid configuration as an Event regarding the Tenant: once per occurrence, i.e. per
   * problem and inputs (the resourceVersions of the Tenant and the Secret, or why they are
   * unreadable). The same objects delivered again by a re-list, a reconnect or a restarted
   * watch are no new occurrence and report nothing; a new edit that is still invalid is one
   * (the recorder counts it, and writes it at most once per 30 minutes). Needs the Tenant's
   * uid, so not while it is unread.
   */
  private reportEvent(message: string) {
    const regarding = tenantRegarding(this.tenantObject, this.o.namespace);
    if (!regarding || !this.o.events) return;
    const occurrence = JSON.stringify([message, inputOf(this.tenant), inputOf(this.secret)]);
    if (occurrence === this.reported) return;
    this.reported = occurrence;
    const secret = this.secret.state === "unreadable" ? this.secret.status : this.secret.state === "read" && !this.secret.object ? 404 : undefined;
    const reason = secret === 404 ? REASONS.SecretNotFound : secret === 403 ? REASONS.SecretForbidden : REASONS.ConfigInvalid;
    this.o.events.report(regarding, "Warning", reason, `last good config file kept: ${message}`, ACTIONS.Apply);
  }

  /** A failed write (full or read-only volume) is retried by itself; invalid input waits for the next change. */
  private async retryWrite() {
    if (this.writeRetrying || this.stopped) return;
    this.writeRetrying = true;
    await this.writeSleeper.sleep(this.writeBackoff.next());
    this.writeRetrying = false;
    if (!this.stopped) this.schedule();
  }

  /**
   * Regenerate from the current objects. config_valid (SPEC 5) is 1 only while
   * the file is what the Tenant and the Secret it names produce: an object that
   * cannot be read for a reason other than a transient one makes it 0 at once;
   * one not read yet (first LIST pending or retrying) leaves things as they are.
   */
  private async regenerate(): Promise<void> {
    const { namespace, tenantName, log, metrics } = this.o;
    const tenantRef = `Tenant ${namespace}/${tenantName}`;
    const secretRef = `Secret ${namespace}/${this.secretName}`;
    const unreadable = this.tenant.state === "unreadable" || this.secret.state === "unreadable";
    if (!unreadable && (this.tenant.state === "unseen" || this.secret.state === "unseen")) return;
    try {
      if (this.tenant.state === "unreadable") throw new InputError(tenantRef, "", this.tenant.reason);
      if (this.secret.state === "unreadable") throw new InputError(secretRef, "", this.secret.reason);
      const tenant = this.tenant.state === "read" ? this.tenant.object : undefined;
      const secret = this.secret.state === "read" ? this.secret.object : undefined;
      if (!tenant) throw new InputError(tenantRef, "", "not found");
      if (!secret) throw new InputError(secretRef, "", "not found");
      const generated = await generateConfig({ tenant, secret, namespace, clusterDomain: this.o.clusterDomain });
      for (const w of generated.warnings) log.warn(w);
      const inputs = { tenant: identity(tenant, tenantName), secret: identity(secret, this.secretName) };
      const written = await writeFileAtomic(this.o.configFile, generated.content);
      const writtenAt = written ? new Date() : this.current?.writtenAt;
      this.current = { generated, inputs, writtenAt };
      if (written) {
        metrics.configWrites.inc();
        log.info({ configFile: this.o.configFile, ...logged(inputs) }, "config file written");
      }
      if (this.lastError) log.info("configuration valid again");
      const regarding = tenantRegarding(tenant, namespace);
      if (regarding) this.o.events?.recovered(regarding, `config file written from ${tenantRef} and ${secretRef}`);
      this.reported = undefined;
      this.writeBackoff.reset();
      this.lastError = undefined;
      metrics.configValid.set(1);
    } catch (err) {
      const message = describe(err);
      const reason = err instanceof InputError ? "invalid" : "write";
      metrics.configErrors.inc({ reason });
      metrics.configValid.set(0);
      // The same problem reported again (a re-list, a repeated 403) is one error, not a new one.
      if (this.lastError?.message !== message) {
        this.lastError = { message, at: new Date() };
        log.error({ reason, ...(this.current ? logged(this.current.inputs, "kept") : {}) }, `config not updated, keeping the last good file: ${message}`);
      }
      if (reason === "write") void this.retryWrite();
      else this.reportEvent(message);
    } finally {
      this.firstSync?.();
      this.firstSync = undefined;
    }
  }
}

function identity(object: RawObject, name: string): ObjectIdentity {
  const md = object.metadata;
  return { name, uid: md?.uid ?? null, resourceVersion: md?.resourceVersion ?? null };
}

/**
 * The inputs as flat log fields: the logger censors any key named `secret`
 * (log/logger.ts), so the Secret's identity gets names of its own.
 */
function logged(inputs: ConfigInputs, prefix = "") {
  const key = (k: string) => (prefix ? `${prefix}${k[0]!.toUpperCase()}${k.slice(1)}` : k);
  return {
    [key("tenantResourceVersion")]: inputs.tenant.resourceVersion,
    [key("secretName")]: inputs.secret.name,
    [key("secretResourceVersion")]: inputs.secret.resourceVersion,
  };
}

/** What an occurrence of a problem is made of, for one input: its resourceVersion, or its state. */
function inputOf(o: Observed): string {
  if (o.state !== "read") return o.state === "unreadable" ? `unreadable ${o.status ?? ""}` : "unseen";
  return o.object ? `rv ${o.object.metadata?.resourceVersion ?? ""}` : "absent";
}
