/**
 * What the WebM demuxer found about the Opus track it will deliver packets of.
 */
export interface WebmOpusTrack {
  /** The track's number, as blocks name it. */
  readonly number: number;
  /** `CodecPrivate`: the `OpusHead` packet, when the muxer wrote one (browsers do). */
  readonly codecPrivate: Uint8Array | undefined;
  /** `Audio/Channels`, or 1 when absent. */
  readonly channels: number;
  /** `Audio/SamplingFrequency`, or 48000 when absent. */
  readonly samplingFrequency: number;
}

/** Callbacks of {@link WebmDemuxer}. */
export interface WebmDemuxerEvents {
  /** The Opus track was chosen (once per EBML header). */
  track(track: WebmOpusTrack): void;
  /** One Opus packet of the chosen track: a view valid only during the call. */
  packet(packet: Uint8Array): void;
  /** Bytes that are not WebM/Opus. `fatal` when nothing more can be decoded. */
  invalid(message: string, fatal: boolean): void;
  /**
   * A Cluster starts at stream byte `offset` (the first one ends the stream's header), for a
   * reader that indexes the stream, such as the resilient layer's replay.
   */
  cluster?(offset: number): void;
  /** The current Cluster's `Timecode` element, whole (ID, size and body). */
  clusterTimecode?(element: Uint8Array): void;
  /** A block of the Opus track starts at stream byte `offset` (its SimpleBlock or BlockGroup); its packets follow. */
  block?(offset: number): void;
}

/** Options of {@link WebmDemuxer}. */
export interface WebmDemuxerOptions {
  /** The largest element body held in memory; bigger ones are reported and skipped. 1 MiB. */
  readonly maxElementBytes?: number;
}

// Element IDs (with their length marker bits, as they appear on the wire).
const ID_EBML = 0x1a45dfa3;
const ID_SEGMENT = 0x18538067;
const ID_SEEK_HEAD = 0x114d9b74;
const ID_INFO = 0x1549a966;
const ID_TRACKS = 0x1654ae6b;
const ID_CLUSTER = 0x1f43b675;
const ID_CUES = 0x1c53bb6b;
const ID_ATTACHMENTS = 0x1941a469;
const ID_CHAPTERS = 0x1043a770;
const ID_TAGS = 0x1254c367;
const ID_TRACK_ENTRY = 0xae;
const ID_TRACK_NUMBER = 0xd7;
const ID_TRACK_TYPE = 0x83;
const ID_CODEC_ID = 0x86;
const ID_CODEC_PRIVATE = 0x63a2;
const ID_AUDIO = 0xe1;
const ID_SAMPLING_FREQUENCY = 0xb5;
const ID_CHANNELS = 0x9f;
const ID_TIMECODE = 0xe7;
const ID_SIMPLE_BLOCK = 0xa3;
const ID_BLOCK_GROUP = 0xa0;
const ID_BLOCK = 0xa1;
const ID_VOID = 0xec;
const ID_CRC32 = 0xbf;

const TRACK_TYPE_AUDIO = 2;

/**
 * Levels of the masters this reader knows: an element of level L closes every open element
 * of level ≥ L. That is how elements of unknown size (MediaRecorder's Segment and Clusters)
 * end: the next Cluster, or a Cues, starts.
 */
const LEVEL = new Map<number, number>([
  [ID_EBML, 0],
  [ID_SEGMENT, 0],
  [ID_SEEK_HEAD, 1],
  [ID_INFO, 1],
  [ID_TRACKS, 1],
  [ID_CLUSTER, 1],
  [ID_CUES, 1],
  [ID_ATTACHMENTS, 1],
  [ID_CHAPTERS, 1],
  [ID_TAGS, 1],
  [ID_TRACK_ENTRY, 2],
  [ID_BLOCK_GROUP, 2],
  [ID_SIMPLE_BLOCK, 2],
  [ID_TIMECODE, 2],
  [ID_AUDIO, 3],
]);

