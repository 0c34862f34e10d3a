/** The wire protocol version spoken on `/v1/listen`. Client and server must agree on it. */
export const PROTOCOL_VERSION = 'v1' as const;

/** The protocol version as a type. */
export type ProtocolVersion = typeof PROTOCOL_VERSION;
