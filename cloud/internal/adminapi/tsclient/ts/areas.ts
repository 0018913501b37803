// The analytics, admin list and export operations of this area, typed by a client generated
// from an admin API document that the Go test builds with these areas registered (so it holds
// before the committed openapi.json is regenerated with every area).
import createClient from "openapi-fetch";
import type { components, paths } from "./admin-api";

type Utilisation = components["schemas"]["UtilisationHourBody"];
type Battery = components["schemas"]["BatteryBucketBody"];
type Cell = components["schemas"]["HeatCellBody"];
type Payment = components["schemas"]["PaymentItem"];
type Rider = components["schemas"]["RiderItem"];

export async function loadAreas(baseUrl: string, token: string, city: string, from: string, to: string) {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const u = await client.GET("/admin/v1/analytics/utilisation", { params: { query: { city, from, to } } });
  const b = await client.GET("/admin/v1/analytics/battery", { params: { query: { city, hours: 24 } } });
  const h = await client.GET("/admin/v1/analytics/heatmap", { params: { query: { city, from, to, cell_m: 250, max_cells: 500 } } });
  const p = await client.GET("/admin/v1/payments", { params: { query: { status: "succeeded", purpose: "top_up", limit: 10 } } });
  const r = await client.GET("/admin/v1/riders", { params: { query: { q: "ana", status: "active" } } });
  const rides = await client.GET("/admin/v1/rides", { params: { query: { city, state: "ended" } } });
  const x = await client.GET("/admin/v1/exports/rides", { params: { query: { city, state: "ended" } }, parseAs: "blob" });
  if (!u.data || !b.data || !h.data || !p.data || !r.data || !rides.data) {
    throw new Error("request failed");
  }
  const hours: Utilisation[] = u.data.hours;
  const shares: number[] = hours.map((x) => x.share);
  const buckets: Battery[] = b.data.buckets;
  const cells: Cell[] = h.data.cells;
  const payments: Payment[] = p.data.payments;
  const riders: Rider[] = r.data.riders;
  const balances: number[] = riders.flatMap((x) => x.balances.map((y) => y.amount_minor));
  const fares: (number | undefined)[] = rides.data.rides.map((x) => x.fare_minor);
  const amounts: number[] = payments.map((x) => x.amount_minor);
  const workbook: Blob | undefined = x.data;
  return { shares, buckets, hot: cells.filter((c) => c.starts > 10), amounts, balances, fares, truncated: h.data.truncated, workbook };
}
