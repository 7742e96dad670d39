/** A seeded PRNG (mulberry32, 32-bit integer math) so random tests can be replayed from their seed. */
export function seededRandom(seed: number): (k: number) => number {
  let a = seed >>> 0;
  return (k: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % k) >>> 0;
  };
}
