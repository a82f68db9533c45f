/**
 * Conversation audio (README "Audio", docs/decisions.md D27): where an archived recording is kept,
 * what its record says, and how a byte range of it is read. Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { AudioInfo, AudioStatus } from './types.js';

/**
 * The object key (S3) or file name (local) of a conversation's audio. Conversation ids are arbitrary
 * strings of up to 256 bytes (slashes, dots, any Unicode): the key is the SHA-256 of the id, never
 * the id itself, so it is always safe as a path and reveals nothing of the id.
 */
export function audioObjectName(conversationId: string): string {
  return createHash('sha256').update(conversationId, 'utf8').digest('hex');
}

/** The S3 key prefix of every archived recording (the functions' IAM grants name it). */
export const AUDIO_KEY_PREFIX = 'audio/';
export const audioObjectKey = (conversationId: string) => `${AUDIO_KEY_PREFIX}${audioObjectName(conversationId)}`;

/**
 * How long after an erasure its recording is deleted a second time (the audio queue's cleanup item):
 * longer than any upload already under way can still take (the enricher's lease, 2 minutes, and its
 * Lambda's timeout, 75 s), so an upload that completed after the erasure's own delete, in a process
 * that then died before deleting it, is removed too.
 */
export const AUDIO_CLEANUP_DELAY_MS = 5 * 60_000;

/** Used when ThreeTone names no (or no valid) media type. */
export const UNKNOWN_AUDIO_TYPE = 'application/octet-stream';
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/;

/**
 * The media type to store and serve, from ThreeTone's `Content-Type` (its format is undocumented):
 * the type without parameters, lower-cased, when it is a well-formed `type/subtype`; otherwise
 * `application/octet-stream`. Never echoes anything else of the header.
 */
export function audioContentType(header: string | null | undefined): string {
  const type = (header ?? '').split(';')[0]!.trim().toLowerCase();
  return MEDIA_TYPE.test(type) ? type : UNKNOWN_AUDIO_TYPE;
}

/** What the processing state keeps of a conversation's audio (ProcessingState.audio). */
export interface AudioState {
  /** Archived: its media type and size in bytes. */
  readonly stored?: { readonly content_type: string; readonly size_bytes: number };
  /** ThreeTone never served it within ENRICHMENT_GIVE_UP_HOURS of the end. */
  readonly gave_up?: boolean;
}

/**
 * The record's `audio`: `stored` once archived; `gave_up` when ThreeTone never served it in time;
 * `off` when AUDIO_ARCHIVE is off (and nothing was archived before); `pending` otherwise (it is
 * fetched once the conversation has ended).
 */
export function audioInfo(state: AudioState | undefined, archiveEnabled: boolean): AudioInfo {
  const status: AudioStatus = state?.stored ? 'stored' : state?.gave_up ? 'gave_up' : archiveEnabled ? 'pending' : 'off';
  return { status, content_type: state?.stored?.content_type ?? null, size_bytes: state?.stored?.size_bytes ?? null };
}

/** The answer to a `Range` header for a body of `size` bytes (RFC 9110 §14). */
export type ByteRange =
  /** No range asked for, or one this server ignores (several ranges, another unit, bad syntax): the whole body, 200. */
  | { readonly kind: 'whole' }
  /** 206 with `Content-Range: bytes start-end/size` (`end` inclusive). */
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  /** 416 with `Content-Range: bytes *\/size`. */
  | { readonly kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`). A server may ignore a Range header, so
 * anything else (several ranges, other units, malformed) is answered whole; a well-formed range that
 * starts at or past the end, or a zero-length suffix, is unsatisfiable.
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined || header.trim() === '') return { kind: 'whole' };
  const m = SINGLE_RANGE.exec(header.trim());
  if (!m) return { kind: 'whole' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // A suffix: the last n bytes.
    const n = Number(last);
    if (!Number.isSafeInteger(n)) return { kind: 'whole' };
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'whole' };
  if (end < start) return { kind: 'whole' }; // invalid: ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
