// `weft pack`: make, check, sign, bundle and install app packages (spec §2).
// Each subcommand is a thin layer over src/appd/{manifest,signature,bundle,
// package-store}.ts, the same code the daemon uses at install and launch.
import { lstat, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BUNDLE_SUFFIX, createBundle, extractBundle } from "../appd/bundle.ts";
import { APP_ID_RE, checkPackage, type Manifest, PackageError, wasmFlavour } from "../appd/manifest.ts";
import { appStoreRoots, checkLaunch, installPackage, listInstalled, readRecord, uninstallPackage } from "../appd/package-store.ts";
import {
  fingerprint,
  loadTrustedKeys,
  PRIVATE_KEY_FILE,
  publicKeyOf,
  readKeyFile,
  signPackage,
  type TrustedKey,
  type Verification,
  verifyPackage,
  walkPackage,
  writeKeyPair,
} from "../appd/signature.ts";
import { buildImage, buildVerity, IMAGE_SUFFIX, isImage, openImage, signImage, withImageDir } from "../appd/verity-image.ts";
import { UsageError, type Command } from "./command.ts";

/** Exit codes of `weft pack` (also in its --help). */
export const PACK_EXIT = { ok: 0, problem: 1, usage: 2, unsigned: 3 } as const;

interface Sub {
  usage: string;
  summary: string;
  help: string;
  options?: Record<string, { type: "string" | "boolean"; short?: string }>;
  /** [min, max] positional arguments. */
  positionals: [number, number];
  run(pos: string[], opts: Record<string, string | boolean | undefined>): Promise<number>;
}

const out = (s = "") => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);
const warnAll = (ws: string[]) => ws.forEach((w) => err(`warning: ${w}`));

/** Prints every problem, one per line, then one summary line naming the subject. */
function reportProblems(cmd: string, subject: string, problems: string[]): number {
  for (const p of problems) err(p);
  err(`weft pack ${cmd}: ${subject}: ${problems.length === 1 ? "1 problem" : `${problems.length} problems`}`);
  return PACK_EXIT.problem;
}

const kib = (n: number) => (n < 1024 ? `${n} bytes` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);

function describeSignature(v: Verification): string {
  if (v.status === "signed") return `signed, verified with trusted key ${v.keyId} (${v.keyFile})`;
  if (v.status === "unsigned") return "unsigned (no signature.sig)";
  return `INVALID: ${v.problems.join(" ")}`;
}

