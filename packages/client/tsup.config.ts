import { packageConfig } from '../../tsup.shared';

// The CLI is a bin, not an export.
export default packageConfig({ cli: 'src/cli/main.ts' });
