// Worker thread entry: the worker does not inherit the main thread's tsx loader, so it
// registers its own before loading the TypeScript worker (see service.ts).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
