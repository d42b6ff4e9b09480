// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from src/ with tsc, so that both
// `import` and `require` of the package work; dist/cjs/package.json tells Node its .js files
// are CommonJS (the package itself is "type": "module").
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
rmSync(join(here, "dist"), { recursive: true, force: true });
for (const project of ["tsconfig.json", "tsconfig.cjs.json"]) {
  execFileSync(process.execPath, [tsc, "-p", join(here, project)], { stdio: "inherit" });
}
writeFileSync(join(here, "dist", "cjs", "package.json"), '{ "type": "commonjs" }\n');
