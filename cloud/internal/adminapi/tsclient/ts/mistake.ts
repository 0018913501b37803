// Must NOT type-check: the test proves tsc rejects a wrong field type (id is a number, email a
// string in the generated types). Line 9 and 10 are the deliberate mistakes.
import type { components } from "./admin-api";

type AuditEntry = components["schemas"]["AuditEntryBody"];
type Me = components["schemas"]["MeBody"];

export function wrong(e: AuditEntry, me: Me): [string, number] {
  const id: string = e.id;
  const email: number = me.admin.email;
  return [id, email];
}
