// Generates src/gen/ from the repository's protos with protoc and ts-proto (the grpc-js
// service clients included); `--check` regenerates into a temporary folder and fails when
// that differs from what is committed, so the stubs never drift from protos/.
// protoc comes from the system (Debian's protobuf-compiler, installed by .ci/run); the
// google.rpc protos (Status, ErrorInfo, ...) from the google-proto-files dev dependency.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const protos = join(here, "..", "..", "protos");
const committed = join(here, "src", "gen");
const options = [
  "outputServices=grpc-js",
  "outputServices=generic-definitions",
  "esModuleInterop=true",
  "importSuffix=.js",
  "env=node",
  "outputJsonMethods=false",
  "useDate=true",
];

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

function generate(out) {
  const sources = files(join(protos, "rescp", "v1"))
    .filter((path) => path.endsWith(".proto"))
    .map((path) => relative(protos, path))
    .sort();
  execFileSync("protoc", [
    `--plugin=protoc-gen-ts_proto=${join(here, "node_modules", ".bin", "protoc-gen-ts_proto")}`,
    `--ts_proto_out=${out}`,
    `--ts_proto_opt=${options.join(",")}`,
    `-I${protos}`,
    "-I/usr/include",
    `-I${join(here, "node_modules", "google-proto-files")}`,
    ...sources,
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
  ], { stdio: "inherit" });
}

function differences(a, b) {
  const names = new Set([...files(a), ...files(b)].map((path) => relative(path.startsWith(a) ? a : b, path)));
  return [...names].filter((name) => {
    try {
      return !readFileSync(join(a, name)).equals(readFileSync(join(b, name)));
    } catch {
      return true;
    }
  });
}

const out = mkdtempSync(join(tmpdir(), "rescp-node-gen-"));
try {
  generate(out);
  if (process.argv.includes("--check")) {
    const stale = differences(out, committed);
    if (stale.length > 0) {
      console.error(`clients/node/src/gen is stale (run: make node-proto): ${stale.join(", ")}`);
      process.exit(1);
    }
    console.log("clients/node/src/gen: up to date");
  } else {
    rmSync(committed, { recursive: true, force: true });
    cpSync(out, committed, { recursive: true });
    console.log(`generated ${files(committed).length} files into src/gen`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