/** Masters the reader descends into; every other master is skipped whole by its size. */
const ENTERED = new Set([
  ID_SEGMENT,
  ID_TRACKS,
  ID_TRACK_ENTRY,
  ID_AUDIO,
  ID_CLUSTER,
  ID_BLOCK_GROUP,
]);

/** Leaves whose bodies the reader reads; every other leaf is skipped by its size. */
const READ = new Set([
  ID_TIMECODE,
  ID_TRACK_NUMBER,
  ID_TRACK_TYPE,
  ID_CODEC_ID,
  ID_CODEC_PRIVATE,
  ID_SAMPLING_FREQUENCY,
  ID_CHANNELS,
  ID_SIMPLE_BLOCK,
  ID_BLOCK,
]);

/**
 * What may appear directly in a Segment or a Cluster. Those two are the masters whose size
 * is often unknown, so anything else there is taken for garbage rather than skipped by a
 * size that may be random.
 */
const SEGMENT_CHILDREN = new Set([
  ID_SEEK_HEAD,
  ID_INFO,
  ID_TRACKS,
  ID_CLUSTER,
  ID_CUES,
  ID_ATTACHMENTS,
  ID_CHAPTERS,
  ID_TAGS,
  ID_VOID,
  ID_CRC32,
]);
const CLUSTER_CHILDREN = new Set([
  ID_TIMECODE,
  ID_SIMPLE_BLOCK,
  ID_BLOCK_GROUP,
  0xa7, // Position
  0xab, // PrevSize
  0x5854, // SilentTracks
  0xaf, // EncryptedBlock
  ID_VOID,
  ID_CRC32,
  // Level-1 IDs close the Cluster; they are checked against the Segment after that.
]);

interface OpenMaster {
  readonly id: number;
  readonly level: number;
  /** Stream offset where it ends, or `undefined` for an unknown size. */
  readonly end: number | undefined;
}

interface TrackFields {
  number: number;
  type: number;
  codecId: string;
  codecPrivate: Uint8Array | undefined;
  channels: number;
  samplingFrequency: number;
}

type State = 'id' | 'size' | 'body' | 'skip' | 'resync';

const DEFAULT_MAX_ELEMENT_BYTES = 1024 * 1024;
const textDecoder = new TextDecoder();

/**
 * A streaming WebM (Matroska) demuxer for one Opus audio track, written as a byte-driven
 * state machine: it reads only the elements it needs (EBML header, Segment, Tracks,
 * TrackEntry, CodecID, CodecPrivate, Audio, Cluster, SimpleBlock, BlockGroup/Block), skips
 * everything else by its size without holding it, and handles unknown sizes. Bytes may come
 * split at any boundary; at most one element body is held (bounded by `maxElementBytes`).
 *
 * Garbage is reported once through `invalid`, then the reader scans for the next Cluster (or
 * EBML header) ID and goes on. It never throws from {@link WebmDemuxer.write}.
 *
 * @example
 * ```ts
 * const demuxer = new WebmDemuxer({
 *   track: (t) => console.info('opus track', t.number),
 *   packet: (p) => decoder.decode(p),
 *   invalid: (message) => console.warn(message),
 * });
 * for (const chunk of mediaRecorderChunks) demuxer.write(chunk);
 * demuxer.end();
 * ```
 */
export class WebmDemuxer {
  private state: State = 'id';
  /** Stream offset of the next byte to read. */
  private pos = 0;
  private readonly stack: OpenMaster[] = [];
  // The ID or size being read, byte by byte (they are 1–8 bytes and may be split).
  private vintValue = 0;
  private vintLength = 0;
  private vintRead = 0;
  private vintAllOnes = true;
  private elementId = 0;
  private elementStart = 0;
  // The body being read, when it is split across writes.
  private body: Uint8Array | undefined;
  private bodyRead = 0;
  private bodySize = 0;
  private skipLeft = 0;
  /** The last four bytes seen while resyncing, as one number. */
  private window = 0;
  private reporting = false;
  private sawHeader = false;
  private tracks: TrackFields[] = [];
  private trackDraft: TrackFields | undefined;
  private opusTrack: number | undefined;
  /** Stream offset of the BlockGroup being read: where its Block's replay would start. */
  private groupStart = 0;
  private failed = false;
  private readonly maxElementBytes: number;

