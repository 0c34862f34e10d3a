import { describe, expect, it } from 'vitest';
import { WebmDemuxer } from './webm-demuxer.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// An EBML header, a Segment of unknown size, and Tracks of unknown size holding one video
// track: the stream has no Opus, which the demuxer learns when the next level-1 element
// (a Cluster) closes Tracks.
const NO_OPUS = hex(`
  1a45dfa3 80
  18538067 01ffffffffffffff
  1654ae6b 01ffffffffffffff
  ae 83  83 81 01
`);

function record() {
  const events: string[] = [];
  const demuxer = new WebmDemuxer({
    track: () => events.push('track'),
    packet: () => events.push('packet'),
    invalid: (message, fatal) => events.push(`${fatal ? 'fatal' : 'invalid'}: ${message}`),
    cluster: () => events.push('cluster'),
  });
  return { demuxer, events };
}

describe('WebmDemuxer', () => {
  it('reports nothing after the fatal report of a stream without Opus', () => {
    for (const cluster of ['1f43b675 80', '1f43b675 01fffffffffffffe']) {
      const { demuxer, events } = record();
      demuxer.write(Buffer.concat([NO_OPUS, hex(cluster)]));
      demuxer.end();
      expect(events).toEqual([
        'fatal: the WebM audio track is of unknown codec, not Opus (A_OPUS)',
      ]);
    }
  });
});
