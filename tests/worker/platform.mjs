// The platform rules Cloudflare enforces and Miniflare does not, made explicit so the harness fails where
// production would:
//
// * Subrequests per invocation (https://developers.cloudflare.com/workers/platform/limits/): on the Free
//   plan 50 `fetch()` calls and 1,000 calls to Cloudflare services (D1, KV, R2); on the Paid plan 10,000 of
//   either by default. Past the limit every further call throws, as workerd does.
// * Workers KV is eventually consistent: a write is seen at once where it was made, elsewhere only after a
//   delay (60 s or more in production). Each isolate gets its own view; a write made through one isolate
//   is visible to the others only after `delayMs`.
// * Workers KV accepts one write per second per key; a faster write fails with 429.
//
// Invocations are told apart with AsyncLocalStorage: every call a Worker makes while handling one
// request or cron event (including its waitUntil work) is counted against that invocation.

import { AsyncLocalStorage } from "node:async_hooks";

export const PLANS = {
  free: { fetch: 50, services: 1000 },
  paid: { total: 10000 },
};

const invocation = new AsyncLocalStorage();

/** One Worker invocation: what it may spend and what it spent. */
export class Invocation {
  constructor(kind, plan = "free") {
    if (plan !== null && !PLANS[plan]) throw new Error(`unknown plan ${plan}`);
    this.kind = kind;
    this.plan = plan;
    this.fetch = 0;
    this.services = 0;
    this.refused = 0;
  }

  get subrequests() {
    return this.fetch + this.services;
  }

  /** Count one subrequest; throws the platform's error when the plan's limit is already used up. */
  charge(kind) {
    const limits = PLANS[this.plan];
    const over =
      limits.total !== undefined ? this.subrequests >= limits.total : this[kind] >= limits[kind];
    if (over) {
      this.refused += 1;
      throw new Error(
        kind === "fetch" ? "Too many subrequests." : "Too many API requests by single Worker invocation.",
      );
    }
    this[kind] += 1;
  }

  /** Run `work` as this invocation: every binding call and fetch inside it is charged here. */
  run(work) {
    // plan null: not metered (benchmarks of CPU per request, where AsyncLocalStorage's own cost would count).
    return this.plan === null ? work() : invocation.run(this, work);
  }
}

/** The invocation the caller is part of, or undefined (test set-up code outside any invocation). */
export const currentInvocation = () => invocation.getStore();

function charged(kind, call) {
  const current = currentInvocation();
  if (current) {
    try {
      current.charge(kind);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return call();
}

/** `fetch` as a Worker sees it: each call is a subrequest of the current invocation. */
export function meteredFetch(realFetch) {
  return (...args) => charged("fetch", () => realFetch(...args));
}

// Methods that reach a Cloudflare service (one subrequest each); the others (prepare, bind) are local.
const SERVICE_CALLS = {
  D1Database: new Set(["batch", "exec", "dump"]),
  D1PreparedStatement: new Set(["all", "run", "first", "raw"]),
  KvNamespace: new Set(["get", "getWithMetadata", "put", "delete", "list"]),
  R2Bucket: new Set(["get", "put", "head", "delete", "list", "createMultipartUpload", "resumeMultipartUpload"]),
};

// Miniflare serialises batch() statements itself, so it must get its own objects back, not our proxies.
const unwrapped = new WeakMap();
const unwrap = (value) => (Array.isArray(value) ? value.map((v) => unwrapped.get(v) ?? v) : value);

/**
 * A binding as workerd hands it to a Worker: a class named like workerd's (the workers SDK checks
 * `constructor.name`), every service call charged to the current invocation.
 */
export function binding(name, target) {
  const Class = { [name]: class {} }[name];
  const calls = SERVICE_CALLS[name] ?? new Set();
  const proxy = new Proxy(new Class(), {
    get(_t, prop) {
      if (prop === "constructor") return Class;
      if (prop === "then") return undefined;
      const value = target[prop];
      if (typeof value !== "function") return value;
      return (...args) => {
        const call = () => value.apply(target, prop === "batch" ? args.map(unwrap) : args);
        if (calls.has(prop)) return charged("services", call);
        const result = call();
        if (name === "D1Database" && prop === "prepare") return binding("D1PreparedStatement", result);
        if (name === "D1PreparedStatement" && prop === "bind") return binding("D1PreparedStatement", result);
        return result;
      };
    },
  });
  unwrapped.set(proxy, target);
  return proxy;
}

/** What every isolate's KV view shares: recent writes (for delayed visibility) and per-key write times. */
export class KvNetwork {
  constructor(store, delayMs) {
    this.store = store; // Miniflare's KV namespace: the durable state every location converges to
    this.delayMs = delayMs;
    this.writes = new Map(); // key -> [{at, by, before}] in time order, pruned after delayMs
    this.lastWrite = new Map(); // key -> ms of the last accepted write (1 write/s/key)
  }

  recent(key, now) {
    const list = (this.writes.get(key) ?? []).filter((w) => now - w.at < this.delayMs);
    if (list.length) this.writes.set(key, list);
    else this.writes.delete(key);
    return list;
  }

  /** The first write another isolate made that `isolate` cannot see yet, if any. */
  unseen(key, isolate) {
    return this.recent(key, Date.now()).find((w) => w.by !== isolate);
  }

  async write(key, isolate, apply) {
    const now = Date.now();
    if (now - (this.lastWrite.get(key) ?? -Infinity) < 1000) {
      throw new Error("KV PUT failed: 429 Too Many Requests");
    }
    this.lastWrite.set(key, now);
    const before = this.delayMs > 0 ? await this.store.getWithMetadata(key, { type: "arrayBuffer" }) : null;
    await apply();
    if (this.delayMs > 0) this.writes.set(key, [...this.recent(key, now), { at: now, by: isolate, before }]);
  }

  /** The KV namespace as one isolate sees it. */
  view(isolate) {
    const network = this;
    const store = this.store;
    const stale = (key) => network.unseen(key, isolate)?.before;
    const decode = (found, type) => {
      if (!found || found.value === null) return null;
      const bytes = new Uint8Array(found.value);
      if (type === "arrayBuffer") return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const text = new TextDecoder().decode(bytes);
      return type === "json" ? JSON.parse(text) : text;
    };
    const typeOf = (options) => (typeof options === "string" ? options : options?.type ?? "text");
    return {
      async get(key, options) {
        const before = stale(key);
        return before !== undefined ? decode(before, typeOf(options)) : store.get(key, options);
      },
      async getWithMetadata(key, options) {
        const before = stale(key);
        if (before === undefined) return store.getWithMetadata(key, options);
        return { value: decode(before, typeOf(options)), metadata: before?.value === null ? null : before?.metadata ?? null };
      },
      put: (key, value, options) => network.write(key, isolate, () => store.put(key, value, options)),
      delete: (key) => network.write(key, isolate, () => store.delete(key)),
      list: (options) => store.list(options),
    };
  }
}
