// The object store: one global, monotonically increasing resourceVersion (like
// etcd's revision), a bounded event history for watch replay, and the write
// semantics of the generic registry (k8s.io/apiserver/pkg/registry/generic/registry).

import { randomUUID } from "node:crypto";
import { ApiError, errors, qualifiedResource } from "./errors.ts";
import { canonical, clone, jsonPatch, mergePatch, strategicMergePatch } from "./patch.ts";
import { apiVersionOf, validateObjectMeta, type InvalidCause, type KObject, type ResourceContext, type ResourceType } from "./resources.ts";

export type StoreEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: StoreEventType;
  rt: ResourceType;
  /** Object after the change (for DELETED: last state, with the deletion's resourceVersion). */
  object: KObject;
  /** Object before the change (MODIFIED / DELETED). */
  prev?: KObject;
  rv: number;
}

/**
 * Which part of the object a write may change.
 *  - "main":   the resource endpoint; `.status` is ignored when the type has a status subresource.
 *  - "status": the `/status` subresource; only `.status` changes.
 *  - "all":    direct test writes; everything changes.
 */
export type WriteScope = "main" | "status" | "all";

export interface WriteOptions {
  scope?: WriteScope;
  dryRun?: boolean;
}

export type PatchType = "merge" | "strategic" | "json";

export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

const SYSTEM_META = ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] as const;
const META_ORDER = [
  "name",
  "generateName",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
];

