import type { Logger, ServerMessageInput } from '@earshot/protocol';
import { ReplyLoop } from '../../replies/reply-loop.js';
import type { Responder } from '../../replies/responder.js';
import type { Session } from '../../session/session.js';
import { UtteranceCollector } from '../dialects/utterance-collector.js';
import type { PlayAudio } from './phone-audio.js';

/**
 * The reply loop of a phone call: each thing the caller says (finals up to a pause) is answered
 * by the responder, and the answer's speech is played into the call. The caller speaking over it
 * stops the playback (the player's barge-in) and cancels a reply still being written; replies
 * queue, one at a time.
 */
export class CallReplies {
  private readonly utterances: UtteranceCollector;
  private readonly loop: ReplyLoop;

  constructor(
    responder: Responder,
    session: Session,
    play: (audio: PlayAudio) => Promise<unknown>,
    logger: Logger,
  ) {
    this.loop = new ReplyLoop(
      responder,
      async (outcome) => {
        if ('error' in outcome) return; // logged by the loop; the call goes on in silence
        if (outcome.reply.audio) await play(outcome.reply.audio.data);
        else
          logger.warn({ sessionId: session.id }, 'twilio: a reply without speech; nothing to play');
      },
      { sessionId: session.id, metadata: () => session.metadata, logger },
    );
    this.utterances = new UtteranceCollector((utterance) => {
      if (utterance.text) this.loop.push(utterance.text);
    });
  }

  /** Reads one message the call's session sends. */
  observe(message: ServerMessageInput): void {
    this.utterances.observe(message);
    // The caller speaks over a reply still being written: it answers what was said before, so
    // it is cancelled (the player clears what is already playing).
    const speaking =
      message.type === 'speech_started' ||
      (message.type === 'transcript' && !message.isFinal && message.text.trim() !== '');
    if (speaking) this.loop.interrupt();
  }

  /** The call is over: nothing more is answered. */
  close(): void {
    this.utterances.dispose();
    this.loop.close();
  }
}