/** Runs `fn` on a package directory: DIR as is, or a bundle unpacked into a temp dir (removed after). */
async function withPackageDir<T>(target: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const st = await stat(target).catch(() => null);
  if (!st) throw new Error(`${target}: no such file or directory`);
  if (st.isDirectory()) return fn(target);
  if (isImage(target)) return withImageDir(target, (await loadTrustedKeys()).keys, (dir) => fn(dir));
  if (!target.endsWith(".tar.zst")) throw new Error(`${target}: not a package directory, a ${BUNDLE_SUFFIX} bundle or a ${IMAGE_SUFFIX} image`);
  const tmp = await mkdtemp(join(tmpdir(), "weft-pack-"));
  try {
    return await fn((await extractBundle(target, tmp)).dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** --key for verify: a .pub file (or a dir holding weft-sign.pub), as a one-key trust list. */
async function keysFromOption(key: string | undefined): Promise<{ keys: TrustedKey[]; warnings: string[] }> {
  if (key === undefined) return loadTrustedKeys();
  const file = (await stat(key).catch(() => null))?.isDirectory() ? join(key, "weft-sign.pub") : key;
  const publicHex = await readKeyFile(file);
  return { keys: [{ id: `${file} (${fingerprint(publicHex)})`, file: resolve(file), publicHex }], warnings: [] };
}

function manifestLines(m: Manifest, moduleDesc: string): [string, string][] {
  const r = m.runtime;
  return [
    ["id", m.id],
    ["name", m.name],
    ["version", m.version],
    ...(m.description !== undefined ? [["description", m.description] as [string, string]] : []),
    ...(m.author !== undefined ? [["author", m.author] as [string, string]] : []),
    ["module", moduleDesc],
    ["ui", m.ui.entry],
    ["capabilities", m.capabilities.length ? m.capabilities.join(", ") : "(none)"],
    ["runtime", `restart ${r.restart}${r.restart === "no" ? "" : ` (at most ${r.maxRestarts} in ${r.restartWindowS} s)`} · memory ${r.memoryMib} MiB · cpu ${r.cpuPercent}% · ready within ${r.readyTimeoutS} s`],
  ];
}

const table = (rows: [string, string][]) => {
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out(`${k.padEnd(w)}  ${v}`);
};

// ---------------------------------------------------------------------------

const subs: Record<string, Sub> = {
  check: {
    usage: "weft pack check DIR",
    summary: "check a package directory against the package format",
    help: `Checks everything \`weft pack install\` would refuse, and prints every
problem at once, one per line, naming the file and the field:
  - wapp.toml: [package] id (^[a-z][a-z0-9]*(\\.[a-z][a-z0-9]*){2,}$), name
    (1–64 characters), version, description (≤ 256), author, capabilities
    (only the known strings); [runtime] module and optional keys; [ui] entry
  - the module and UI entry exist inside the package and the module is wasm
  - no symlinks, devices, FIFOs or sockets anywhere; no top-level data/
Unknown keys are warnings. The signature is not checked (see \`verify\`).`,
    positionals: [1, 1],
    async run([dir]) {
      const r = await checkPackage(dir);
      warnAll(r.warnings);
      if (r.problems.length || !r.manifest) return reportProblems("check", dir, r.problems);
      out(`ok: ${r.manifest.id} ${r.manifest.version} (${dir})`);
      return PACK_EXIT.ok;
    },
  },

  info: {
    usage: "weft pack info DIR|FILE.app.tar.zst|FILE.erofs|ID [--json]",
    summary: "show a package's manifest, files and signature status",
    help: `Shows what a package is: its manifest, its module, its files and whether
its signature verifies with the trusted keys. Takes a package directory, a
bundle (unpacked to a temporary directory), a verified image (its root hash
checked first, see \`build-verity\`), or the id of an installed app
(checked against what was recorded at install, so changed files are named).

Options:
  --json  One JSON object instead of the table.`,
    options: { json: { type: "boolean" } },
    positionals: [1, 1],
    async run([target], opts) {
      // An installed app is shown from the store, checked against what install recorded.
      const installed = APP_ID_RE.test(target) && !(await lstat(target).catch(() => null));
      const show = async (dir: string, root?: string, location = resolve(dir)) => {
        const exclude = root ? ["data"] : [];
        const check = await checkPackage(dir, { exclude });
        if (!check.manifest) return reportProblems("info", target, check.problems);
        const m = check.manifest;
        const { keys, warnings } = await loadTrustedKeys();
        const record = root ? await readRecord(root, m.id) : null;
        const v = await verifyPackage(dir, keys, { exclude, recorded: record ? new Map(Object.entries(record.files)) : undefined });
        const walk = await walkPackage(dir, exclude);
        let bytes = 0;
        for (const f of walk.files) bytes += (await stat(join(dir, f))).size;
        const head = new Uint8Array(await Bun.file(join(dir, m.runtime.module)).slice(0, 8).arrayBuffer());
        const kind = wasmFlavour(head) === "component" ? "component" : "core module";
        const modSize = (await stat(join(dir, m.runtime.module))).size;
        if (opts.json) {
          const { caps: _, ...manifest } = m;
          const signature = { status: v.status, key_id: v.keyId ?? null, problems: v.problems };
          out(JSON.stringify({ location, manifest, module_kind: kind, files: walk.files.length, bytes, signature, problems: check.problems, warnings: check.warnings }, null, 2));
        } else {
          warnAll([...warnings, ...check.warnings]);
          const rows = manifestLines(m, `${m.runtime.module} (${kind}, ${kib(modSize)})`);
          table([...rows, ["files", `${walk.files.length} (${kib(bytes)})`], ["location", location], ["signature", describeSignature(v)]]);
          for (const p of check.problems) err(`problem: ${p}`);
        }
        return check.problems.length || v.status === "invalid" ? PACK_EXIT.problem : PACK_EXIT.ok;
      };
      if (installed) {
        const app = (await listInstalled()).find((a) => a.id === target);
        if (!app) throw new Error(`${target}: not installed (looked in ${appStoreRoots().join(", ")})`);
        return show(app.dir, app.root);
      }
      const isDir = (await stat(target).catch(() => null))?.isDirectory();
      if (isImage(target) && !isDir) {
        // The image's own trust is its signed root hash; show it beside the package's.
        const { keys, warnings } = await loadTrustedKeys();
        warnAll(warnings);
        return withImageDir(target, keys, async (dir, img) => {
          const s = img.signature;
          if (!opts.json) out(`image         root hash ${img.rootHash} (${img.params.dataBlocks} blocks verified), ${s.status === "signed" ? `signed, verified with trusted key ${s.keyId}` : "root hash UNSIGNED"}`);
          return show(dir, undefined, `${resolve(target)} (verified image)`);
        });
      }
      return withPackageDir(target, (dir) => show(dir, undefined, isDir ? resolve(dir) : `${resolve(target)} (bundle)`));
    },
  },

  install: {
    usage: "weft pack install DIR|FILE.app.tar.zst|FILE.erofs [--allow-unsigned] [--store DIR]",
    summary: "install (or upgrade) a package into the app store",
    help: `Installs a package directory or bundle. The package is copied into the
store first, and checked and verified there; only then does it appear under
its id, in one atomic rename (an upgrade swaps the old version out the same
way and keeps the app's data). On any failure nothing changes.

A verified image (FILE.erofs with FILE.erofs.verity, .roothash and
.roothash.sig beside it) is checked before anything is read from it: the
root hash's signature, then the whole hash tree. The store keeps the image;
each launch checks it again and runs the app from a dm-verity mount where
weft may mount (root, a kernel with dm-verity and erofs), otherwise from
the extracted copy (the log says why).

The signature must verify with a trusted key: a *.pub file in
/etc/weft/trusted-keys or ~/.config/weft/trusted-keys (or in the
colon-separated dirs of $WEFT_TRUSTED_KEYS). A signed package that does not
verify is always refused, with or without --allow-unsigned.

Options:
  --allow-unsigned  Also install a package that has no signature.sig (or an
                    image whose root hash is not signed). It is
                    then allowed to launch only while its files stay exactly
                    as installed.
  --store DIR       Install into DIR instead of the user's store
                    ($WEFT_APP_STORE, else ~/.local/share/weft/apps).`,
    options: { "allow-unsigned": { type: "boolean" }, store: { type: "string" } },
    positionals: [1, 1],
    async run([src], opts) {
      const { keys, warnings } = await loadTrustedKeys();
      warnAll(warnings);
      const r = await installPackage(src, { root: opts.store as string | undefined, allowUnsigned: !!opts["allow-unsigned"], trustedKeys: keys });
      const how = r.signature === "signed" ? `signed by ${r.keyId}` : "unsigned";
      const line =
        r.replaced === undefined ? `installed ${r.id} ${r.version}` : r.replaced === r.version ? `reinstalled ${r.id} ${r.version}` : `upgraded ${r.id} ${r.replaced} → ${r.version}`;
      out(`${line} (${how}) in ${r.dir}`);
      return PACK_EXIT.ok;
    },
  },

  uninstall: {
    usage: "weft pack uninstall ID [--keep-data] [--store DIR]",
    summary: "remove an installed package",
    help: `Removes an installed app and its data from the user's store (or DIR).

Options:
  --keep-data  Keep the app's data (<store>/<id>/data) for a later reinstall.
  --store DIR  Uninstall from DIR instead of the user's store
               ($WEFT_APP_STORE, else ~/.local/share/weft/apps).`,
    options: { "keep-data": { type: "boolean" }, store: { type: "string" } },
    positionals: [1, 1],
    async run([id], opts) {
      const r = await uninstallPackage(id, { root: opts.store as string | undefined, keepData: !!opts["keep-data"] });
      out(`uninstalled ${r.id}${r.version ? ` ${r.version}` : ""} from ${r.dir}${opts["keep-data"] ? " (data kept)" : ""}`);
      return PACK_EXIT.ok;
    },
  },

  list: {
    usage: "weft pack list [--verify] [--json]",
    summary: "list installed packages",
    help: `Lists installed apps, each from the first store root that has it
($WEFT_APP_STORE alone if set; else ~/.local/share/weft/apps, then
/usr/share/weft/apps). An app that a later root also holds says so.

Options:
  --verify  Check each app as a launch would: its files and its signature
            against the trusted keys (reads every file).
  --json    One JSON array, an object per app.`,
    options: { verify: { type: "boolean" }, json: { type: "boolean" } },
    positionals: [0, 0],
    async run(_, opts) {
      const apps = await listInstalled();
      const keys = opts.verify ? (await loadTrustedKeys()).keys : [];
      const rows = [];
      for (const a of apps) {
        let signature: string | undefined;
        if (opts.verify) signature = await checkLaunch(a.id, { trustedKeys: keys }).then((c) => (c.verification.status === "signed" ? `signed (${c.verification.keyId})` : "unsigned"), (e) => `INVALID (${(e as Error).message.split("\n").pop()?.trim()})`);
        rows.push({ id: a.id, name: a.manifest?.name ?? null, version: a.manifest?.version ?? null, dir: a.dir, shadows: a.shadows, problems: a.problems, ...(signature && { signature }) });
      }
      if (opts.json) {
        out(JSON.stringify(rows, null, 2));
        return PACK_EXIT.ok;
      }
      if (rows.length === 0) {
        out(`no apps installed (looked in ${appStoreRoots().join(", ")})`);
        return PACK_EXIT.ok;
      }
      const cells = rows.map((r) => [r.id, r.version ?? "?", r.name ?? `(broken: ${r.problems[0]})`, r.dir + (r.shadows.length ? ` (also in ${r.shadows.join(", ")})` : ""), ...(r.signature ? [r.signature] : [])]);
      const head = ["ID", "VERSION", "NAME", "LOCATION", ...(opts.verify ? ["SIGNATURE"] : [])];
      const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
      for (const line of [head, ...cells]) out(line.map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]))).join("  "));
      return PACK_EXIT.ok;
    },
  },

  keygen: {
    usage: "weft pack keygen [DIR] [--force]",
    summary: "make an Ed25519 signing key pair",
    help: `Writes DIR/weft-sign.key (the private 32-byte seed as 64 hex chars, mode
0600: keep it secret) and DIR/weft-sign.pub (the public key). DIR defaults to
the current directory. Existing keys are never replaced without --force.
To trust the key on a machine, copy weft-sign.pub to a trusted keys dir under
a name of your choice, e.g. ~/.config/weft/trusted-keys/me.pub.`,
    options: { force: { type: "boolean" } },
    positionals: [0, 1],
    async run([dir = "."], opts) {
      if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new Error(`${dir}: no such directory`);
      const kp = await writeKeyPair(dir, !!opts.force);
      out(`wrote ${kp.keyFile} (private: keep it secret) and ${kp.pubFile}`);
      out(`public key ${kp.publicHex} (fingerprint ${fingerprint(kp.publicHex)})`);
      out(`to trust it here: mkdir -p ~/.config/weft/trusted-keys && cp ${kp.pubFile} ~/.config/weft/trusted-keys/NAME.pub`);
      return PACK_EXIT.ok;
    },
  },

  sign: {
    usage: "weft pack sign DIR|FILE.erofs --key KEY",
    summary: "sign a package (writes DIR/signature.sig) or an image's root hash",
    help: `Checks the package, then signs every file in it (see docs/packages.md for
the exact scheme, the same as WEFT OS) and writes DIR/signature.sig: 128 hex
characters. KEY is a weft-sign.key file, or a directory holding one.
Re-sign after any change to the package.
For FILE.erofs, signs its root hash and hash tree parameters (FILE.erofs.verity
and .roothash, from \`build-verity\`) and writes FILE.erofs.roothash.sig.`,
    options: { key: { type: "string" } },
    positionals: [1, 1],
    async run([dir], opts) {
      if (typeof opts.key !== "string") throw new UsageError("sign: missing --key KEY");
      const keyFile = (await stat(opts.key).catch(() => null))?.isDirectory() ? join(opts.key, PRIVATE_KEY_FILE) : opts.key;
      const seed = await readKeyFile(keyFile);
      if (isImage(dir)) {
        const s = await signImage(dir, seed);
        out(`signed the root hash ${s.rootHash} of ${dir} with key ${fingerprint(await publicKeyOf(seed))}; wrote ${dir}.roothash.sig`);
        return PACK_EXIT.ok;
      }
      const check = await checkPackage(dir);
      warnAll(check.warnings);
      if (!check.manifest || check.problems.length) return reportProblems("sign", dir, check.problems);
      const s = await signPackage(dir, seed);
      out(`signed ${check.manifest.id} ${check.manifest.version} (${s.files} files) with key ${fingerprint(s.publicHex)}; wrote ${join(dir, "signature.sig")}`);
      return PACK_EXIT.ok;
    },
  },

  verify: {
    usage: "weft pack verify DIR|FILE.app.tar.zst|FILE.erofs [--key PUB]",
    summary: "verify a package's signature",
    help: `Verifies DIR/signature.sig against PUB (a weft-sign.pub file, or a
directory holding one), or without --key against every trusted key
(/etc/weft/trusted-keys, ~/.config/weft/trusted-keys; or the dirs in
$WEFT_TRUSTED_KEYS). A bundle is unpacked to a temporary directory first.
Says which key verified it, or why not: unsigned, malformed signature, or
files changed since signing (or a key that is not the signer's).
For FILE.erofs: the root hash's signature, then the whole hash tree
recomputed against it, then the files in the image.

Exit status: 0 verified, 1 invalid, 3 unsigned, 2 bad command line.`,
    options: { key: { type: "string" } },
    positionals: [1, 1],
    async run([target], opts) {
      const { keys, warnings } = await keysFromOption(opts.key as string | undefined);
      warnAll(warnings);
      if (isImage(target)) {
        const img = await openImage(target, keys);
        if (img.signature.status === "unsigned") {
          err(`weft pack verify: ${target}: the hash tree matches root hash ${img.rootHash}, but the root hash is unsigned (no ${target}.roothash.sig)`);
          return PACK_EXIT.unsigned;
        }
        out(`ok: ${target}: ${img.tree.files.size} files, ${img.params.dataBlocks} blocks match root hash ${img.rootHash}, signed; verified with ${img.signature.keyId}`);
        return PACK_EXIT.ok;
      }
      const v = await withPackageDir(target, (dir) => verifyPackage(dir, keys));
      if (v.status === "signed") {
        out(`ok: ${target} is signed; verified with ${v.keyId}`);
        return PACK_EXIT.ok;
      }
      if (v.status === "unsigned") {
        err(`weft pack verify: ${target}: unsigned (no signature.sig)`);
        return PACK_EXIT.unsigned;
      }
      return reportProblems("verify", target, v.problems);
    },
  },

  bundle: {
    usage: "weft pack bundle DIR [--out FILE]",
    summary: "make a <id>.app.tar.zst bundle of a package",
    help: `Checks the package and writes a zstd-compressed tar whose only top-level
directory is <id>/ (signature.sig included). The same package always makes
the same bytes (owners, times and order are fixed).

Options:
  -o, --out FILE  Where to write it (default: ./<id>.app.tar.zst).`,
    options: { out: { type: "string", short: "o" } },
    positionals: [1, 1],
    async run([dir], opts) {
      const b = await createBundle(dir, opts.out as string | undefined);
      out(`wrote ${b.file} (${b.id}, ${b.files} files, ${kib((await stat(b.file)).size)})`);
      return PACK_EXIT.ok;
    },
  },

  "build-image": {
    usage: "weft pack build-image DIR [--out FILE]",
    summary: "make a read-only EROFS image of a package",
    help: `Checks the package and writes an EROFS image of it (mkfs.erofs from
erofs-utils), uncompressed, every file owned by root with time 0, modes 0644
and 0755, no xattrs, and a UUID derived from the package's files: the same
package always makes the same bytes. Then run \`build-verity\` on it.

Options:
  -o, --out FILE  Where to write it (default: ./<id>.erofs).`,
    options: { out: { type: "string", short: "o" } },
    positionals: [1, 1],
    async run([dir], opts) {
      const r = await buildImage(dir, opts.out as string | undefined);
      out(`wrote ${r.file} (${r.id}, ${r.files} files, ${kib(r.bytes)})`);
      return PACK_EXIT.ok;
    },
  },

  "build-verity": {
    usage: "weft pack build-verity IMAGE [--key KEY]",
    summary: "make an image's dm-verity hash tree and root hash",
    help: `Computes the dm-verity hash tree of IMAGE and writes, beside it:
  IMAGE.verity          the hash tree with its superblock, byte for byte what
                        \`veritysetup format\` writes (SHA-256, 4 KiB blocks; the
                        salt and UUID are derived from the image, so the same
                        image always gets the same tree)
  IMAGE.roothash        the root hash, 64 hex characters
  IMAGE.roothash.sig    with --key: the root hash and the tree's parameters
                        signed (see docs/packages.md); or sign later with
                        \`weft pack sign IMAGE --key KEY\`
The kernel can use these directly:
  veritysetup open IMAGE NAME IMAGE.verity $(cat IMAGE.roothash)

Options:
  --key KEY  Sign with KEY (a weft-sign.key file, or a directory holding one).`,
    options: { key: { type: "string" } },
    positionals: [1, 1],
    async run([image], opts) {
      let seed: string | undefined;
      if (typeof opts.key === "string") {
        const keyFile = (await stat(opts.key).catch(() => null))?.isDirectory() ? join(opts.key, PRIVATE_KEY_FILE) : opts.key;
        seed = await readKeyFile(keyFile);
      }
      const r = await buildVerity(image, { seedHex: seed });
      out(`wrote ${r.files.verity} (${r.params.dataBlocks} data blocks) and ${r.files.rootHash}: root hash ${r.rootHash}`);
      if (r.signed) out(`signed with key ${fingerprint(await publicKeyOf(seed!))}; wrote ${r.files.signature}`);
      else out(`unsigned: sign it with \`weft pack sign ${image} --key KEY\` (or install with --allow-unsigned)`);
      return PACK_EXIT.ok;
    },
  },

  unbundle: {
    usage: "weft pack unbundle FILE.app.tar.zst [--out DIR]",
    summary: "unpack a bundle into DIR/<id>/",
    help: `Unpacks a bundle into DIR/<id> (DIR defaults to the current directory)
after checking its listing: every entry must be inside <id>/, with no absolute
paths, no .., no symlinks, hard links, devices or FIFOs. The unpacked package
is checked too; on any problem nothing is left behind. An existing DIR/<id>
is never replaced.

Options:
  -o, --out DIR  Where to unpack (default: the current directory).`,
    options: { out: { type: "string", short: "o" } },
    positionals: [1, 1],
    async run([file], opts) {
      const r = await extractBundle(file, (opts.out as string | undefined) ?? ".");
      out(`unpacked ${r.id} into ${r.dir}`);
      return PACK_EXIT.ok;
    },
  },
};

