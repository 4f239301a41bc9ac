import type { Scheme } from '../scheme.js';
import { connectStream } from '../stream.js';

/** `tcp` (and `tls`, the same over TLS): newline-delimited lines over one connection. */
export const tcp: Scheme = {
  syntax: { target: 'network', params: {} },
  connect: connectStream,
};
