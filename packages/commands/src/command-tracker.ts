import type { CommandDetector, CommandMatch } from './command-detector.js';

/** Where a transcript sits in the session's audio, in seconds. */
export interface TranscriptSpan {
  readonly start: number;
  readonly end: number;
}

// Confirmed commands remembered, to recognise the same words said again by a replay.
const REMEMBERED = 200;

const keyOf = (match: CommandMatch) => `${match.name}\u0000${JSON.stringify(match.slots)}`;

/**
 * Follows one session's transcripts and says when each command is `tentative` (seen in an
 * interim: a UI hint) and when it is `confirmed` (in a final) — each exactly once per
 * utterance, however often interims revise it, finals are sent again after a reconnect, or a
 * provider replay transcribes the same audio twice.
 */
export class CommandTracker {
  private readonly tentative = new Map<string, Set<string>>();
  private readonly confirmedSegments = new Set<string>();
  private readonly confirmed: { key: string; span: TranscriptSpan }[] = [];

  constructor(private readonly detector: CommandDetector) {}

  /**
   * An interim of `segmentId`: the commands it shows that this segment has not shown before
   * (a revision that changes a slot shows the command again).
   */
  interim(segmentId: string, text: string): CommandMatch[] {
    if (this.confirmedSegments.has(segmentId)) return [];
    const shown = this.tentative.get(segmentId) ?? new Set<string>();
    this.tentative.set(segmentId, shown);
    return this.detector.detect(text).filter((match) => {
      const key = keyOf(match);
      if (shown.has(key)) return false;
      shown.add(key);
      return true;
    });
  }

  /**
   * The final of `segmentId`: the commands to confirm and run. A segment is confirmed once;
   * a command whose final overlaps the audio of one already confirmed, with the same slots,
   * is the same command heard again, not a new one.
   */
  final(segmentId: string, text: string, span: TranscriptSpan): CommandMatch[] {
    this.tentative.delete(segmentId);
    if (this.confirmedSegments.has(segmentId)) return [];
    this.confirmedSegments.add(segmentId);
    const found: CommandMatch[] = [];
    for (const match of this.detector.detect(text)) {
      const key = keyOf(match);
      const again = this.confirmed.some(
        (c) => c.key === key && c.span.start < span.end && span.start < c.span.end,
      );
      if (again) continue;
      this.confirmed.push({ key, span });
      if (this.confirmed.length > REMEMBERED) this.confirmed.shift();
      found.push(match);
    }
    return found;
  }
}
