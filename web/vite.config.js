// Builds the phone app into web/static/, which is committed and shipped in the Python package
// (pip users need no Node.js). `npm run build` after changing anything under src/.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
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
