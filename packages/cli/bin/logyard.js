#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=8388608:${GLIBC_TUNABLES} node --max-semi-space-size=4 --single-threaded-gc
// The shebang sets glibc's malloc tunables (docs/sizing.md, "glibc's malloc"): the memory ZeroMQ receives
// batches into is kept for the next ones instead of being given back and faulted in again.
import { main } from '../dist/index.js';
main(process.argv);
