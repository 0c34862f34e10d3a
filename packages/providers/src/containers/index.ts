export { OggDemuxer, type OggDemuxerEvents, type OggDemuxerOptions } from './ogg-demuxer.js';
export {
  type OpusContainer,
  OpusContainerClock,
  type OpusContainerHooks,
} from './opus-container-clock.js';
export { type OpusHead, opusPacketSamples, parseOpusHead, startsWithAscii } from './opus-head.js';
export {
  WebmDemuxer,
  type WebmDemuxerEvents,
  type WebmDemuxerOptions,
  type WebmOpusTrack,
} from './webm-demuxer.js';
