// Builds the phone app into web/static/, which is committed and shipped in the Python package
// (pip users need no Node.js). `npm run build` after changing anything under src/.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { defineConfig } from "vite";

// public/ is copied as is: the manifest and its icons, part of the shell too.
const PUBLIC_SHELL = ["manifest.webmanifest", "icons/icon-192.png", "icons/icon-512.png"];

/** Writes static/sw.js from src/sw.js with this build's file list and a cache version derived from it. */
function serviceWorker() {
  return {
    name: "pamchain-service-worker",
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((name) => name !== "index.html").sort();
      const shell = ["", "index.html", ...files, ...PUBLIC_SHELL];
      const hash = createHash("sha256");
      for (const name of files) hash.update(name);
      hash.update(readFileSync("index.html"));
      for (const name of PUBLIC_SHELL) hash.update(readFileSync(`public/${name}`));
      const template = readFileSync("src/sw.js", "utf8");
      hash.update(template);
      const source = template
        .replace("__SHELL__", JSON.stringify(shell))
        .replace("__VERSION__", hash.digest("hex").slice(0, 16));
      this.emitFile({ type: "asset", fileName: "sw.js", source });
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [serviceWorker()],
  build: {
    outDir: "static",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2048,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` against a running `pamchain web --port 8600`
    proxy: { "/rpc": "http://127.0.0.1:8600", "/payloads": "http://127.0.0.1:8600", "/api": "http://127.0.0.1:8600", "/config.json": "http://127.0.0.1:8600" },
  },
});
