/** Alignment of every block `allocateBlocks` returns: what direct I/O asks of memory, file offsets and lengths. */
export const BLOCK_ALIGN = 4096;

const WASM_PAGE = 64 * 1024;

/**
 * `count` blocks of `size` bytes (a multiple of 64 KiB) in one shared,
 * page-aligned memory: threads read them without a copy (a
 * SharedArrayBuffer), and the filesystem store writes them with direct I/O
 * (aligned). A shared WebAssembly memory is both: V8 maps it from whole
 * pages. Untouched pages cost no resident memory.
 */
export function allocateBlocks(count: number, size: number): Buffer[] {
  if (size % WASM_PAGE) throw new Error(`block size ${size} is not a multiple of ${WASM_PAGE}`);
  const pages = (count * size) / WASM_PAGE;
  let buffer: SharedArrayBuffer;
  try {
    buffer = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer as unknown as SharedArrayBuffer;
  } catch {
    // No shared WebAssembly memory here: shared but unaligned blocks, which the store writes without direct I/O.
    buffer = new SharedArrayBuffer(count * size);
  }
  return Array.from({ length: count }, (_, i) => Buffer.from(buffer, i * size, size));
}