  constructor(
    private readonly events: WebmDemuxerEvents,
    options: WebmDemuxerOptions = {},
  ) {
    this.maxElementBytes = options.maxElementBytes ?? DEFAULT_MAX_ELEMENT_BYTES;
  }

  /** Whether an Opus track has been found and packets can flow. */
  get hasTrack(): boolean {
    return this.opusTrack !== undefined;
  }

  /** Feeds the next bytes of the stream, split anywhere. */
  write(chunk: Uint8Array): void {
    if (this.failed) return;
    let i = 0;
    const n = chunk.byteLength;
    while (i < n && !this.failed) {
      switch (this.state) {
        case 'id':
        case 'size': {
          const b = chunk[i]!;
          i++;
          this.pos++;
          if (!this.readVintByte(b)) {
            this.garbage(this.state === 'id' ? 'an invalid element ID' : 'an invalid element size');
            break;
          }
          if (this.vintRead < this.vintLength) break;
          if (this.state === 'id') this.idRead(this.vintValue);
          else this.sizeRead(this.vintAllOnes ? undefined : this.vintValue);
          break;
        }
        case 'body': {
          const take = Math.min(this.bodySize - this.bodyRead, n - i);
          if (this.body === undefined && take === this.bodySize) {
            // The whole body is in this chunk: hand out a view, copy nothing.
            const view = chunk.subarray(i, i + take);
            i += take;
            this.pos += take;
            this.bodyDone(view);
            break;
          }
          this.body ??= new Uint8Array(this.bodySize);
          this.body.set(chunk.subarray(i, i + take), this.bodyRead);
          this.bodyRead += take;
          i += take;
          this.pos += take;
          if (this.bodyRead === this.bodySize) {
            const body = this.body;
            this.body = undefined;
            this.bodyDone(body);
          }
          break;
        }
        case 'skip': {
          const take = Math.min(this.skipLeft, n - i);
          this.skipLeft -= take;
          i += take;
          this.pos += take;
          if (this.skipLeft === 0) this.elementDone();
          break;
        }
        case 'resync': {
          i = this.scan(chunk, i);
          break;
        }
      }
    }
  }

  /**
   * End of the stream: reports a stream cut inside an element (truncated), or one that never
   * declared an Opus track.
   */
  end(): void {
    if (this.failed) return;
    if (!this.sawHeader) {
      if (!this.reporting) this.events.invalid('the stream ended before a WebM header', true);
      return;
    }
    const inside =
      this.state === 'body' ||
      this.state === 'skip' ||
      this.state === 'size' ||
      (this.state === 'id' && this.vintRead > 0) ||
      this.stack.some((m) => m.end !== undefined && m.end > this.pos);
    if (inside && this.state !== 'resync') {
      this.events.invalid(
        `the WebM stream is truncated: it ended inside an element (at byte ${this.pos})`,
        false,
      );
    } else if (this.opusTrack === undefined && !this.reporting) {
      this.events.invalid('the WebM stream ended without an Opus track', true);
    }
  }

  /** Adds one byte to the ID or size being read; `false` when it cannot start one. */
  private readVintByte(b: number): boolean {
    if (this.vintRead === 0) {
      if (b === 0) return false;
      const length = Math.clz32(b) - 23; // leading zeros within the byte, plus one
      if (this.state === 'id') {
        if (length > 4) return false;
        this.vintValue = b; // IDs keep their marker bits
      } else {
        const value = b & (0xff >> length);
        this.vintValue = value;
        this.vintAllOnes = value === 0xff >> length;
      }
      this.vintLength = length;
      this.vintRead = 1;
      if (this.state === 'id') this.elementStart = this.pos - 1;
      return true;
    }
    this.vintValue = this.vintValue * 256 + b;
    if (b !== 0xff) this.vintAllOnes = false;
    this.vintRead++;
    return true;
  }

