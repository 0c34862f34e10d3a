import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_TYPES,
  ClientMessageSchema,
  EarshotError,
  parseClientMessage,
  parseServerMessage,
  SERVER_MESSAGE_TYPES,
  ServerMessageSchema,
} from './index.js';

const start = { type: 'start', audio: { encoding: 'pcm16', sampleRate: 16000 } };

describe('parseClientMessage', () => {
  it('parses start and fills in its defaults', () => {
    const result = parseClientMessage(JSON.stringify(start));
    expect(result).toEqual({
      ok: true,
      message: {
        type: 'start',
        audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
        language: 'en-US',
        interimResults: true,
        keywords: [],
        diarize: false,
      },
    });
  });

  it('parses every other client message', () => {
    for (const type of ['finalize', 'stop', 'session_info'] as const) {
      expect(parseClientMessage(JSON.stringify({ type }))).toEqual({ ok: true, message: { type } });
    }
    expect(parseClientMessage('{"type":"ping","id":"a"}')).toEqual({
      ok: true,
      message: { type: 'ping', id: 'a' },
    });
  });

  it.each([
    ['not json', 'invalid_json'],
    ['{"type":', 'invalid_json'],
    ['[1,2]', 'unknown_message_type'],
    ['null', 'unknown_message_type'],
    ['{"no":"type"}', 'unknown_message_type'],
    ['{"type":"transcribe"}', 'unknown_message_type'],
    ['{"type":"start"}', 'invalid_message'],
    ['{"type":"start","audio":{"encoding":"mp3","sampleRate":16000}}', 'invalid_message'],
    ['{"type":"start","audio":{"encoding":"pcm16","sampleRate":0}}', 'invalid_message'],
    ['{"type":"start","audio":{"encoding":"pcm16","sampleRate":10000000}}', 'invalid_message'],
    [
      '{"type":"start","audio":{"encoding":"pcm16","sampleRate":16000,"channels":8}}',
      'invalid_message',
    ],
    [
      '{"type":"start","audio":{"encoding":"pcm16","sampleRate":16000},"keywords":"x"}',
      'invalid_message',
    ],
  ])('rejects %s with %s, never throwing', (text, code) => {
    const result = parseClientMessage(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe(code);
      expect(result.error.fatal).toBe(false);
    }
  });

  it('names the field that failed validation', () => {
    const result = parseClientMessage(
      '{"type":"start","audio":{"encoding":"pcm16","sampleRate":0}}',
    );
    expect(!result.ok && result.error.message).toContain('audio.sampleRate');
  });

  it('does not echo a huge unknown type back in full', () => {
    const result = parseClientMessage(JSON.stringify({ type: 'x'.repeat(10_000) }));
    expect(!result.ok && result.error.message.length).toBeLessThan(200);
  });

  it('does not echo a huge key back in full when it names the failing field', () => {
    const key = 'k'.repeat(100_000);
    const result = parseClientMessage(JSON.stringify({ ...start, metadata: { [key]: {} } }));
    expect(!result.ok && result.error.code).toBe('invalid_message');
    expect(!result.ok && result.error.message).toContain(`metadata.${'k'.repeat(40)}…`);
    expect(!result.ok && result.error.message.length).toBeLessThan(200);
  });
});

describe('parseServerMessage', () => {
  it('parses a final transcript', () => {
    const result = parseServerMessage(
      JSON.stringify({
        type: 'transcript',
        segmentId: 's1',
        isFinal: true,
        text: 'hi',
        start: 0,
        end: 0.5,
      }),
    );
    expect(result).toMatchObject({ ok: true, message: { words: [], text: 'hi' } });
  });

  it('rejects an error message with a code the protocol does not define', () => {
    const result = parseServerMessage('{"type":"error","code":"oops","message":"x","fatal":false}');
    expect(result.ok).toBe(false);
  });
});

describe('the schemas and the type lists agree', () => {
  it('lists every client and server message type', () => {
    const types = (options: readonly { shape: { type: { def: { values: unknown[] } } } }[]) =>
      options.flatMap((o) => o.shape.type.def.values).sort();
    expect(types(ClientMessageSchema.def.options)).toEqual([...CLIENT_MESSAGE_TYPES].sort());
    expect(types(ServerMessageSchema.def.options)).toEqual([...SERVER_MESSAGE_TYPES].sort());
  });
});

describe('EarshotError', () => {
  it('carries a stable code, fatality and cause, and serializes to an error message', () => {
    const cause = new Error('socket reset');
    const error = new EarshotError('provider_error', 'upstream dropped', { fatal: true, cause });
    expect(error.cause).toBe(cause);
    expect(error.toWire()).toEqual({
      type: 'error',
      code: 'provider_error',
      message: 'upstream dropped',
      fatal: true,
    });
  });

  it('is recognized across copies of the package by its symbol marker', () => {
    const foreign = Object.assign(Object.create(null), { [Symbol.for('earshot.error')]: true });
    expect(EarshotError.isInstance(foreign)).toBe(true);
    expect(EarshotError.isInstance(new Error('x'))).toBe(false);
    expect(EarshotError.isInstance(null)).toBe(false);
  });

  it('wraps foreign throwables and keeps its own', () => {
    const own = new EarshotError('capacity', 'full');
    expect(EarshotError.from(own)).toBe(own);
    const wrapped = EarshotError.from('boom', 'provider_error');
    expect(wrapped).toMatchObject({ code: 'provider_error', message: 'boom', fatal: false });
  });

  it('wraps throwables that cannot be turned into a string, without throwing itself', () => {
    const bare = Object.create(null);
    expect(EarshotError.from(bare)).toMatchObject({ code: 'internal', message: '[object Object]' });
    expect(EarshotError.from({ toString: 1 }).cause).toEqual({ toString: 1 });
    const hostile = {
      toString() {
        throw new Error('no');
      },
    };
    expect(EarshotError.from(hostile, 'provider_error').code).toBe('provider_error');
    const trap = () => {
      throw new Error('no');
    };
    const proxy = new Proxy({}, { get: trap, getPrototypeOf: () => null });
    expect(EarshotError.from(proxy).message).toBe('a thrown value that cannot be shown');
  });
});
