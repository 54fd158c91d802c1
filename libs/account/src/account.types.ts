/** Who is calling: set by the auth guard from a verified, current access token. */
export interface AuthAccount {
  id: number;
  username: string;
}

/** SPEC §3.1 `Account`: the public view of an account. */
export interface AccountView {
  id: number;
  username: string;
  avatar_url: string;
  bio: string;
}

export interface LoginResult {
  token: string;
  refresh_token: string;
  account_id: number;
  username: string;
}

export interface RefreshResult {
  token: string;
  account_id: number;
  username: string;
}
