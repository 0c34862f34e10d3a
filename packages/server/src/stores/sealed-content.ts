import { EarshotError, type Word } from '@earshot/protocol';
import type { StoredEvent } from './store.js';
import { isSealed, sealedKeyId, type ValueCipher } from './value-cipher.js';

// What encryption at rest covers, decided here once for every store: what was said.
// - A segment's `text` and `words` become one sealed value in `text` (with `words` empty): one
//   IV and tag per final, and the words' timings travel with the words they time.
// - An event's `data` becomes `{ sealed }`: commands carry slots and results taken from speech,
//   the end hook's outcome may be a summary, a broadcast is the app's own, a DTMF digit may be
//   a PIN. Sealing every type means a new event type cannot leak by being forgotten here.
// Everything else stays clear: ids, times, order, confidence, speaker, the event's type, and
// the session record (metadata, which listings filter by, and figures that hold no speech).

/** The content of a segment that is sealed. */
type SegmentContent = { readonly text: string; readonly words: readonly Word[] };
type EventData = StoredEvent['data'];

const SEALED_FIELD = 'sealed';

/** `segment` with its text and words sealed into `text`. */
export function sealSegment<T extends SegmentContent>(
  cipher: ValueCipher,
  sessionId: string,
  segment: T,
): T {
  const content: SegmentContent = { text: segment.text, words: segment.words };
  return { ...segment, text: cipher.seal(JSON.stringify(content), sessionId), words: [] };
}

/** `segment` as it was before {@link sealSegment}; plaintext comes back as it is. */
export function openSegment<T extends SegmentContent>(
  cipher: ValueCipher,
  sessionId: string,
  segment: T,
): T {
  if (!isSealed(segment.text)) return segment;
  const content = parseJson(cipher.open(segment.text, sessionId), sessionId) as SegmentContent;
  if (typeof content?.text !== 'string' || !Array.isArray(content.words)) {
    throw unreadable(sessionId, 'a sealed segment holds no text and words');
  }
  return { ...segment, text: content.text, words: content.words };
}

/** Id of the key a stored segment's content is sealed with; `undefined` for plaintext. */
export function segmentKeyId(segment: SegmentContent): string | undefined {
  return sealedKeyId(segment.text);
}

/** `data` sealed into `{ sealed }`. */
export function sealEventData(cipher: ValueCipher, sessionId: string, data: EventData): EventData {
  return { [SEALED_FIELD]: cipher.seal(JSON.stringify(data), sessionId) };
}

/** `data` as it was before {@link sealEventData}; plaintext comes back as it is. */
export function openEventData(cipher: ValueCipher, sessionId: string, data: EventData): EventData {
  const sealed = sealedValueOf(data);
  if (sealed === undefined) return data;
  const content = parseJson(cipher.open(sealed, sessionId), sessionId);
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    throw unreadable(sessionId, 'a sealed event holds no object');
  }
  return content as EventData;
}

/** Id of the key a stored event's data is sealed with; `undefined` for plaintext. */
export function eventKeyId(data: EventData): string | undefined {
  const sealed = sealedValueOf(data);
  return sealed === undefined ? undefined : sealedKeyId(sealed);
}

function sealedValueOf(data: EventData): string | undefined {
  const keys = Object.keys(data);
  const value = data[SEALED_FIELD];
  return keys.length === 1 && typeof value === 'string' && isSealed(value) ? value : undefined;
}

function parseJson(text: string, sessionId: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw unreadable(sessionId, 'a sealed value is not JSON', cause);
  }
}

function unreadable(sessionId: string, why: string, cause?: unknown): EarshotError {
  return new EarshotError('store_error', `cannot read session ${sessionId}: ${why}`, {
    cause,
    details: { sessionId },
  });
}