/** The overview shows each command without its options. */
const brief = (s: Sub) => s.usage.replace(/^weft pack /, "").replace(/ \[--[^\]]*\]/g, "").replace("FILE.app.tar.zst", "FILE");
const width = Math.max(...Object.values(subs).map((s) => brief(s).length));
const help = `Usage: weft pack <command> [options]

Make, check, sign, bundle and install app packages: a directory <id>/ with
wapp.toml, a WebAssembly module and a UI (the WEFT OS format; see
docs/packages.md).

Commands:
${Object.values(subs)
  .map((s) => `  ${brief(s).padEnd(width)}  ${s.summary}`)
  .join("\n")}

FILE is a bundle, <id>.app.tar.zst, or a verified image, <id>.erofs (with
its .verity, .roothash and .roothash.sig files beside it). Run \`weft pack <command> --help\` for
each command's options.

Exit status:
  0  success
  1  a package problem (invalid, refused, not verified, not installed), each
     problem printed on its own line
  2  bad command line
  3  \`verify\`: the package is unsigned

Environment:
  WEFT_APP_STORE     the only store root (default: ~/.local/share/weft/apps,
                     then /usr/share/weft/apps)
  WEFT_TRUSTED_KEYS  colon-separated dirs of trusted *.pub keys (default:
                     /etc/weft/trusted-keys, ~/.config/weft/trusted-keys)

Example: a signed package from scratch
  weft pack keygen ~/keys
  weft pack check examples/apps/hello
  weft pack sign examples/apps/hello --key ~/keys/weft-sign.key
  weft pack bundle examples/apps/hello
  weft pack install org.weft.example.hello.app.tar.zst

Example: a verified image
  weft pack build-image examples/apps/hello
  weft pack build-verity org.weft.example.hello.erofs --key ~/keys/weft-sign.key
  weft pack install org.weft.example.hello.erofs
`;

