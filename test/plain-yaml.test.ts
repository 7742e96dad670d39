/**
 * render reads plain manifests with Bun's native YAML parser and everything
 * else with js-yaml under the kubectl schema (src/config/plain-yaml.ts). The
 * two must never disagree: for every document here, parseYaml (what render
 * uses) gives exactly what js-yaml gives, the same value or the same error.
 * The corpus holds the examples, hand-written edge cases, and seeded random
 * line mutations of the examples (duplicated, re-indented, swapped lines,
 * YAML 1.1 booleans, anchors, tags, numbers, tabs, ...).
 */
import { describe, expect, test } from "bun:test";
import { seededRandom } from "./support/random.ts";
import { readdirSync, readFileSync } from "node:fs";
import { loadKubectlYaml } from "../src/config/kubectl-yaml.ts";
import { parseYaml } from "../src/config/manifest.ts";
import { isPlainYaml } from "../src/config/plain-yaml.ts";

const read = (p: string) => readFileSync(new URL(p, import.meta.url), "utf8");
const EXAMPLES = [
  read("../deploy/examples/tenant.yaml"),
  read("../deploy/examples/secret.yaml"),
  ...readdirSync(new URL("./fixtures/examples/", import.meta.url))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => read(`./fixtures/examples/${f}`)),
];

