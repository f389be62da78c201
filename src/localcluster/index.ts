/** The project's own Kubernetes API server (tests, the demo, laptops without a cluster). */
export { startLocalApiServer, type LocalApiServer, type LocalApiServerOptions } from './server.ts';
export { FaultInjector } from './faults.ts';
