package fieldui

import (
	"encoding/json"
	"testing"
)

func f64(v float64) *float64 { return &v }

func TestHubSendsOnlyChanges(t *testing.T) {
	h := newHub()
	h.publish([]marker{{ID: "A", Cat: CatAvailable, Lat: f64(1), Lon: f64(2)}, {ID: "B", Cat: CatOnRide}})
	ch, snap, ok := h.subscribe()
	if !ok {
		t.Fatal("closed")
	}
	var up liveUpdate
	if err := json.Unmarshal(snap, &up); err != nil || len(up.Changed) != 2 {
		t.Fatalf("snapshot %s: %v", snap, err)
	}
	// Same state: nothing sent. One change and one removal: exactly those.
	h.publish([]marker{{ID: "A", Cat: CatAvailable, Lat: f64(1), Lon: f64(2)}, {ID: "B", Cat: CatOnRide}})
	h.publish([]marker{{ID: "A", Cat: CatFallen, Lat: f64(1), Lon: f64(2), Attention: []string{"fallen"}}})
	b := <-ch
	up = liveUpdate{}
	if err := json.Unmarshal(b, &up); err != nil {
		t.Fatal(err)
	}
	if len(up.Changed) != 1 || up.Changed[0].ID != "A" || up.Changed[0].Cat != CatFallen || len(up.Removed) != 1 || up.Removed[0] != "B" {
		t.Fatalf("update %s", b)
	}
	select {
	case b := <-ch:
		t.Fatalf("unexpected update %s", b)
	default:
	}
}

func TestHubDropsSlowStreams(t *testing.T) {
	h := newHub()
	ch, _, _ := h.subscribe()
	for i := 0; i < 40; i++ { // more updates than the stream's buffer, never read
		h.publish([]marker{{ID: "A", Battery: &i, Cat: CatAvailable}})
	}
	n := 0
	for range ch { // closed after the buffer filled: the browser reconnects from a snapshot
		n++
	}
	if n != cap(ch) {
		t.Fatalf("read %d buffered updates, want %d then close", n, cap(ch))
	}
	h.close()
	if _, _, ok := h.subscribe(); ok {
		t.Fatal("subscribe after close")
	}
}
