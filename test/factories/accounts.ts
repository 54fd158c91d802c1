import { randomBytes } from 'node:crypto';
import type { TestApp } from '../helpers/test-app';

export interface TestAccount {
  id: number;
  username: string;
  password: string;
  token: string;
  /** `Authorization` header value. */
  auth: string;
}

let seq = 0;

/** Registers and logs in a fresh account through the HTTP routes. */
export async function createAccount(t: TestApp, prefix = 'u'): Promise<TestAccount> {
  seq += 1;
  const username = `${prefix}${seq}_${randomBytes(3).toString('hex')}`.slice(0, 32);
  const password = 'secret123';
  const reg = await t.http.post('/account/register').send({ username, password });
  if (reg.status !== 200) throw new Error(`register failed: ${reg.status} ${JSON.stringify(reg.body)}`);
  const login = await t.http.post('/account/login').send({ username, password });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
  const token = login.body.token as string;
  return { id: reg.body.id as number, username, password, token, auth: `Bearer ${token}` };
}

export async function createAccounts(t: TestApp, n: number, prefix = 'u'): Promise<TestAccount[]> {
  const out: TestAccount[] = [];
  for (let i = 0; i < n; i++) out.push(await createAccount(t, prefix));
  return out;
}
