export { DemuxedOpusStage, OPUS_STAGE_OUTPUT, type OpusDemuxer } from './demuxed-opus-stage.js';
export {
  FfmpegOpusStage,
  type FfmpegOpusStageOptions,
  type OpusContainer,
} from './ffmpeg-stage.js';
export { OggOpusStage, type OggOpusStageOptions } from './ogg-opus-stage.js';
export {
  isOpusDecodeRate,
  OPUS_DECODE_RATES,
  OPUS_SAMPLE_RATE,
  type OpusDecodeRate,
  OpusPacketDecoder,
  type OpusPacketDecoderOptions,
} from './opus-packet-decoder.js';
export { createOpusStage, type OpusDecoderKind, type OpusStageOptions } from './opus-stage.js';
export { WebmOpusStage, type WebmOpusStageOptions } from './webm-opus-stage.js';
