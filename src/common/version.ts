import { readFileSync } from 'node:fs';

/** The version in package.json (at the same depth from src/common and build/common, and in the image). */
export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The image `make image` builds and the operator renders by default. */
export const IMAGE = `anchorlb/anchorlb:${VERSION}`;

/** The same name fully qualified, as container runtimes store it (a kubelet asks containerd for this one). */
export const QUALIFIED_IMAGE = `docker.io/${IMAGE}`;
