import type { ServerMessageInput } from '@earshot/protocol';
import type { PlayAudio } from '../transports/twilio/phone-audio.js';
import type { PlayOutcome } from '../transports/twilio/twilio-player.js';

/**
 * The session's view of its transport: where its events go. A transport translates them onto
 * its own wire format; the session never knows which one it talks to.
 */
export interface SessionPeer {
  /** Delivers one protocol message to the client. */
  send(message: ServerMessageInput): void;
  /** Closes the connection with a WebSocket close code. */
  close(code: number, reason: string): void;
  /**
   * Whether the client can come back and resume the session (the canonical client can; a phone
   * call cannot). When `false`, the session ends as soon as the connection is gone. Default true.
   */
  readonly resumable?: boolean;
  /** Plays audio to the caller, where the transport can (a bidirectional phone call). */
  play?(audio: PlayAudio): Promise<PlayOutcome>;
}
