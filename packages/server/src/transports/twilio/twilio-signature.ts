import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Twilio's request signature: base64 HMAC-SHA1, keyed by the account's auth token, of the full
 * URL followed by every POST parameter's name and value sorted by name. A WebSocket upgrade is
 * a GET without parameters: the URL alone.
 */
export function twilioSignature(
  authToken: string,
  url: string,
  params: Readonly<Record<string, string>> = {},
): string {
  const data = Object.keys(params)
    .sort()
    .reduce((text, key) => text + key + params[key], url);
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * The forms of `url` Twilio may have signed: as given, with and without the scheme's default
 * port, and — for a media stream, where Twilio's docs do not say — the `wss://` and `https://`
 * (`ws://` and `http://`) spellings of it.
 */
export function signedUrlForms(url: string): string[] {
  const forms = new Set<string>();
  const schemes: Record<string, string> = {
    'wss:': 'https:',
    'https:': 'wss:',
    'ws:': 'http:',
    'http:': 'ws:',
  };
  for (const candidate of [url, swapScheme(url, schemes)]) {
    if (!candidate) continue;
    forms.add(candidate);
    try {
      const parsed = new URL(candidate);
      const secure = parsed.protocol === 'https:' || parsed.protocol === 'wss:';
      const defaultPort = secure ? '443' : '80';
      if (parsed.port === '') {
        forms.add(candidate.replace(parsed.host, `${parsed.hostname}:${defaultPort}`));
      } else if (parsed.port === defaultPort) {
        forms.add(candidate.replace(`:${defaultPort}`, ''));
      }
    } catch {
      // not a URL: only the form as given
    }
  }
  return [...forms];
}

function swapScheme(url: string, schemes: Record<string, string>): string | undefined {
  const match = /^([a-z]+:)/.exec(url);
  const other = match ? schemes[match[1]!] : undefined;
  return other && match ? other + url.slice(match[1]!.length) : undefined;
}

/** Whether `signature` is Twilio's over one of the forms of `url` (see {@link signedUrlForms}). */
export function isValidTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Readonly<Record<string, string>> = {},
): boolean {
  if (!signature || !authToken) return false;
  const given = Buffer.from(signature);
  return signedUrlForms(url).some((form) => {
    const expected = Buffer.from(twilioSignature(authToken, form, params));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}
