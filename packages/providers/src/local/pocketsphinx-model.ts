import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { EarshotError } from '@earshot/protocol';

/** Where Debian's `pocketsphinx-en-us` package installs the US English model. */
export const DEFAULT_POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

/**
 * The PocketSphinx library as the dynamic loader knows it. A soname rather than a full path,
 * so the loader's own search finds it on every architecture Debian ships.
 */
export const DEFAULT_POCKETSPHINX_LIBRARY = 'libpocketsphinx.so.3';

/** The SphinxBase library (configuration parsing, log math) PocketSphinx is built on. */
export const DEFAULT_SPHINXBASE_LIBRARY = 'libsphinxbase.so.3';

/** The command that installs the engine and its model on Debian and Ubuntu. */
export const POCKETSPHINX_INSTALL_COMMAND = 'apt-get install -y pocketsphinx pocketsphinx-en-us';

/** The three files a PocketSphinx decoder is built from. */
export interface PocketSphinxModelPaths {
  /** Directory of the acoustic model (`-hmm`). */
  readonly hmm: string;
  /** The binary n-gram language model (`-lm`). */
  readonly lm: string;
  /** The pronunciation dictionary (`-dict`). */
  readonly dict: string;
}

/**
 * The model files inside a model directory laid out as Debian's `pocketsphinx-en-us`
 * (`en-us/`, `en-us.lm.bin`, `cmudict-en-us.dict`).
 */
export function pocketSphinxModelPaths(
  modelDir: string = DEFAULT_POCKETSPHINX_MODEL_DIR,
): PocketSphinxModelPaths {
  return {
    hmm: join(modelDir, 'en-us'),
    lm: join(modelDir, 'en-us.lm.bin'),
    dict: join(modelDir, 'cmudict-en-us.dict'),
  };
}

/** The paths among `paths` that do not exist (empty when the model is complete). */
export async function missingModelFiles(paths: PocketSphinxModelPaths): Promise<string[]> {
  const checks = await Promise.all(
    [paths.hmm, paths.lm, paths.dict].map(async (path) => {
      try {
        await access(path);
        return undefined;
      } catch {
        return path;
      }
    }),
  );
  return checks.filter((path): path is string => path !== undefined);
}

/**
 * The error `open()` rejects with when the engine cannot be used here: the libraries or the
 * model are missing. It carries the install command in `details.install` so a server can
 * show it to an operator.
 */
export function pocketSphinxUnavailable(reason: string, cause?: unknown): EarshotError {
  return new EarshotError(
    'provider_unavailable',
    'PocketSphinx is not installed: apt-get install pocketsphinx pocketsphinx-en-us',
    {
      cause,
      fatal: true,
      details: { install: POCKETSPHINX_INSTALL_COMMAND, reason },
    },
  );
}
