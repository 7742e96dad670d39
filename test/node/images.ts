/**
 * The two small images the node test needs besides the product's own
 * (dist/minio-operator-sidecar.oci.tar, made by `npm run image`), written as
 * OCI image archives that `ctr images import` takes, without any container
 * engine and without a registry:
 *
 * - the pause image (the pod sandbox's process): catatonit, the static init
 *   that podman's own pause image runs, in pause mode (`-P`);
 * - the stand-in MinIO (test/node/stand-in-minio.ts compiled with `bun build
 *   --compile`) with the glibc files its loader needs, copied from this
 *   machine (`ldd`), on an otherwise empty root.
 *
 * One uncompressed layer each, files owned by root, mtime 0 and sorted, so
 * the same inputs give the same digests.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export interface ImageSpec {
  /** The name ctr gives the image, e.g. localhost/stand-in-minio:test. */
  name: string;
  /** Files of the root filesystem: path in the image -> path on this machine. */
  files: Record<string, string>;
  entrypoint: string[];
  user?: string;
  env?: string[];
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Writes `spec` as an OCI image archive (a tar of an OCI image layout) at `out`. */
export function writeOciArchive(spec: ImageSpec, out: string): void {
  const work = mkdtempSync(join(tmpdir(), "oci-image-"));
  try {
    const root = join(work, "rootfs");
    mkdirSync(root);
    for (const [inImage, src] of Object.entries(spec.files)) {
      const dest = join(root, inImage);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(realpathSync(src), dest);
      chmodSync(dest, statSync(src).mode & 0o777);
    }
    const layout = join(work, "layout");
    const blobs = join(layout, "blobs", "sha256");
    mkdirSync(blobs, { recursive: true });
    const layerTar = join(work, "layer.tar");
    run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", root, "-cf", layerTar, "."]);
    const layer = readFileSync(layerTar);
    const layerDigest = sha256(layer);
    writeFileSync(join(blobs, layerDigest), layer);
    const blob = (o: unknown) => {
      const text = JSON.stringify(o);
      const digest = sha256(text);
      writeFileSync(join(blobs, digest), text);
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) };
    };
    const config = blob({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: spec.entrypoint, User: spec.user ?? "", Env: spec.env ?? ["PATH=/"] },
      rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
    });
    const manifest = blob({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${layerDigest}`, size: layer.length }],
    });
    writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
      join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            ...manifest,
            // containerd names an imported image after io.containerd.image.name.
            annotations: { "io.containerd.image.name": spec.name, "org.opencontainers.image.ref.name": spec.name.split(":").at(-1) },
          },
        ],
      }),
    );
    mkdirSync(dirname(out), { recursive: true });
    run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", layout, "-cf", out, "."]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The shared objects `ldd` says a dynamically linked executable loads (the loader included). */
export function sharedLibraries(executable: string): string[] {
  const libs: string[] = [];
  for (const line of run("ldd", [executable]).split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]!);
  }
  if (!libs.some((l) => l.includes("ld-linux"))) throw new Error(`ldd ${executable}: no dynamic loader found`);
  return libs;
}

export const PAUSE_IMAGE = "localhost/node-test-pause:catatonit";
export const STAND_IN_IMAGE = "localhost/stand-in-minio:test";

/** The pause image from catatonit (a static executable; Debian package catatonit, which podman depends on). */
export function writePauseImage(out: string, catatonit = "/usr/bin/catatonit"): void {
  writeOciArchive({ name: PAUSE_IMAGE, files: { "/catatonit": catatonit }, entrypoint: ["/catatonit", "-P"], user: "65535:65535" }, out);
}

/** The stand-in MinIO image around a compiled stand-in-minio.ts (`bun build --compile`). */
export function writeStandInImage(out: string, executable: string): void {
  const files: Record<string, string> = { "/stand-in-minio": executable };
  for (const lib of sharedLibraries(executable)) files[lib] = lib;
  writeOciArchive({ name: STAND_IN_IMAGE, files, entrypoint: ["/stand-in-minio"], user: "1000:1000" }, out);
}
