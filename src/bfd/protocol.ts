/** Messages between `service.ts` (main thread) and `worker.ts` (the BFD thread). */
import type { BfdEndpoint, SessionSpec, SessionStatus, StateChangeEvent } from './endpoint.ts';

export type Request =
  | { readonly type: 'upsert'; readonly spec: SessionSpec }
  | { readonly type: 'remove'; readonly key: string; readonly adminDown: boolean }
  | { readonly type: 'list' }
  | { readonly type: 'stop'; readonly adminDown: boolean };

export type Reply = SessionStatus | SessionStatus[] | undefined;

export type ToWorker = { readonly id: number; readonly request: Request };

export type FromWorker =
  | { readonly type: 'reply'; readonly id: number; readonly result?: Reply; readonly error?: string }
  | { readonly type: 'stateChange'; readonly event: StateChangeEvent }
  | { readonly type: 'timers'; readonly status: SessionStatus }
  | { readonly type: 'warning'; readonly message: string };

/** Runs one request against the endpoint, wherever it lives. */
export async function serve(endpoint: BfdEndpoint, request: Request): Promise<Reply> {
  switch (request.type) {
    case 'upsert':
      return endpoint.upsert(request.spec);
    case 'remove':
      await endpoint.remove(request.key, { adminDown: request.adminDown });
      return undefined;
    case 'list':
      return endpoint.list();
    case 'stop':
      await endpoint.stop({ adminDown: request.adminDown });
      return undefined;
  }
}
