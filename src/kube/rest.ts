import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConnection } from './connection.ts';

/** An HTTP error from the API server, with its status code and `Status` body when it sent one. */
export class KubeHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: unknown,
    method: string,
    path: string,
  ) {
    const reason = typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : String(body);
    super(`${method} ${path}: HTTP ${statusCode}: ${reason}`);
  }
}

const PATCH_CONTENT_TYPES = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;

export type Query = Record<string, string | number | boolean | undefined>;

/** One event of a watch stream, as the API server sends it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

/**
 * The small part of the Kubernetes REST API the informer needs, over node's own
 * http(s) with the kubeconfig's credentials: list and watch as raw JSON, so
 * watch ERROR events (410 Gone) and bookmarks reach the caller untouched.
 */
export class KubeRest {
  constructor(private readonly kubeConfig: KubeConnection) {}

  getJson<T>(path: string, query: Query = {}): Promise<T> {
    return this.requestJson<T>('GET', path, { query });
  }

  /**
   * A JSON merge patch (RFC 7386) by default, the type every resource accepts;
   * `strategic` merges lists by their keys (built-in kinds only, e.g. conditions by type).
   */
  patch<T>(path: string, patch: unknown, type: 'merge' | 'strategic' | 'json' = 'merge'): Promise<T> {
    return this.requestJson<T>('PATCH', path, { body: patch, contentType: PATCH_CONTENT_TYPES[type] });
  }

  create<T>(collectionPath: string, object: unknown): Promise<T> {
    return this.requestJson<T>('POST', collectionPath, { body: object });
  }

  replace<T>(path: string, object: unknown): Promise<T> {
    return this.requestJson<T>('PUT', path, { body: object });
  }

  delete<T>(path: string, query: Query = {}): Promise<T> {
    return this.requestJson<T>('DELETE', path, { query });
  }

  async requestJson<T>(method: string, path: string, options: { query?: Query; body?: unknown; contentType?: string }): Promise<T> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const { response, body } = await this.send(method, path, options.query ?? {}, undefined, payload, options.contentType ?? 'application/json');
    const text = await readAll(body);
    const parsed: unknown = text.length > 0 ? safeJson(text) : undefined;
    if ((response.statusCode ?? 0) >= 300) throw new KubeHttpError(response.statusCode ?? 0, parsed, method, path);
    return parsed as T;
  }

  /**
   * Streams a watch; resolves when the server ends it (a timeout or a dropped
   * connection), rejects on an HTTP error. `signal` aborts it.
   */
  async watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const { response, body } = await this.send('GET', path, { ...query, watch: true }, signal);
    if ((response.statusCode ?? 0) >= 300) {
      const text = await readAll(body);
      throw new KubeHttpError(response.statusCode ?? 0, safeJson(text), 'GET', path);
    }
    const lines = createInterface({ input: body, crlfDelay: Infinity });
    await new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        const event = safeJson(line);
        if (isWatchEvent(event)) onEvent(event);
      });
      lines.on('close', resolve);
      // readline re-emits its input's errors (e.g. "aborted" when the watch is stopped): the stream just ends.
      lines.on('error', () => lines.close());
    });
  }

  private async send(
    method: string,
    path: string,
    query: Query,
    signal?: AbortSignal,
    payload?: string,
    contentType = 'application/json',
  ): Promise<{ response: http.IncomingMessage; body: http.IncomingMessage }> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const options: https.RequestOptions = { method, headers };
    await this.kubeConfig.applyToHTTPSOptions(options);
    // applyToHTTPSOptions builds an agent for TLS settings; plain http must not get an https agent.
    if (url.protocol === 'http:') delete options.agent;
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { ...options, signal }, (response) => {
        // A stream cut short (abort, server gone) errors with "aborted": readers see it
        // through their own listeners or as the end of the stream, never as an uncaught error.
        response.on('error', () => undefined);
        resolve({ response, body: response });
      });
      request.on('error', reject);
      request.end(payload);
    });
  }
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isWatchEvent(value: unknown): value is WatchEvent {
  return typeof value === 'object' && value !== null && 'type' in value && 'object' in value && typeof value.object === 'object';
}
