export {
  createLocalProvider,
  type LocalProvider,
  type LocalProviderSettings,
} from './local-provider.js';
export {
  DEFAULT_POCKETSPHINX_LIBRARY,
  DEFAULT_POCKETSPHINX_MODEL_DIR,
  DEFAULT_SPHINXBASE_LIBRARY,
  POCKETSPHINX_INSTALL_COMMAND,
} from './pocketsphinx-model.js';