  private idRead(id: number): void {
    this.elementId = id;
    this.vintRead = 0;
    this.state = 'size';
  }

  private sizeRead(size: number | undefined): void {
    this.vintRead = 0;
    const id = this.elementId;
    const level = LEVEL.get(id);
    // An element of a known level closes whatever is open at its level or deeper.
    if (level !== undefined) {
      while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.level >= level) {
        this.closeMaster();
      }
      // Closing Tracks chooses the track, which fails a stream without Opus: nothing follows.
      if (this.failed) return;
    }
    const parent = this.stack[this.stack.length - 1];
    if (!this.fits(id, parent)) {
      this.garbage('an unexpected element');
      return;
    }
    const dataStart = this.pos;
    if (size !== undefined && size > Number.MAX_SAFE_INTEGER / 2) {
      this.garbage('an element size out of range');
      return;
    }
    if (size !== undefined && parent?.end !== undefined && dataStart + size > parent.end) {
      this.garbage('an element larger than its parent');
      return;
    }
    if (id === ID_EBML) {
      this.sawHeader = true;
      // A new header starts a new stream (e.g. a recorder restarted): choose its track anew.
      this.stack.length = 0;
      this.tracks = [];
      this.opusTrack = undefined;
    }
    this.recovered();
    if (ENTERED.has(id)) {
      this.stack.push({
        id,
        level: level ?? 0,
        end: size === undefined ? undefined : dataStart + size,
      });
      this.openMaster(id);
      this.state = 'id';
      this.elementDone();
      return;
    }
    if (size === undefined) {
      this.garbage('an unknown size on an element that must have one');
      return;
    }
    if (READ.has(id)) {
      if (size > this.maxElementBytes) {
        this.events.invalid(
          `a WebM element of ${size} bytes is larger than the limit of ${this.maxElementBytes}; skipped`,
          false,
        );
        this.skip(size);
        return;
      }
      this.state = 'body';
      this.bodySize = size;
      this.bodyRead = 0;
      if (size === 0) this.bodyDone(new Uint8Array(0));
      return;
    }
    this.skip(size);
  }

  private fits(id: number, parent: OpenMaster | undefined): boolean {
    if (parent === undefined) return id === ID_EBML || id === ID_SEGMENT || id === ID_VOID;
    if (parent.id === ID_SEGMENT) return SEGMENT_CHILDREN.has(id);
    if (parent.id === ID_CLUSTER) return CLUSTER_CHILDREN.has(id);
    return true;
  }

  private skip(size: number): void {
    this.skipLeft = size;
    this.state = 'skip';
    if (size === 0) this.elementDone();
  }

  private bodyDone(body: Uint8Array): void {
    const id = this.elementId;
    const draft = this.trackDraft;
    switch (id) {
      case ID_SIMPLE_BLOCK:
      case ID_BLOCK:
        this.block(body, id === ID_BLOCK ? this.groupStart : this.elementStart);
        break;
      case ID_TIMECODE:
        if (this.events.clusterTimecode && body.byteLength <= 8) {
          this.events.clusterTimecode(timecodeElement(body));
        }
        break;
      case ID_TRACK_NUMBER:
        if (draft) draft.number = readUint(body);
        break;
      case ID_TRACK_TYPE:
        if (draft) draft.type = readUint(body);
        break;
      case ID_CODEC_ID:
        if (draft) draft.codecId = textDecoder.decode(body).replace(/\0+$/, '');
        break;
      case ID_CODEC_PRIVATE:
        if (draft) draft.codecPrivate = body.slice();
        break;
      case ID_CHANNELS:
        if (draft) draft.channels = readUint(body);
        break;
      case ID_SAMPLING_FREQUENCY:
        if (draft) draft.samplingFrequency = readFloat(body);
        break;
    }
    this.elementDone();
  }

  /** Back at an element boundary: close the masters that end here. */
  private elementDone(): void {
    if (this.failed) return;
    this.state = 'id';
    while (this.stack.length > 0) {
      const top = this.stack[this.stack.length - 1]!;
      if (top.end === undefined || top.end > this.pos) break;
      this.closeMaster();
    }
  }

  private openMaster(id: number): void {
    if (id === ID_TRACK_ENTRY) {
      this.trackDraft = {
        number: 0,
        type: 0,
        codecId: '',
        codecPrivate: undefined,
        channels: 1,
        samplingFrequency: 48000,
      };
    } else if (id === ID_CLUSTER) {
      // Tracks must come before the first Cluster; choose now if it did not close yet.
      if (this.opusTrack === undefined) this.chooseTrack();
      if (this.failed) return;
      this.events.cluster?.(this.elementStart);
    } else if (id === ID_BLOCK_GROUP) {
      this.groupStart = this.elementStart;
    }
  }

  private closeMaster(): void {
    const master = this.stack.pop();
    if (master === undefined) return;
    if (master.id === ID_TRACK_ENTRY && this.trackDraft) {
      this.tracks.push(this.trackDraft);
      this.trackDraft = undefined;
    } else if (master.id === ID_TRACKS) {
      this.chooseTrack();
    }
  }

  private chooseTrack(): void {
    if (this.opusTrack !== undefined || this.failed) return;
    const opus = this.tracks.find((t) => t.codecId === 'A_OPUS');
    if (opus === undefined) {
      const audio = this.tracks.find((t) => t.type === TRACK_TYPE_AUDIO) ?? this.tracks[0];
      this.failed = true;
      this.events.invalid(
        audio === undefined
          ? 'the WebM stream has no audio track'
          : `the WebM audio track is ${audio.codecId || 'of unknown codec'}, not Opus (A_OPUS)`,
        true,
      );
      return;
    }
    this.opusTrack = opus.number;
    this.events.track({
      number: opus.number,
      codecPrivate: opus.codecPrivate,
      channels: opus.channels,
      samplingFrequency: opus.samplingFrequency,
    });
  }

  /** A SimpleBlock or Block: track number, timecode, flags, then one or more frames. */
  private block(body: Uint8Array, offset: number): void {
    if (this.opusTrack === undefined) return;
    const first = body[0];
    if (first === undefined || first === 0) {
      this.badBlock();
      return;
    }
    const numberLength = Math.clz32(first) - 23;
    if (numberLength > 8 || body.byteLength < numberLength + 3) {
      this.badBlock();
      return;
    }
    let track = first & (0xff >> numberLength);
    for (let k = 1; k < numberLength; k++) track = track * 256 + body[k]!;
    if (track !== this.opusTrack) return;
    this.events.block?.(offset);
    let p = numberLength + 2; // skip the signed 16-bit relative timecode
    const flags = body[p++]!;
    const lacing = (flags >> 1) & 3;
    if (lacing === 0) {
      this.events.packet(body.subarray(p));
      return;
    }
    const sizes = readLacing(body, p, lacing);
    if (sizes === undefined) {
      this.badBlock();
      return;
    }
    p = sizes.start;
    for (const size of sizes.frames) {
      this.events.packet(body.subarray(p, p + size));
      p += size;
    }
  }

  private badBlock(): void {
    this.events.invalid('a malformed WebM block; dropped', false);
  }

  private garbage(what: string): void {
    if (!this.reporting) {
      this.reporting = true;
      this.events.invalid(
        this.sawHeader
          ? `${what} at byte ${this.elementStart} of the WebM stream; skipping to the next cluster`
          : 'not a WebM stream: it does not start with an EBML header; looking for one',
        false,
      );
    }
    this.state = 'resync';
    this.vintRead = 0;
    this.body = undefined;
    this.window = 0;
  }

  private recovered(): void {
    this.reporting = false;
  }

  /**
   * Looks for the next Cluster ID (or, before any track, an EBML header ID) from `i`;
   * returns where to go on. The last bytes are kept in a number, so an ID split across
   * writes is still found, and nothing is buffered.
   */
  private scan(chunk: Uint8Array, from: number): number {
    let w = this.window;
    const n = chunk.byteLength;
    for (let i = from; i < n; i++) {
      w = ((w << 8) | chunk[i]!) >>> 0;
      if (w === ID_EBML || (w === ID_CLUSTER && this.opusTrack !== undefined)) {
        this.pos += i + 1 - from;
        this.elementStart = this.pos - 4;
        this.window = 0;
        if (w === ID_CLUSTER) {
          // Offsets are lost: keep only the Segment, now of unknown extent.
          this.stack.length = 0;
          this.stack.push({ id: ID_SEGMENT, level: 0, end: undefined });
        } else {
          this.stack.length = 0;
        }
        this.elementId = w;
        this.vintRead = 0;
        this.state = 'size';
        return i + 1;
      }
    }
    this.window = w;
    this.pos += n - from;
    return n;
  }
}

