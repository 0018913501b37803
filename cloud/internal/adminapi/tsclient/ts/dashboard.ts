// A small operations dashboard: the live map of a city, the latest ended rides with their
// revenue, rides per hour and the vehicles needing attention — every response typed by the
// client generated from the admin OpenAPI document (all areas registered).
import createClient from "openapi-fetch";
import type { components, paths } from "./admin-api";

type LiveVehicle = components["schemas"]["FleetLiveVehicle"];
type RideItem = components["schemas"]["RideItem"];
type RideStatsBucket = components["schemas"]["RideStatsBucket"];
type AttentionVehicle = components["schemas"]["AttentionVehicleBody"];

export interface Dashboard {
  city: string;
  online: number;
  lowBattery: string[];
  rides: { id: string; vehicle: string; fareMinor: number; endedAt: string | undefined }[];
  revenueMinor: number;
  ridesPerHour: { hour: string; rides: number; revenueMinor: number }[];
  attention: { vehicle: string; reasons: string[] }[];
  nextRidesCursor: string | undefined;
}

export async function loadDashboard(baseUrl: string, token: string, city: string, from: Date, to: Date): Promise<Dashboard> {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const live = await client.GET("/admin/v1/fleet/cities/{city}/live", {
    params: { path: { city }, query: { connectivity: "online" } },
  });
  if (live.data === undefined) {
    throw new Error(`live map: ${live.response.status}`);
  }
  const vehicles: LiveVehicle[] = live.data.vehicles;

  const rides = await client.GET("/admin/v1/rides", {
    params: { query: { city, state: "ended", limit: 50 } },
  });
  if (rides.data === undefined) {
    throw new Error(`rides: ${rides.response.status}`);
  }
  const items: RideItem[] = rides.data.rides;

  const stats = await client.GET("/admin/v1/analytics/rides", {
    params: { query: { city, from: from.toISOString(), to: to.toISOString(), bucket: "hour" } },
  });
  if (stats.data === undefined) {
    throw new Error(`ride stats: ${stats.response.status}`);
  }
  const buckets: RideStatsBucket[] = stats.data.buckets;

  const attention = await client.GET("/admin/v1/analytics/attention", {
    params: { query: { city, low_battery_pct: 15 } },
  });
  if (attention.data === undefined) {
    throw new Error(`attention: ${attention.response.status}`);
  }
  const needy: AttentionVehicle[] = attention.data.vehicles;

  return {
    city: live.data.city,
    online: live.data.count,
    lowBattery: vehicles.filter((v) => v.battery_pct < 20).map((v) => v.number),
    rides: items.map((r) => ({ id: r.id, vehicle: r.vehicle, fareMinor: r.fare_minor ?? 0, endedAt: r.ended_at })),
    revenueMinor: items.reduce((sum, r) => sum + (r.fare_minor ?? 0), 0),
    ridesPerHour: buckets.map((b) => ({ hour: b.start, rides: b.rides, revenueMinor: b.revenue_minor })),
    attention: needy.map((v) => ({ vehicle: v.vehicle, reasons: v.reasons })),
    nextRidesCursor: rides.data.next_cursor,
  };
}
