// The build Django serves (apps/common/web.py): hashed names under assets/, a manifest Django
// reads to link the entry, and relative chunk URLs (base "./") so the same build works from the
// app's /static/web/ and from a CDN (STATIC_HOST) without rebuilding.
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Not under .vite/: collectstatic ignores dot-folders, and the image keeps only what it collected.
    manifest: "manifest.json",
    target: "es2022",
    rollupOptions: { input: "src/main.tsx" },
  },
});
