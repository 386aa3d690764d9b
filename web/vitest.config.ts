// Unit tests (Vitest) run in Node; IndexedDB comes from fake-indexeddb (test/setup.ts).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { environment: "node", include: ["test/**/*.test.ts"], setupFiles: ["test/setup.ts"] },
});