/** Frame sizes of a laced block (Xiph, fixed or EBML lacing), or `undefined` if malformed. */
function readLacing(
  body: Uint8Array,
  start: number,
  lacing: number,
): { start: number; frames: number[] } | undefined {
  let p = start;
  const countByte = body[p++];
  if (countByte === undefined) return undefined;
  const count = countByte + 1;
  const frames: number[] = [];
  if (lacing === 2) {
    const each = (body.byteLength - p) / count;
    if (!Number.isInteger(each)) return undefined;
    for (let k = 0; k < count; k++) frames.push(each);
    return { start: p, frames };
  }
  let total = 0;
  if (lacing === 1) {
    for (let k = 0; k < count - 1; k++) {
      let size = 0;
      let b: number | undefined;
      do {
        b = body[p++];
        if (b === undefined) return undefined;
        size += b;
      } while (b === 255);
      frames.push(size);
      total += size;
    }
  } else {
    let previous = 0;
    for (let k = 0; k < count - 1; k++) {
      const first = body[p];
      if (first === undefined || first === 0) return undefined;
      const length = Math.clz32(first) - 23;
      if (p + length > body.byteLength) return undefined;
      let value = first & (0xff >> length);
      for (let j = 1; j < length; j++) value = value * 256 + body[p + j]!;
      p += length;
      // The first size is unsigned; the others are signed differences from the previous.
      const size = k === 0 ? value : previous + value - (2 ** (7 * length - 1) - 1);
      if (size < 0) return undefined;
      frames.push(size);
      previous = size;
      total += size;
    }
  }
  const last = body.byteLength - p - total;
  if (last < 0) return undefined;
  frames.push(last);
  return { start: p, frames };
}

function readUint(body: Uint8Array): number {
  let value = 0;
  for (let k = 0; k < body.byteLength && k < 7; k++) value = value * 256 + body[k]!;
  return value;
}

function readFloat(body: Uint8Array): number {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.byteLength === 4) return view.getFloat32(0);
  if (body.byteLength === 8) return view.getFloat64(0);
  return 0;
}

/** A `Timecode` element rebuilt around its body: ID, a one-byte size, the body. */
function timecodeElement(body: Uint8Array): Uint8Array {
  const element = new Uint8Array(2 + body.byteLength);
  element[0] = ID_TIMECODE;
  element[1] = 0x80 | body.byteLength; // bodies are at most 8 bytes
  element.set(body, 2);
  return element;
}
