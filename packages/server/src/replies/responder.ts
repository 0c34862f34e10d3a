import type { Metadata } from '@earshot/protocol';

/** One exchange of a conversation so far: what the user said and what was answered. */
export interface ReplyTurn {
  readonly user: string;
  readonly assistant: string;
}

/** What a responder is asked: the user's last utterance, with its session's context. */
export interface ReplyRequest {
  /** The final transcript of the utterance to answer. */
  readonly transcript: string;
  readonly sessionId: string;
  readonly metadata: Metadata;
  /** Earlier exchanges of this session, oldest first (bounded). */
  readonly history: readonly ReplyTurn[];
  /** Aborted when the session ends or the caller speaks over the reply. */
  readonly signal: AbortSignal;
}

/** Speech to play back: a whole audio file in one of the formats players and `session.play` take. */
export interface ReplyAudio {
  /** The file's bytes. */
  readonly data: Uint8Array;
  /** `wav` (PCM16 RIFF) or `mp3`. */
  readonly format: 'wav' | 'mp3';
}

/** A responder's answer: text, and the same text spoken when it can speak. */
export interface Reply {
  readonly text: string;
  readonly audio?: ReplyAudio;
}

/**
 * Answers a user's utterance: the voice-agent reply loop (transcript → reply text → speech).
 * Called once per final utterance, one at a time per session. Rejects with an `EarshotError`
 * (`provider_error`, `provider_unavailable`) when it cannot answer; the session goes on.
 */
export interface Responder {
  /** Short stable name (`offline`, `openai`), for logs. */
  readonly name: string;
  /** Answers one utterance; aborts when `request.signal` does. */
  respond(request: ReplyRequest): Promise<Reply>;
}
