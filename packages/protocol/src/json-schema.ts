import * as z from 'zod/mini';
import { AudioFormatSchema } from './audio-format.js';
import { ClientMessageSchema } from './messages/client-messages.js';
import { ServerMessageSchema } from './messages/server-messages.js';
import { PROTOCOL_VERSION } from './version.js';

/**
 * The JSON Schema (draft 2020-12) of protocol v1, generated from the zod schemas so it cannot
 * drift from what the code accepts. Non-TypeScript clients can validate against it.
 */
export function protocolJsonSchema(): Record<string, unknown> {
  const io = { io: 'input' as const, unrepresentable: 'any' as const };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://earshot.dev/schema/protocol-${PROTOCOL_VERSION}.json`,
    title: `Earshot protocol ${PROTOCOL_VERSION}`,
    $defs: {
      AudioFormat: z.toJSONSchema(AudioFormatSchema, io),
      ClientMessage: z.toJSONSchema(ClientMessageSchema, io),
      ServerMessage: z.toJSONSchema(ServerMessageSchema, { ...io, io: 'output' }),
    },
  };
}
