import { describe, expect, it } from 'vitest';
import { CLIENT_STATES, canTransition, isTerminalState } from './client-state.js';

describe('client state machine', () => {
  it('follows idle → connecting → open → streaming → stopping → closed', () => {
    const path = ['idle', 'connecting', 'open', 'streaming', 'stopping', 'closed'] as const;
    for (let i = 1; i < path.length; i++) {
      expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
    }
  });

  it('lets every live state fail, and only terminal states connect again', () => {
    for (const state of ['connecting', 'open', 'streaming', 'stopping'] as const) {
      expect(canTransition(state, 'error')).toBe(true);
    }
    expect(CLIENT_STATES.filter((s) => canTransition(s, 'connecting'))).toEqual([
      'idle',
      'closed',
      'error',
    ]);
    expect(CLIENT_STATES.filter(isTerminalState)).toEqual(['closed', 'error']);
  });

  it('forbids skipping ahead or going back', () => {
    expect(canTransition('idle', 'streaming')).toBe(false);
    expect(canTransition('open', 'stopping')).toBe(false);
    expect(canTransition('streaming', 'open')).toBe(false);
    expect(canTransition('closed', 'streaming')).toBe(false);
  });
});
