/**
 * README.md and docs/ link only to files in the repository (no ../shared,
 * no web pages that may move), every linked file exists, every #anchor names
 * a heading of its target, and the reference covers every flag of the CLI.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { COMMANDS } from "../src/cli/commands.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const pages = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const slug = (h: string) => h.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-");
const anchors = (file: string) => new Set(readFileSync(file, "utf8").split("\n").filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ""))));

test("links stay inside the repository and resolve", () => {
  const bad: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const [path, anchor] = target!.split("#") as [string, string | undefined];
      if (/^[a-z]+:/i.test(path)) {
        bad.push(`${page}: ${target} (outside the repository)`);
        continue;
      }
      const file = path ? join(ROOT, dirname(page), path) : join(ROOT, page);
      if (!file.startsWith(ROOT) || !existsSync(file)) bad.push(`${page}: ${target} (no such file in the repository)`);
      else if (anchor && !anchors(file).has(anchor)) bad.push(`${page}: ${target} (no heading #${anchor} in ${relative(ROOT, file)})`);
    }
  }
  expect(bad).toEqual([]);
});

test("the README links the reference and the licence, and names where bun and deno come from", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  expect(readme).toContain("](docs/reference.md)");
  expect(readme).toContain("](LICENSE)");
  expect(readme).not.toContain("shared/SPEC");
  expect(readme).toContain("node_modules/.bin/bun");
  expect(readme).toContain("node_modules/.bin/deno");
  // Its first two commands stay the quick start.
  expect(/```sh\n(.*)\n(.*)\n```/.exec(readme)?.slice(1, 3).map((l) => l.split("#")[0]!.trim())).toEqual(["npm ci && npm run demo", "npm test"]);
});

test("docs/reference.md documents every flag of every command", () => {
  const ref = readFileSync(join(ROOT, "docs/reference.md"), "utf8");
  const missing = COMMANDS.flatMap((c) => c.flags.map((f) => `--${f.name}`)).filter((f) => !new RegExp(`${f}[ \`]`).test(ref));
  expect(missing).toEqual([]);
});
