// The demo page's script, bundled for the browser by the demo server (esbuild) and served at
// /assets/demo-page.js: a microphone button over @earshot/client and its browser capture.
import { EarshotClient } from '@earshot/client';
import {
  type AudioSource,
  createOpusMicrophone,
  createPcmMicrophone,
  listMicrophones,
  type MicrophoneStream,
  streamMicrophone,
} from '@earshot/client/browser';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const mic = $<HTMLButtonElement>('mic');
const label = $('mic-label');
const statusEl = $('status');
const finalsEl = $('finals');
const interimEl = $('interim');
const commandsEl = $('commands');
const errorEl = $('error');
const meter = $<HTMLMeterElement>('level');
const captureSelect = $<HTMLSelectElement>('capture');
const deviceSelect = $<HTMLSelectElement>('device');

type PageState = 'idle' | 'connecting' | 'recording' | 'stopping' | 'error';
let state: PageState = 'idle';
let session: MicrophoneStream | undefined;
let source: AudioSource | undefined;
let meterTimer: ReturnType<typeof setInterval> | undefined;

// `?capture=opus` picks MediaRecorder's WebM/Opus; the default is AudioWorklet PCM16.
const requested = new URLSearchParams(location.search).get('capture');
if (requested === 'opus' || requested === 'pcm') captureSelect.value = requested;

function setState(next: PageState, text?: string): void {
  state = next;
  mic.dataset.state = next;
  label.textContent =
    next === 'recording'
      ? 'Stop'
      : next === 'connecting'
        ? 'Connecting…'
        : next === 'stopping'
          ? 'Stopping…'
          : 'Start';
  statusEl.textContent = text ?? next;
  captureSelect.disabled = next !== 'idle' && next !== 'error';
  deviceSelect.disabled = captureSelect.disabled;
}

/** Fills the microphone picker (labels appear once the microphone has been granted). */
async function refreshDevices(): Promise<void> {
  const chosen = deviceSelect.value;
  const options = [new Option('default', '')];
  for (const [i, mic] of (await listMicrophones()).entries()) {
    if (mic.deviceId === 'default' || mic.deviceId === '') continue;
    options.push(new Option(mic.label || `microphone ${i + 1}`, mic.deviceId));
  }
  deviceSelect.replaceChildren(...options);
  deviceSelect.value = chosen;
}
void refreshDevices();

function showError(message: string): void {
  errorEl.textContent = message;
  setState('error', 'error');
}

const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const client = new EarshotClient({ url: `${scheme}://${location.host}/v1/listen` });

client.on('transcript', (t) => {
  if (t.isFinal) {
    finalsEl.textContent += (finalsEl.textContent ? ' ' : '') + t.text;
    interimEl.textContent = '';
  } else {
    interimEl.textContent = t.text;
  }
});
client.on('command', (c) => {
  if (c.phase !== 'confirmed') return;
  const chip = document.createElement('span');
  chip.className = 'chip';
  const slots = Object.values(c.slots).map(showSlot);
  chip.textContent = `${c.name}${slots.length ? `: ${slots.join(', ')}` : ''}`;
  commandsEl.append(chip);
});
client.on('error', (e) => {
  if (e.fatal) showError(`${e.code}: ${e.message}`);
  else errorEl.textContent = `${e.code}: ${e.message}`;
});
client.on('state', (s) => {
  if (s === 'reconnecting') statusEl.textContent = 'reconnecting…';
  else if (s === 'streaming' && state === 'recording') statusEl.textContent = 'recording';
});
client.on('closed', (m) =>
  setState(
    'idle',
    `finished: ${m.summary.finalSegments} segments, ${m.summary.audioSeconds.toFixed(1)} s of audio`,
  ),
);

/** A slot's value as a chip shows it: `500 mg`, `2 weeks`, `lipid panel`. */
function showSlot(value: unknown): string {
  if (value && typeof value === 'object' && 'value' in value && 'unit' in value) {
    const { value: amount, unit } = value as { value: number; unit: string };
    const plural =
      ['day', 'week', 'month', 'year', 'hour', 'minute'].includes(unit) && amount !== 1;
    return `${amount} ${unit}${plural ? 's' : ''}`;
  }
  return String(value);
}

async function start(): Promise<void> {
  errorEl.textContent = '';
  setState('connecting');
  const deviceId = deviceSelect.value || undefined;
  source =
    captureSelect.value === 'opus'
      ? createOpusMicrophone({ deviceId })
      : createPcmMicrophone({ deviceId });
  try {
    session = await streamMicrophone(client, source, { interimResults: true });
  } catch (error) {
    const e = error as { code?: string; message?: string };
    showError(
      e.code === 'microphone_denied'
        ? 'Microphone permission was denied.'
        : `${e.code ?? 'error'}: ${e.message ?? String(error)}`,
    );
    return;
  }
  setState(
    'recording',
    `recording (session ${session.ready.sessionId.slice(0, 8)}, ${session.ready.provider}, ${source.format.encoding})`,
  );
  void refreshDevices();
  meterTimer = setInterval(() => {
    meter.value = Math.min(1, (source?.level ?? 0) * 4);
  }, 100);
}

async function stop(): Promise<void> {
  setState('stopping');
  clearInterval(meterTimer);
  meter.value = 0;
  try {
    await session?.stop();
  } catch (error) {
    showError(String((error as Error).message ?? error));
  }
  session = undefined;
}

mic.addEventListener('click', () => {
  if (state === 'idle' || state === 'error') void start();
  else if (state === 'recording') void stop();
});
