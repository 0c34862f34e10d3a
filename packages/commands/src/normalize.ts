/**
 * Lower-cases a transcript and reduces it to words separated by single spaces: recognizers
 * differ in case and punctuation, commands should not.
 */
export function normalizeTranscript(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}'\s]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
