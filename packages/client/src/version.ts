/** The version of `@earshot/client`, as published (kept equal to package.json by a test). */
export const CLIENT_VERSION = '0.1.0';
