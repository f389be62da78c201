/**
 * The BFD thread: owns the sockets and timers of every session (`BfdEndpoint`), so a busy or
 * paused main thread (GC, an informer burst) delays neither transmission nor detection.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BfdEndpoint } from './endpoint.ts';
import { serve, type FromWorker, type ToWorker } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('src/bfd/worker.ts runs only as a worker thread (see service.ts)');
const post = (message: FromWorker): void => port.postMessage(message);
const endpoint = new BfdEndpoint(
  { onStateChange: (event) => post({ type: 'stateChange', event }), onTimers: (status) => post({ type: 'timers', status }), onWarning: (message) => post({ type: 'warning', message }) },
  (workerData as { ports?: ConstructorParameters<typeof BfdEndpoint>[1] } | undefined)?.ports,
);

port.on('message', (message: ToWorker) => {
  serve(endpoint, message.request).then(
    (result) => post({ type: 'reply', id: message.id, result }),
    (error: unknown) => post({ type: 'reply', id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
