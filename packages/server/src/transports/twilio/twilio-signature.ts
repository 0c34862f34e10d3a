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
    if (candidate) for (const form of portForms(candidate)) forms.add(form);
  }
  return [...forms];
}

/** `url` as given, and with its scheme's default port written out or left out. */
function portForms(url: string): string[] {
  // Matched as text: `URL` would drop a default port, which is exactly what may be signed.
  const match = /^([a-z]+:\/\/)([^/:?#]+)(?::(\d+))?(.*)$/i.exec(url);
  if (!match) return [url];
  const [, scheme, host, port, rest] = match as unknown as [
    string,
    string,
    string,
    string | undefined,
    string,
  ];
  const defaultPort = /^(https|wss):/i.test(scheme) ? '443' : '80';
  if (port === undefined) return [url, `${scheme}${host}:${defaultPort}${rest}`];
  if (port === defaultPort) return [url, `${scheme}${host}${rest}`];
  return [url];
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
