import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Frame bytes received between two minor collections (16 batches of 512 KiB). core.mjs (1M
 * events, 1 drain): peak RSS 110 MB without, 90 MB every 8 MiB, 83 MB every 2 or 4 MiB; each
 * collection 0.3-0.9 ms under load, so every 8 MiB costs about 0.015 CPU-s per million events.
 */
export const FRAME_RELEASE_BYTES = 8 * 1024 * 1024;

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
