package chstore

import (
	"testing"

	"github.com/fleetedge/fleetedge/shared/chtest"
)

func benchDSN(b *testing.B) string {
	dsn, _ := chtest.New(b)
	return dsn
}