function parseSub(name: string, sub: Sub, argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" }, ...sub.options }, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message;
    const opt = /'(-[^' ]*)/.exec(msg)?.[1];
    const code = (e as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`${name}: unknown option '${opt}'`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(`${name}: option '${opt}' ${msg.includes("argument missing") ? "needs a value" : "takes no value"}`);
    throw new UsageError(`${name}: ${msg.split(".")[0]}`);
  }
  return parsed;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    if (name === "help" && rest[0] && subs[rest[0]]) return run([rest[0], "--help"]);
    process.stdout.write(help);
    return name === undefined ? PACK_EXIT.usage : PACK_EXIT.ok;
  }
  const sub = subs[name];
  if (!sub) throw new UsageError(`unknown command '${name}'`);
  const { values, positionals } = parseSub(name, sub, rest);
  if (values.help) {
    process.stdout.write(`Usage: ${sub.usage}\n\n${sub.summary[0].toUpperCase()}${sub.summary.slice(1)}.\n\n${sub.help}\n`);
    return PACK_EXIT.ok;
  }
  const [min, max] = sub.positionals;
  if (positionals.length < min) throw new UsageError(`${name}: missing ${sub.usage.split(" ")[3]}`);
  if (positionals.length > max) throw new UsageError(`${name}: unexpected argument '${positionals[max]}'`);
  try {
    return await sub.run(positionals, values as Record<string, string | boolean | undefined>);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (e instanceof PackageError) return reportProblems(name, positionals[0] ?? name, e.problems);
    // Anything else is one line: the message, never a stack.
    err(`weft pack ${name}: ${(e as Error).message.split("\n")[0]}`);
    return PACK_EXIT.problem;
  }
}

export default { name: "pack", summary: "make, check, sign, bundle and install app packages", help, run } satisfies Command;
