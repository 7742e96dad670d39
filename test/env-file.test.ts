/** SPEC 3 and 3.1: reading the Secret's config.env and writing MinIO's file format. */
import { describe, expect, test } from "bun:test";
import { renderEnvFile } from "../src/config/env-file.ts";
import { configEnvText, parseConfigEnv } from "../src/config/secret-env.ts";
import { readLikeMinio } from "./support/minio-env.ts";
import { seededRandom } from "./support/random.ts";

const vars = (text: string) => Object.fromEntries(parseConfigEnv(text).vars);

describe("reading config.env from the Secret", () => {
  test("export and plain lines, bare and quoted values", () => {
    expect(
      vars(
        [
          'export A="double quoted"',
          "export B='single quoted'",
          "C=bare value",
          "export   D=x",
          "E=",
          'F=""',
          "G='mismatched\"",
          'H="a"b"',
          "I=a=b=c",
          "\tJ=tabbed\t",
        ].join("\n"),
      ),
    ).toEqual({ A: "double quoted", B: "single quoted", C: "bare value", D: "x", E: "", F: "", G: "'mismatched\"", H: 'a"b', I: "a=b=c", J: "tabbed" });
  });

  test("special characters stay verbatim: nothing is unescaped", () => {
    expect(vars(`P="$HOME \`id\` \\n 'q' # not a comment"`)).toEqual({ P: "$HOME `id` \\n 'q' # not a comment" });
  });

  test("blank lines and comments are ignored; the last duplicate wins", () => {
    expect(vars("\n# comment\n  # indented comment\nA=1\n\nA=2\nexport A=3\n")).toEqual({ A: "3" });
  });

  test("unreadable lines are skipped and reported by number only", () => {
    const parsed = parseConfigEnv("A=1\nthis is garbage hunter2\n=novalue\n1BAD=x\nexport\nB-C=1\nexport B=2\n");
    expect(Object.fromEntries(parsed.vars)).toEqual({ A: "1", B: "2" });
    expect(parsed.skippedLines).toEqual([2, 3, 4, 5, 6]);
  });

  test("CRLF line endings are tolerated", () => {
    expect(vars("A=1\r\nB=\"two\"\r\n")).toEqual({ A: "1", B: "two" });
  });

  test("data (base64) wins over stringData; no key reads as empty; bad base64 is named", () => {
    const obj = "Secret ns/s";
    expect(configEnvText({ metadata: {}, data: { "config.env": btoa("A=1") }, stringData: { "config.env": "A=2" } }, obj)).toBe("A=1");
    expect(configEnvText({ metadata: {}, stringData: { "config.env": "A=2" } }, obj)).toBe("A=2");
    expect(configEnvText({ metadata: {}, data: { other: "eA==" } }, obj)).toBe("");
    expect(() => configEnvText({ metadata: {}, data: { "config.env": "not*base64" } }, obj)).toThrow('Secret ns/s: data["config.env"]: is not valid base64');
  });
});

describe("writing MinIO's env file", () => {
  test("export NAME=\"VALUE\" lines sorted in byte order, verbatim values", () => {
    const env = new Map([
      ["b", "lower"],
      ["B", 'has "quotes" and \'single\''],
      ["A_1", "$dollar `tick` \\back # hash  spaces "],
      ["_X", ""],
    ]);
    expect(renderEnvFile(env)).toBe(
      'export A_1="$dollar `tick` \\back # hash  spaces "\nexport B="has "quotes" and \'single\'"\nexport _X=""\nexport b="lower"\n',
    );
  });

  test("bad names and unrepresentable values are rejected by name, never by value", () => {
    expect(() => renderEnvFile(new Map([["1A", "x"]]), "Secret ns/s")).toThrow("Secret ns/s: 1A: is not a valid environment variable name");
    for (const v of ["a\nsecret", "a\rsecret", "a\0secret"]) {
      let message = "";
      try {
        renderEnvFile(new Map([["V", v]]));
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe("config.env: V: value contains a line break or NUL, which MinIO's config file cannot represent");
    }
  });

  test("round trip: MinIO's reader returns exactly what was written (random values)", () => {
    // Every printable ASCII character, quotes and whitespace included, and some non-ASCII text.
    const alphabet = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), "\t", "é", "日", "🙂", "\u00a0"];
    const rand = seededRandom(42);
    for (let round = 0; round < 500; round++) {
      const env = new Map<string, string>();
      for (let i = 0; i < 8; i++) {
        const len = rand(24);
        env.set(`V${round}_${i}`, Array.from({ length: len }, () => alphabet[rand(alphabet.length)]).join(""));
      }
      // The awkward cases MinIO's quote stripping could get wrong.
      env.set("EDGE_QUOTE", '"');
      env.set("EDGE_QUOTES", '""');
      env.set("EDGE_SINGLE", "'x'");
      env.set("EDGE_SPACES", "  padded  ");
      expect(readLikeMinio(renderEnvFile(env))).toEqual(env);
    }
  });
});
