// The SHA-256 of a picked file, which a direct upload declares before it starts (so the server
// can answer "you already have it") and which proves a file picked again after a reload is the
// same one. WebCrypto's digest() takes the whole file in memory at once; a gigabyte book must
// not, so the file is read in 4 MiB slices into an incremental hash: @noble/hashes (audited,
// pure JavaScript: no WebAssembly, which the page's CSP does not allow). It loads on the first
// upload, outside the first-load bundle. Between slices the page stays responsive; a Web Worker
// would be faster still, but a worker must come from the page's own origin, and the build may
// be served from a CDN (STATIC_HOST).
const SLICE = 4 * 1024 * 1024;

export async function sha256Hex(
  blob: Blob,
  onProgress: (done: number) => void = () => {},
  signal?: AbortSignal,
): Promise<string> {
  const { sha256 } = await import("@noble/hashes/sha2.js");
  const hash = sha256.create();
  for (let at = 0; at < blob.size; at += SLICE) {
    signal?.throwIfAborted();
    const bytes = new Uint8Array(await blob.slice(at, Math.min(blob.size, at + SLICE)).arrayBuffer());
    hash.update(bytes);
    onProgress(Math.min(blob.size, at + SLICE));
  }
  return [...hash.digest()].map((b) => b.toString(16).padStart(2, "0")).join("");
}
