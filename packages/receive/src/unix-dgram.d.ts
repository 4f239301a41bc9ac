// unix-dgram ships no types; this is the part of its API the receivers use.
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';
  export interface UnixDgramSocket extends EventEmitter {
    bind(path: string): void;
    connect(path: string): void;
    send(buf: Buffer, callback?: (err?: Error) => void): void;
    send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
    close(): void;
  }
  const unixDgram: { createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): UnixDgramSocket };
  export default unixDgram;
}
