import type { EarshotError } from '@earshot/protocol';
import {
  type OpenAIErrorClasses,
  type OpenAIRequestPhase,
  openAIRequestFailure,
} from '../shared/openai-request-failure.js';

/** When a request failed: the model lookup in `open()`, or an utterance mid-stream. */
export type OpenAIBatchPhase = OpenAIRequestPhase;

/**
 * Turns whatever a transcription request (or the model lookup at open) threw into a fatal
 * provider failure, as {@link openAIRequestFailure} maps it for every OpenAI HTTP request.
 */
export function transcriptionFailure(
  error: unknown,
  sdk: OpenAIErrorClasses,
  phase: OpenAIBatchPhase = 'request',
): EarshotError {
  return openAIRequestFailure(error, sdk, {
    provider: 'openai-batch',
    request: 'a transcription request',
    phase,
  });
}