export function nowTimestamp(): string {
  // metav1.Time serialises with second precision.
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** kind, apiVersion, metadata first (in the apiserver's field order), then the rest. */
function normalize(rt: ResourceType, obj: KObject): KObject {
  const md: KObject = obj.metadata ?? {};
  const orderedMd: KObject = {};
  for (const k of META_ORDER) if (md[k] !== undefined) orderedMd[k] = md[k];
  for (const [k, v] of Object.entries(md)) if (!(k in orderedMd) && v !== undefined && k !== "selfLink") orderedMd[k] = v;
  const out: KObject = { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: orderedMd };
  for (const [k, v] of Object.entries(obj)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

function withoutVolatile(obj: KObject): unknown {
  const c = clone(obj);
  if (c.metadata) {
    delete c.metadata.resourceVersion;
    delete c.metadata.managedFields;
  }
  return canonical(c);
}

/** Everything that bumps metadata.generation of a custom resource. */
function specPart(obj: KObject): unknown {
  const { metadata: _m, status: _s, kind: _k, apiVersion: _a, ...rest } = obj;
  return canonical(rest);
}

const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";

export class Store implements ResourceContext {
  private rv: number;
  private readonly objects = new Map<ResourceType, Map<string, KObject>>();
  private history: StoreEvent[] = [];
  private compactedRv: number;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private ipCounter = 10;

  constructor(
    readonly historyLimit: number,
    initialResourceVersion = 1,
  ) {
    this.rv = initialResourceVersion;
    this.compactedRv = initialResourceVersion;
  }

  /** Current global resourceVersion (etcd revision). */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Watches starting at a resourceVersion below this get 410 Gone. */
  get oldestWatchableResourceVersion(): number {
    return this.compactedRv;
  }

  allocateClusterIP(): string {
    const n = this.ipCounter++;
    // 10.96.0.0/12
    return `10.${96 + ((n >> 16) & 0x0f)}.${(n >> 8) & 0xff}.${n & 0xff}`;
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events after `rv`, or "expired" if some of them were already dropped from history. */
  eventsSince(rv: number): StoreEvent[] | "expired" {
    if (rv < this.compactedRv) return "expired";
    return this.history.filter((e) => e.rv > rv);
  }

  /**
   * What a restarted kube-apiserver looks like: its own start-up writes (its
   * identity Lease) move the revision on without touching any object here, and
   * its fresh watch cache starts there, so a watch resumed from any earlier
   * resourceVersion gets 410 (`too old resource version`), as measured.
   */
  restartWatchCache(): void {
    this.rv++;
    this.compact();
  }

  /** Forget all history: every watch from a resourceVersion older than the current one gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  private bucket(rt: ResourceType): Map<string, KObject> {
    let b = this.objects.get(rt);
    if (!b) {
      b = new Map();
      this.objects.set(rt, b);
    }
    return b;
  }

  private key(rt: ResourceType, ns: string, name: string): string {
    return rt.namespaced ? `${ns}/${name}` : name;
  }

  get(rt: ResourceType, ns: string, name: string): KObject | undefined {
    return clone(this.bucket(rt).get(this.key(rt, ns, name)));
  }

  /** All objects of a type (in one namespace, or all if ns is undefined), in etcd key order. */
  list(rt: ResourceType, ns?: string): KObject[] {
    const out: Array<[string, KObject]> = [];
    for (const [k, o] of this.bucket(rt)) {
      if (ns !== undefined && rt.namespaced && o.metadata?.namespace !== ns) continue;
      out.push([k, o]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, o]) => clone(o));
  }

  private commit(type: StoreEventType, rt: ResourceType, object: KObject, prev?: KObject): void {
    const ev: StoreEvent = { type, rt, object: clone(object), rv: this.rv };
    if (prev) ev.prev = clone(prev);
    this.history.push(ev);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift()!;
      this.compactedRv = Math.max(this.compactedRv, dropped.rv);
    }
    for (const l of [...this.listeners]) {
      try {
        l(ev);
      } catch (e) {
        console.error("fake-apiserver: watch listener failed", e);
      }
    }
  }

  private checkTypeMeta(rt: ResourceType, obj: KObject): void {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw errors.badRequest(`the object provided is unrecognized (must be of type ${rt.kind})`);
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(rt))
      throw errors.badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(rt)})`);
    if (obj.kind !== undefined && obj.kind !== rt.kind) throw errors.badRequest(`the object provided is unrecognized (must be of type ${rt.kind}): kind ${obj.kind}`);
    if (obj.metadata !== undefined && (obj.metadata === null || typeof obj.metadata !== "object"))
      throw errors.badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: metadata must be an object`);
  }

  private validate(rt: ResourceType, obj: KObject, old: KObject | undefined): void {
    const causes: InvalidCause[] = [...validateObjectMeta(rt, obj), ...(rt.validate?.(obj, old) ?? [])];
    if (old) {
      const md = obj.metadata ?? {};
      if (old.metadata?.deletionTimestamp) {
        const before = new Set<string>(old.metadata.finalizers ?? []);
        for (const f of md.finalizers ?? []) {
          if (!before.has(f)) causes.push({ field: "metadata.finalizers", type: "FieldValueForbidden", detail: "no new finalizers can be added if the object is being deleted" });
        }
      }
    }
    if (causes.length) throw errors.invalid(rt, obj.metadata?.name ?? "", causes);
  }

  create(rt: ResourceType, ns: string, body: KObject, opts: WriteOptions = {}): KObject {
    this.checkTypeMeta(rt, body);
    const obj = clone(body);
    const md: KObject = (obj.metadata ??= {});
    if (md.resourceVersion !== undefined && md.resourceVersion !== "") {
      // etcd3 store: storage.ErrResourceVersionSetOnCreate, surfaced as a reason-less 500.
      throw errors.rawInternal("resourceVersion should not be set on objects to be created");
    }
    if (rt.namespaced) {
      if (md.namespace && md.namespace !== ns) throw errors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
      md.namespace = ns;
    } else delete md.namespace;
    if (!md.name && md.generateName) {
      let suffix = "";
      for (let i = 0; i < 5; i++) suffix += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
      md.name = `${md.generateName}${suffix}`;
    }
    if (opts.scope !== "all") {
      delete md.deletionTimestamp;
      delete md.deletionGracePeriodSeconds;
      if (rt.statusSubresource) delete obj.status; // status is only written through /status
    }
    rt.prepareCreate?.(obj, this);
    this.validate(rt, obj, undefined);
    const k = this.key(rt, ns, md.name);
    if (this.bucket(rt).has(k)) throw errors.alreadyExists(rt, md.name);

    md.uid = randomUUID();
    md.creationTimestamp = nowTimestamp();
    if (rt.custom) md.generation = 1;
    else delete md.generation;
    if (opts.dryRun) {
      delete md.resourceVersion;
      return normalize(rt, obj);
    }
    this.rv++;
    md.resourceVersion = String(this.rv);
    const stored = normalize(rt, obj);
    this.bucket(rt).set(k, stored);
    this.commit("ADDED", rt, stored);
    return clone(stored);
  }

  /**
   * PUT semantics. `isPatch` = the body is the result of applying a patch to the
   * current object (no resourceVersion then means "unconditional", even for CRs).
   */
  update(rt: ResourceType, ns: string, name: string, body: KObject, opts: WriteOptions & { isPatch?: boolean } = {}): KObject {
    this.checkTypeMeta(rt, body);
    const scope: WriteScope = opts.scope ?? "main";
    const k = this.key(rt, ns, name);
    const cur = this.bucket(rt).get(k);
    let obj = clone(body);
    const md: KObject = (obj.metadata ??= {});
    if (md.name !== undefined && md.name !== "" && md.name !== name)
      throw errors.badRequest(`the name of the object (${md.name}) does not match the name on the URL (${name})`);
    if (rt.namespaced && md.namespace && md.namespace !== ns)
      throw errors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
    if (!cur) throw errors.notFound(rt, name);
    md.name = name;
    if (rt.namespaced) md.namespace = ns;

    const rvGiven = md.resourceVersion !== undefined && md.resourceVersion !== "" && md.resourceVersion !== null;
    if (rvGiven) {
      if (String(md.resourceVersion) !== cur.metadata.resourceVersion) throw errors.conflict(rt, name);
    } else if (rt.custom && !opts.isPatch && scope !== "all") {
      throw errors.invalid(rt, name, [{ field: "metadata.resourceVersion", type: "FieldValueInvalid", value: 0, detail: "must be specified for an update" }], qualifiedResource(rt));
    }
    if (md.uid && md.uid !== cur.metadata.uid) {
      // Verbatim the storage layer's error that kube-apiserver passes through.
      const key = `/registry/${rt.group ? `${rt.group}/` : ""}${rt.resource}/${rt.namespaced ? `${ns}/` : ""}${name}`;
      throw errors.conflict(
        rt,
        name,
        `StorageError: invalid object, Code: 4, Key: ${key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${md.uid}, UID in object meta: ${cur.metadata.uid}`,
      );
    }

    if (scope === "status") {
      const next = clone(cur);
      if (obj.status === undefined) delete next.status;
      else next.status = obj.status;
      obj = next;
    } else {
      // System-owned metadata survives any update.
      for (const f of SYSTEM_META) {
        if (scope === "all" && f !== "uid" && f !== "creationTimestamp" && md[f] !== undefined) continue;
        if (cur.metadata[f] === undefined) delete md[f];
        else md[f] = clone(cur.metadata[f]);
      }
      if (scope === "main" && rt.statusSubresource) {
        if (cur.status === undefined) delete obj.status;
        else obj.status = clone(cur.status);
      }
      rt.prepareUpdate?.(obj, cur, this);
    }
    this.validate(rt, obj, cur);

    if (rt.custom) {
      const gen = Number(cur.metadata.generation ?? 1);
      obj.metadata.generation = JSON.stringify(specPart(obj)) !== JSON.stringify(specPart(cur)) ? gen + 1 : gen;
    }
    obj.metadata.resourceVersion = cur.metadata.resourceVersion;
    const next = normalize(rt, obj);

    // The last finalizer removed from an object being deleted: it goes away now.
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      if (opts.dryRun) return next;
      return this.removeNow(rt, k, cur, next);
    }
    // No-op updates do not bump resourceVersion and produce no watch event.
    if (JSON.stringify(withoutVolatile(next)) === JSON.stringify(withoutVolatile(cur))) return clone(cur);
    if (opts.dryRun) return next;
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    this.bucket(rt).set(k, next);
    this.commit("MODIFIED", rt, next, cur);
    return clone(next);
  }

  patch(rt: ResourceType, ns: string, name: string, type: PatchType, patchBody: unknown, opts: WriteOptions = {}): KObject {
    const cur = this.bucket(rt).get(this.key(rt, ns, name));
    if (!cur) throw errors.notFound(rt, name);
    let patched: unknown;
    if (type === "json") patched = jsonPatch(cur, patchBody);
    else {
      if (patchBody === null || typeof patchBody !== "object" || Array.isArray(patchBody))
        throw errors.badRequest(`error decoding patch: json: cannot unmarshal ${Array.isArray(patchBody) ? "array" : typeof patchBody} into Go value of type map[string]interface {}`);
      patched = type === "strategic" ? strategicMergePatch(cur, patchBody) : mergePatch(cur, patchBody);
    }
    if (patched === null || typeof patched !== "object" || Array.isArray(patched)) throw errors.badRequest("the patch produced an object that is not a JSON object");
    const obj = patched as KObject;
    obj.metadata ??= {};
    // A resourceVersion in the patch is a precondition; without one the patch is unconditional.
    if (obj.metadata.resourceVersion === undefined || obj.metadata.resourceVersion === null || obj.metadata.resourceVersion === "") {
      obj.metadata.resourceVersion = cur.metadata.resourceVersion;
    }
    return this.update(rt, ns, name, obj, { ...opts, isPatch: true });
  }

  private removeNow(rt: ResourceType, k: string, cur: KObject, last: KObject): KObject {
    this.rv++;
    const gone = clone(last);
    gone.metadata.resourceVersion = String(this.rv);
    this.bucket(rt).delete(k);
    this.commit("DELETED", rt, gone, cur);
    return clone(gone);
  }

  /** DELETE. `pending` = the object has finalizers and was only marked for deletion. */
  delete(rt: ResourceType, ns: string, name: string, opts: { preconditions?: DeletePreconditions; dryRun?: boolean } = {}): { object: KObject; pending: boolean } {
    const k = this.key(rt, ns, name);
    const cur = this.bucket(rt).get(k);
    if (!cur) throw errors.notFound(rt, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== cur.metadata.uid) throw errors.preconditionFailed(rt, name, "UID", pre.uid, cur.metadata.uid);
    if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)
      throw errors.preconditionFailed(rt, name, "ResourceVersion", pre.resourceVersion, cur.metadata.resourceVersion);
    if ((cur.metadata.finalizers ?? []).length > 0) {
      if (cur.metadata.deletionTimestamp || opts.dryRun) return { object: clone(cur), pending: true };
      const next = clone(cur);
      next.metadata.deletionTimestamp = nowTimestamp();
      next.metadata.deletionGracePeriodSeconds = 0;
      this.rv++;
      next.metadata.resourceVersion = String(this.rv);
      const normalized = normalize(rt, next);
      this.bucket(rt).set(k, normalized);
      this.commit("MODIFIED", rt, normalized, cur);
      return { object: clone(normalized), pending: true };
    }
    if (opts.dryRun) return { object: clone(cur), pending: false };
    return { object: this.removeNow(rt, k, cur, cur), pending: false };
  }
}

export { ApiError };
