package riderapitest_test

import (
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/riderapi/riderapitest"
)

func TestSignUpGivesAWorkingToken(t *testing.T) {
	t.Parallel()
	e := riderapitest.New(t)
	r := e.SignUp("")
	if got := e.Do("GET", "/v1/me", r.Token, nil, nil); got.Status != 200 {
		t.Fatalf("me: %d %s", got.Status, got.Body)
	}
	if got := e.Do("GET", "/v1/me", "", nil, nil); got.Status != 401 || got.Code() != "unauthorized" {
		t.Fatalf("me without token: %d %s", got.Status, got.Body)
	}
}
