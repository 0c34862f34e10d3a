export {
  createOfflineResponder,
  type OfflineResponderOptions,
  type OfflineSpeechEngine,
} from './offline-responder.js';
export {
  createOpenAIResponder,
  DEFAULT_REPLY_INSTRUCTIONS,
  type OpenAIResponderOptions,
} from './openai-responder.js';
export { replyAborted } from './reply-deadline.js';
export { ReplyLoop, type ReplyLoopOptions, type ReplyOutcome } from './reply-loop.js';
export type { Reply, ReplyAudio, ReplyRequest, ReplyTurn, Responder } from './responder.js';
