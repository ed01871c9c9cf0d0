// Parse mermaid files with mermaid's own parser (mermaid 10 + jsdom), for tests/machines.
// Usage: node mermaid_parse.mjs MODULES_DIR FILE...   (MODULES_DIR holds node_modules/mermaid, jsdom)
// Prints "ok FILE" or "FAIL FILE message" per file; exit status 1 when any file fails.
import fs from "fs";
import path from "path";
import { createRequire } from "module";
import { pathToFileURL } from "url";

const [modulesDir, ...files] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modulesDir), "package.json"));
const { JSDOM } = require("jsdom");
const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
const mermaid = (await import(pathToFileURL(require.resolve("mermaid")).href)).default;
mermaid.initialize({ startOnLoad: false });
let failed = 0;
for (const file of files) {
  try {
    await mermaid.parse(fs.readFileSync(file, "utf8"));
    console.log("ok", file);
  } catch (error) {
    failed += 1;
    console.log("FAIL", file, String(error.message || error).split("\n").join(" | "));
  }
}
process.exit(failed ? 1 : 0);
