import { createLocalProvider } from '@earshot/providers/local';
import { startPhoneApp } from './app.js';

// For a real number: run this behind a public https URL (e.g. `ngrok http 3000`), set
// PUBLIC_URL to it and TWILIO_AUTH_TOKEN to the account's token, and point the number's
// "A call comes in" webhook at <PUBLIC_URL>/v1/twilio/voice (HTTP POST).
const app = await startPhoneApp({
  provider: createLocalProvider(),
  authToken: process.env.TWILIO_AUTH_TOKEN,
  publicUrl: process.env.PUBLIC_URL,
  adminKey: process.env.EARSHOT_ADMIN_KEY,
  databaseUrl: process.env.DATABASE_URL ?? 'sqlite:.earshot/phone.db',
  port: Number(process.env.PORT ?? 3000),
});
console.log(
  `Phone line on ${app.url}: webhook POST /v1/twilio/voice, stream /v1/twilio, calls GET /calls`,
);
