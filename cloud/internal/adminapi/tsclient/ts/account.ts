// The logged-in admin and the newest audit entries, typed by the client generated from the
// committed admin OpenAPI document (paths present in every version of it).
import createClient from "openapi-fetch";
import type { components, paths } from "./admin-api";

type Me = components["schemas"]["MeBody"];
type AuditEntry = components["schemas"]["AuditEntryBody"];

export interface AccountSummary {
  email: string;
  permissions: string[];
  lastLogin: string | undefined;
  recentActions: { id: number; action: string; at: string }[];
  nextCursor: string | undefined;
}

export async function loadAccount(baseUrl: string, token: string): Promise<AccountSummary> {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const me = await client.GET("/admin/v1/me");
  if (me.data === undefined) {
    throw new Error(`GET /me failed: ${me.response.status}`);
  }
  const body: Me = me.data;
  const audit = await client.GET("/admin/v1/audit", {
    params: { query: { action: "admin.*", limit: 20 } },
  });
  if (audit.data === undefined) {
    throw new Error(`GET /audit failed: ${audit.response.status}`);
  }
  const entries: AuditEntry[] = audit.data.entries;
  return {
    email: body.admin.email,
    permissions: body.permissions,
    lastLogin: body.admin.last_login_at,
    recentActions: entries.map((e) => ({ id: e.id, action: e.action, at: e.at })),
    nextCursor: audit.data.next_cursor,
  };
}