type Outcome = { value: unknown } | { error: string };
const jsYaml = (text: string): Outcome => {
  try {
    return { value: loadKubectlYaml(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
};
const rendered = async (text: string): Promise<Outcome> => {
  try {
    return { value: await parseYaml(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

describe("the native parser is used only where it reads as js-yaml does", () => {
  test("the examples are plain: render reads them natively, with js-yaml's result", async () => {
    for (const text of EXAMPLES) {
      expect(isPlainYaml(text)).toBe(true);
      expect(await rendered(text)).toEqual(jsYaml(text));
    }
  });

  // [document, plain?]: plain ones are read natively; the others must fall back.
  const CASES: Array<[string, boolean]> = [
    ["a: 1\n", true],
    ["---\na: 1\n", true],
    ["a: true\nb: True\nc: FALSE\nd: null\ne: Null\nf: ~\ng:\n", true],
    ["a: 1Ti\nb: 500m\nc: 0\nd: 123456789012345\ne: 1E\nf: 2.5Gi\n", true],
    ["a: |\n  x\n\n  y\nb: 1\n", true],
    ["a: |-\n  x\n  y\n\n\nb: 1\n", true],
    ["a: |+\n  x\n\n\nb: 1\n", true],
    ["a: >\n  x\n  y\n\n  z\nb: 1\n", true],
    ["a: >-\n  x\n   y\n  z\n", true],
    ["a: |\n  x\n  # not a comment\n  a: 2\nb: 1\n", true],
    ["a: |\n  x\n# a comment\nb: 1\n", true],
    ["a:\n- b\nc: 1\n", true],
    ["a: 'it''s'\nb: \"x y\" # c\nc: x # y\nd: x#y\n", true],
    ["a:\n  - b: 1\n    c: 2\n  -   d: 3\n  - - e\n    - f\n", true],
    ["list:\n- name: a\n  value: v1\n- name: a\n  value: v2\n", true],
    ["a:\n  x: 1\n- b\n", true], // not YAML: the native parser refuses it, js-yaml words the error,
    ["a:\n  x: 1\nb:\n  x: 1\n", true],
    ['"quoted key": 1\n\'single\': 2\n', true],
    ["a: {}\nb: []\nc: \"\"\n", true],
    ["a: |\nb: 1\n", true],
    // duplicates, at every depth and through quoting
    ["a: 1\na: 2\n", false],
    ["a:\n  x: 1\n  y: 2\n  x: 3\n", false],
    ["l:\n- name: a\n  name: b\n", false],
    ['a: 1\n"a": 2\n', false],
    ["a: 1\n'a': 2\n", false],
    ["a:\n  b:\n    c: 1\n  b: 2\n", false],
    // what a YAML 1.1 reader and the native parser read differently
    ["a: yes\n", false],
    ["a: on\n", false],
    ["a: Off\n", false],
    ["a: y\n", false],
    ["on: 1\n", false],
    ["- a: 1\n", false],
    ["a: 1\n---\nb: 2\n", false],
    ["a: 1\n---\n", false],
    ["a: 0x1F\n", false],
    ["a: 0o17\n", false],
    ["a: 017\n", false],
    ["a: 1_000\n", false],
    ["a: .inf\n", false],
    ["a: -1\n", false],
    ["a: 1.5\n", false],
    ["a: 1e3\n", false],
    ["a: 2001-12-14\n", false],
    ["a: 12:30:00\n", false],
    ["a: &x 1\nb: *x\n", false],
    ["base: &b\n  x: 1\nm:\n  <<: *b\n  y: 2\n", false],
    ["a: !!binary aGk=\n", false],
    ["a: !!str 1\n", false],
    ["? a\n: 1\n", false],
    ["a: [1, 2]\n", false],
    ["a: {b: 1}\n", false],
    ['a: "x\\ny"\n', false],
    ["a: b\n  c\n", false],
    ["a: b\n  - c\n", false],
    ["a: \"x\n  y\"\n", false],
    ["a: |2\n   x\n", false],
    ["a: |\n    x\n   y\n", false],
    ["a: |\n  x\n   \n  y\n", false],
    ["a:\tb\n", false],
    ["a: b\r\nc: d\r\n", false],
    ["\ufeffa: 1\n", false],
    ["a: b\u2028c\n", false],
    ["a: \x01\n", false],
    ["__proto__: {}\n", false],
    ["%YAML 1.2\n---\na: 1\n", false],
    ["a: 1\n...\n", false],
    ["a:b\n", false],
    ["a: b: c\n", false],
    ["a: 1\n b: 2\n", false],
    ["  a: 1\n", false],
    ["- 1\n- 2\n", false],
    ["just text\n", false],
    ["", false],
    ["# only a comment\n", false],
    ["[1, 2]\n", false],
    ['{"apiVersion": "v1", "kind": "Secret"}\n', false],
    ["a: 😀\n", false],
  ];
  for (const [text, plain] of CASES) {
    test(`${JSON.stringify(text)}: ${plain ? "native" : "js-yaml"}, same result`, async () => {
      expect(isPlainYaml(text)).toBe(plain);
      expect(await rendered(text)).toEqual(jsYaml(text));
    });
  }
});

describe("seeded random mutations of the examples", () => {
  const VALUES = ["yes", "on", "No", "y", "true", "~", "null", "1e3", "0x10", "017", "1_0", ".5", "-3", "1Ti", "2024-01-01", "&a x", "*a", "!!str x", "[a, b]", "{a: 1}", "{}", "[]", "'q'", '"q"', '"a\\tb"', "|", "|-", ">", "a: b", "x #c", "x#c", "\tx", ""];
  const mutate = (text: string, random: (k: number) => number): string => {
    const lines = text.split("\n");
    const pick = () => random(lines.length);
    for (let n = 1 + random(3); n > 0; n--) {
      const i = pick();
      const line = lines[i]!;
      switch (random(7)) {
        case 0: // duplicate a line (a duplicate key, or a second list item)
          lines.splice(i, 0, line);
          break;
        case 1: // shift its indentation
          lines[i] = random(2) === 0 ? ` ${line}` : line.replace(/^ {1,2}/, "");
          break;
        case 2: // swap with another line
          [lines[i], lines[pick()]] = [lines[pick()]!, line];
          break;
        case 3: // a new value
          lines[i] = line.replace(/:( .*)?$/, `: ${VALUES[random(VALUES.length)]}`);
          break;
        case 4: // a copy of some other line here (often a key that already exists at this depth)
          lines.splice(i, 0, lines[pick()]!);
          break;
        case 5: // a document separator
          lines.splice(i, 0, "---");
          break;
        default: // drop a line
          lines.splice(i, 1);
      }
    }
    return lines.join("\n");
  };

  test("2,000 mutated documents: parseYaml always equals js-yaml, and most plain ones are read natively", async () => {
    const random = seededRandom(20261206);
    let plain = 0;
    let differing = 0;
    for (let i = 0; i < 2000; i++) {
      const text = mutate(EXAMPLES[i % EXAMPLES.length]!, random);
      if (isPlainYaml(text)) plain++;
      const a = await rendered(text);
      const b = jsYaml(text);
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        differing++;
        expect({ text, outcome: a }).toEqual({ text, outcome: b });
      }
    }
    expect(differing).toBe(0);
    // The fast path must stay in use: a checker that always says "not plain" would pass the rest.
    expect(plain).toBeGreaterThan(300);
  });
});
