import { useTranscription } from '@earshot/client/react';

/** Seed 003's microphone button: idle, recording and error states, live text, errors shown. */
export function MicButton({ url }: { url: string }) {
  const t = useTranscription({ url });
  const recording = t.status === 'recording' || t.status === 'reconnecting';
  return (
    <section>
      <button type="button" id="mic" data-status={t.status} onClick={recording ? t.stop : t.start}>
        {recording ? 'Stop' : 'Start'}
      </button>
      <meter id="level" min={0} max={1} value={Math.min(1, t.level * 4)} />
      <p id="transcript">
        <span id="finals">{t.text}</span> <i id="interim">{t.interim}</i>
      </p>
      {t.error && (
        <p id="error" role="alert">
          {t.error.code}: {t.error.message}
        </p>
      )}
    </section>
  );
}
