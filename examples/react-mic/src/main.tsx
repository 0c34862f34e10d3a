import { createRoot } from 'react-dom/client';
import { MicButton } from './mic-button.js';

// The Earshot server's endpoint: `?ws=` (the test points it at its own server), else this host.
const url =
  new URLSearchParams(location.search).get('ws') ??
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/listen`;
createRoot(document.getElementById('root') as HTMLElement).render(<MicButton url={url} />);
