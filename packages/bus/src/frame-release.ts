import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Frame bytes received between two minor collections (4 batches of 512 KiB). ZeroMQ reports each
 * frame to V8 as external memory, and V8 starts a full (mark-compact) collection once the external
 * memory grown since the last one eats into the old generation's headroom (about 16 MiB above a
 * core's ~8 MiB heap) by more than the young generation's size: frames held for 8 MiB did, about
 * every 8 MiB of frames, 43-47 full collections and 0.5 CPU-s per million lines of the syslog
 * benchmark (receive.mjs, ~400-byte events; the collector's own threads included). Every 2 MiB
 * keeps frames far below that; each minor collection costs a fraction of a millisecond.
 */
export const FRAME_RELEASE_BYTES = 2 * 1024 * 1024;

type MinorGc = () => void;
let minorGc: MinorGc | undefined;

/** V8's `gc` function, fetched once without leaving `--expose-gc` on for other contexts. */
function getMinorGc(): MinorGc {
  if (!minorGc) {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    setFlagsFromString('--no-expose-gc');
    minorGc = () => gc({ type: 'minor' });
  }
  return minorGc;
}

/**
 * Releases ZeroMQ's received frames soon after they were routed. ZeroMQ hands a frame over as an
 * external Buffer on its own message memory (no copy), freed only when V8 collects that Buffer;
 * V8 collects young objects when its young generation fills or when external memory grew by
 * 64 MiB. A core that routes bytes makes so little garbage that the second comes first: it kept
 * up to 64 MiB of frames it had long routed. A minor collection every few MiB of frames costs a
 * fraction of a millisecond (the young generation holds little) and frees them.
 */
export class FrameReleaser {
  private bytes = 0;

  constructor(private readonly everyBytes = FRAME_RELEASE_BYTES) {}

  /** `bytes` more of frames were received (and are routed by the next call). */
  received(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes < this.everyBytes) return;
    this.bytes = 0;
    getMinorGc()();
  }
}
