package admin

import "slices"

// Permission is a permission code from the permissions table ("<area>.<verb>").
type Permission string

// The permission catalogue (migrations 00003 and 00009). The names of issue 7 map as:
// fleet:read = vehicles.read, fleet:command = vehicles.command, money:refund = riders.refund,
// export:read = exports.create.
const (
	PermRidersRead      Permission = "riders.read"
	PermRidersSuspend   Permission = "riders.suspend"
	PermRidersRefund    Permission = "riders.refund"
	PermVehiclesRead    Permission = "vehicles.read"
	PermVehiclesCommand Permission = "vehicles.command"
	PermVehiclesManage  Permission = "vehicles.manage"
	PermFirmwareManage  Permission = "firmware.manage"
	PermZonesRead       Permission = "zones.read"
	PermZonesWrite      Permission = "zones.write"
	PermTariffsRead     Permission = "tariffs.read"
	PermTariffsWrite    Permission = "tariffs.write"
	PermAnalyticsRead   Permission = "analytics.read"
	PermExportsCreate   Permission = "exports.create"
	PermPaymentsRead    Permission = "payments.read"
	PermAdminsRead      Permission = "admins.read"
	PermAdminsManage    Permission = "admins.manage"
	PermAuditRead       Permission = "audit.read"
)

// AllPermissions lists the catalogue in a stable order.
func AllPermissions() []Permission {
	return []Permission{
		PermRidersRead, PermRidersSuspend, PermRidersRefund, PermVehiclesRead, PermVehiclesCommand,
		PermVehiclesManage, PermFirmwareManage, PermZonesRead, PermZonesWrite, PermTariffsRead,
		PermTariffsWrite, PermAnalyticsRead, PermExportsCreate, PermPaymentsRead, PermAdminsRead,
		PermAdminsManage, PermAuditRead,
	}
}

// Seeded role names.
const (
	RoleViewer        = "viewer"
	RoleSupport       = "support"
	RoleFleetOperator = "fleet_operator"
	RoleFinance       = "finance"
	RoleSuperAdmin    = "super_admin"
)

// PermissionSet is a set of permissions.
type PermissionSet map[Permission]struct{}

// NewPermissionSet returns a set of ps.
func NewPermissionSet(ps ...Permission) PermissionSet {
	s := make(PermissionSet, len(ps))
	for _, p := range ps {
		s[p] = struct{}{}
	}
	return s
}

// Has reports whether p is in the set.
func (s PermissionSet) Has(p Permission) bool {
	_, ok := s[p]
	return ok
}

// Covers reports whether every permission of o is in s, and returns the sorted missing ones.
func (s PermissionSet) Covers(o PermissionSet) (bool, []Permission) {
	var missing []Permission
	for p := range o {
		if !s.Has(p) {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	return len(missing) == 0, missing
}

// Sorted returns the permissions in order.
func (s PermissionSet) Sorted() []Permission {
	out := make([]Permission, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
