/** A small reader of the Prometheus text exposition format, for assertions on /metrics. */

export interface Exposition {
  /** `name{a="x",b="y"}` (labels as exposed, in exposed order) or `name` -> value. */
  samples: Map<string, number>;
  help: Map<string, string>;
  type: Map<string, string>;
}

export function parseExposition(text: string): Exposition {
  const e: Exposition = { samples: new Map(), help: new Map(), type: new Map() };
  for (const line of text.split("\n")) {
    if (!line) continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === "HELP" ? e.help : e.type).set(meta[2]!, meta[3]!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    e.samples.set(m[1]!, Number(m[2]));
  }
  return e;
}

/** The value of one sample, 0 when absent (a counter not yet incremented is not exposed with labels). */
export function sample(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  for (const [key, value] of e.samples) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    if (m[1] !== name) continue;
    const have = new Map([...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (have.size === want.length && want.every(([k, v]) => have.get(k) === v)) return value;
  }
  return 0;
}
