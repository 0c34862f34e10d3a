// Items whose final never came (a provider that dropped an utterance) are forgotten oldest
// first past this many, so a long session cannot grow the map without bound. Utterances
// follow one another; more than a few open at once never happens in a healthy stream.
const MAX_OPEN_ITEMS = 16;

/**
 * Turns a session's interim transcripts, each the whole text of its utterance so far, into
 * appended-text deltas, as OpenAI's Realtime transcription streams them
 * (`conversation.item.input_audio_transcription.delta`): a frontend written against those
 * appends each delta to what it shows.
 *
 * @example
 * ```ts
 * const deltas = new TranscriptDeltas();
 * deltas.next('s:1', 'add a');      // 'add a'
 * deltas.next('s:1', 'add a note'); // ' note'
 * deltas.next('s:1', 'at a note');  // undefined: a revision, not an extension
 * deltas.settle('s:1');             // true: something was sent for this item
 * ```
 */
export class TranscriptDeltas {
  /** What the frontend holds of each open item: every delta sent, joined. */
  private readonly sent = new Map<string, string>();

  /**
   * The text `text` appends to what was sent for `itemId`, or `undefined` when there is
   * nothing new. A revision that does not extend what was sent gives nothing: a delta cannot
   * take text back, and the item's completed event carries the whole text anyway.
   */
  next(itemId: string, text: string): string | undefined {
    const before = this.sent.get(itemId) ?? '';
    if (text.length <= before.length || !text.startsWith(before)) return undefined;
    if (!this.sent.has(itemId) && this.sent.size >= MAX_OPEN_ITEMS) {
      const oldest = this.sent.keys().next().value;
      if (oldest !== undefined) this.sent.delete(oldest);
    }
    this.sent.set(itemId, text);
    return text.slice(before.length);
  }

  /** Forgets `itemId` (its final came); returns whether any delta of it had been sent. */
  settle(itemId: string): boolean {
    return this.sent.delete(itemId);
  }

  /** Forgets every item (the session is over). */
  clear(): void {
    this.sent.clear();
  }
}
