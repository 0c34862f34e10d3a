import { createLocalProvider } from '@earshot/providers/local';
import { startApp } from './app.js';

const app = await startApp(createLocalProvider(), Number(process.env.PORT ?? 3000));
console.log(
  `Fastify + Earshot on ${app.url} (WebSocket ${app.url.replace('http', 'ws')}/v1/listen)`,
);
