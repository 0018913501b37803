// Package protocol is a fleetedge module; see README.md.
package protocol
