import { MicButton } from './mic-button';

export default function Home() {
  return (
    <main>
      <h1>Earshot on Next.js</h1>
      <MicButton />
    </main>
  );
}
