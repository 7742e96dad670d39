/**
 * Kubernetes resource quantities ("1Ti", "500Gi", "1e12", "1.5G") as numbers.
 * Grammar from k8s.io/apimachinery/pkg/api/resource: a signed decimal, then
 * an optional binary suffix (Ki..Ei), decimal suffix (n u m "" k M G T P E)
 * or decimal exponent (e/E).
 */
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const SUFFIX: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/** The quantity's value, or undefined when it is not a valid quantity. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined;
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  const suffix = m[2];
  if (!suffix) return base;
  const mult = SUFFIX[suffix] ?? 10 ** Number(suffix.slice(1));
  return base * mult;
}
