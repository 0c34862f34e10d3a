'use client';

import { useTranscription } from '@earshot/client/react';

/** The mic button, on the same host's `/v1/listen` (the custom server's Earshot). */
export function MicButton() {
  const url =
    typeof location === 'undefined'
      ? ''
      : `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/listen`;
  const t = useTranscription({ url });
  const recording = t.status === 'recording' || t.status === 'reconnecting';
  return (
    <section>
      <button type="button" id="mic" data-status={t.status} onClick={recording ? t.stop : t.start}>
        {recording ? 'Stop' : 'Start'}
      </button>
      <p>
        <span id="finals">{t.text}</span> <i>{t.interim}</i>
      </p>
      {t.error && <p role="alert">{t.error.message}</p>}
    </section>
  );
}
