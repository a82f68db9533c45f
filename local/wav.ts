/**
 * Generated recordings for the ThreeTone simulator: a PCM WAV file (mono, 16-bit) holding a sine
 * tone, produced chunk by chunk, so a file of any size is streamed and never held in memory.
 */

export const WAV_HEADER_BYTES = 44;
const CHUNK_BYTES = 64 * 1024;

/** The 44-byte RIFF/WAVE header of `dataBytes` bytes of 16-bit mono PCM at `sampleRate`. */
export function wavHeader(dataBytes: number, sampleRate: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16); // PCM format chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28); // bytes per second
  h.writeUInt16LE(2, 32); // block align
  h.writeUInt16LE(16, 34); // bits per sample
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/**
 * A whole WAV file of `totalBytes` (at least the header; the data rounded down to whole samples):
 * the header, then the tone, in chunks of at most 64 KiB.
 */
export function* wavTone(totalBytes: number, opts: { frequencyHz: number; sampleRate?: number }): Generator<Buffer> {
  const sampleRate = opts.sampleRate ?? 8_000;
  const dataBytes = Math.max(0, Math.floor((totalBytes - WAV_HEADER_BYTES) / 2) * 2);
  yield wavHeader(dataBytes, sampleRate);
  const step = (2 * Math.PI * opts.frequencyHz) / sampleRate;
  let sample = 0;
  for (let written = 0; written < dataBytes; ) {
    const size = Math.min(CHUNK_BYTES, dataBytes - written);
    const chunk = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i += 2) chunk.writeInt16LE(Math.round(Math.sin(step * sample++) * 8_000), i);
    written += size;
    yield chunk;
  }
}

/** The file size `wavTone` produces for `totalBytes`. */
export const wavSize = (totalBytes: number) => WAV_HEADER_BYTES + Math.max(0, Math.floor((totalBytes - WAV_HEADER_BYTES) / 2) * 2);
