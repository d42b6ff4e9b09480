// A real `rescp serve` for the tests: a fresh subprocess on a free loopback port, handed out once
// its grpc health for "" is SERVING, and stopped by whoever started it (SIGCONT, SIGTERM,
// SIGKILL after 5 s). The binary is $RESCP_BIN, by default the repository's .venv/bin/rescp.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Client as GrpcClient, credentials, Metadata } from "@grpc/grpc-js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const BINARY = process.env.RESCP_BIN || join(REPO, ".venv", "bin", "rescp");
const SERVING = 1;
/** Servers that also serve HTTP take a port for it unless told not to: never in tests. */
const EXTRA = spawnSync(BINARY, ["serve", "--help"], { encoding: "utf8" }).stdout?.includes("--http-listen")
  ? ["--http-listen", "off"] : [];

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/** grpc.health.v1 Check for the whole server: the status number (1 = SERVING). */
function healthStatus(client) {
  return new Promise((done, fail) => {
    client.makeUnaryRequest("/grpc.health.v1.Health/Check", () => Buffer.alloc(0),
      (bytes) => {
        const reader = new BinaryReader(bytes);
        let status = 0;
        while (reader.pos < reader.len) {
          const [field, type] = reader.tag();
          if (field === 1) status = reader.int32();
          else reader.skip(type);
        }
        return status;
      },
      {}, new Metadata(), { deadline: Date.now() + 1000 },
      (error, status) => (error ? fail(error) : done(status)));
  });
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

export class Server {
  /** Start `rescp serve` (on `port`, else a free one; with `config`, else an empty-ish TOML
   * of its own) and wait until it is SERVING. */
  static async start(port, config) {
    for (let attempt = 1; ; attempt++) {
      const server = new Server(port ?? await freePort(), config);
      try {
        await server.serving();
        return server;
      } catch (error) {
        await server.stop();
        // A free port can be taken by someone else before rescp binds it: try another.
        if (port !== undefined || attempt === 3 || server.process.exitCode === null) throw error;
      }
    }
  }

  constructor(port, config) {
    this.port = port;
    this.target = `127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), "rescp-node-test-"));
    if (!config) {
      config = join(this.dir, "rescp.toml");
      writeFileSync(config, "# nothing configured, a short grace\n[server]\ngrace = 0.5\n");
    }
    this.stderr = "";
    this.process = spawn(BINARY, ["serve", "--store", "memory", "--listen", this.target,
      "--config", config, "--log-level", "warning", ...EXTRA], { stdio: ["ignore", "ignore", "pipe"] });
    this.process.stderr.on("data", (chunk) => { this.stderr = (this.stderr + chunk).slice(-4000); });
    this.exited = new Promise((done) => this.process.once("exit", done));
  }

  async serving() {
    const client = new GrpcClient(this.target, credentials.createInsecure());
    try {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if (this.process.exitCode !== null) throw new Error(`rescp serve exited at start:\n${this.stderr}`);
        try {
          if (await healthStatus(client) === SERVING) return;
        } catch {
          // not listening yet
        }
        await sleep(50);
      }
      throw new Error(`rescp serve on ${this.target} never became SERVING:\n${this.stderr}`);
    } finally {
      client.close();
    }
  }

  /** SIGSTOP ("hang"), SIGCONT ("resume") or SIGKILL ("kill") the server. */
  act(action) {
    const signals = { hang: "SIGSTOP", resume: "SIGCONT", kill: "SIGKILL" };
    if (!(action in signals)) throw new Error(`unknown server action "${action}"`);
    this.process.kill(signals[action]);
  }

  async stop() {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGCONT");
      this.process.kill("SIGTERM");
      const timer = setTimeout(() => this.process.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
