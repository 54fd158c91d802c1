import { request, type Agent } from 'node:http';

export interface JsonReply {
  /** 0 when the request failed (refused, reset): benchmarks count it, they do not throw. */
  status: number;
  /** The parsed body; `{}` when it was not JSON. */
  json: Record<string, unknown>;
}

/** `POST url` with a JSON body (and a bearer token) on the benchmark's keep-alive agent. */
export function postJson(url: string, body: unknown, agent: Agent, token?: string): Promise<JsonReply> {
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', () => resolve({ status: 0, json: {} }));
    req.end(data);
  });
}
