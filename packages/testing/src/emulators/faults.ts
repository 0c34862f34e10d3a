/**
 * Faults an emulator injects, the failures users of every framework report: connections
 * dropped mid-utterance, vendor error closes, stalls, bad keys, idle timeouts while a caller
 * is on hold, stream-length caps. Set on `emulator.faults`; read at each connection and each
 * audio write, so a test may change them mid-stream.
 */
export interface EmulatorFaults {
  /** Refuse every connection as the vendor refuses a bad key (as any key but the emulator's is). */
  rejectAuth?: boolean;
  /** Refuse this many next connection attempts as unavailable (HTTP 503, gRPC UNAVAILABLE). */
  refuseNext?: number;
  /** Destroy the socket, no close frame, once a connection has received this much audio. */
  dropAfterAudioSeconds?: number;
  /** Close with the vendor's `code` and `reason` once a connection has received this much audio. */
  closeAfterAudioSeconds?: { seconds: number; code: number; reason: string };
  /** Stop answering (keep reading audio) once a connection has received this much audio. */
  stallAfterAudioSeconds?: number;
  /** The vendor's idle timeout: no audio or message for this long closes the connection. */
  idleTimeoutSeconds?: number;
  /** The vendor's stream-length cap, in seconds of audio (Google: 305). */
  maxStreamSeconds?: number;
}

/** The audio-driven fault due on a connection, each at most once per connection. */
export type AudioFault = 'drop' | 'close' | 'stall' | 'limit';

/**
 * Tracks which audio-driven faults a connection has already suffered, so each fires once per
 * connection; the emulators share it.
 */
export class AudioFaultClock {
  private readonly fired = new Set<AudioFault>();

  /** The fault that is due now that the connection has `audioSeconds` of audio, if any. */
  due(faults: EmulatorFaults, audioSeconds: number): AudioFault | undefined {
    const check = (fault: AudioFault, at: number | undefined): boolean => {
      if (at === undefined || audioSeconds < at || this.fired.has(fault)) return false;
      this.fired.add(fault);
      return true;
    };
    if (check('drop', faults.dropAfterAudioSeconds)) return 'drop';
    if (check('close', faults.closeAfterAudioSeconds?.seconds)) return 'close';
    if (check('limit', faults.maxStreamSeconds)) return 'limit';
    if (check('stall', faults.stallAfterAudioSeconds)) return 'stall';
    return undefined;
  }

  /** Whether the connection is stalled (answers nothing more). */
  get stalled(): boolean {
    return this.fired.has('stall');
  }
}

/** Takes one refusal from `faults.refuseNext`, if any are left. */
export function takeRefusal(faults: EmulatorFaults): boolean {
  if ((faults.refuseNext ?? 0) <= 0) return false;
  faults.refuseNext = (faults.refuseNext ?? 0) - 1;
  return true;
}
