package configstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	bolt "go.etcd.io/bbolt"
)

var t0 = time.Unix(1_900_000_000, 0).UTC()

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.db")
	s, err := Open(path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, path
}

func names(changes []Change) string {
	var out []string
	for _, c := range changes {
		if c.Deleted() {
			out = append(out, fmt.Sprintf("-%s@%d", c.Name, c.PrevVersion))
		} else {
			out = append(out, fmt.Sprintf("%s@%d>%d", c.Name, c.PrevVersion, c.Doc.Version))
		}
	}
	return strings.Join(out, " ")
}

func TestPutVersionRules(t *testing.T) {
	s, _ := openTest(t)
	steps := []struct {
		name    string
		doc     Document
		want    string // changes
		wantErr error
		stored  uint64 // version stored afterwards
	}{
		{"create with version", Document{Name: "zones", Version: 5, Data: []byte("a")}, "zones@0>5", nil, 5},
		{"replay same version same data", Document{Name: "zones", Version: 5, Data: []byte("a")}, "", nil, 5},
		{"same version other data", Document{Name: "zones", Version: 5, Data: []byte("b")}, "", ErrVersionConflict, 5},
		{"older version", Document{Name: "zones", Version: 4, Data: []byte("c")}, "", ErrStaleVersion, 5},
		{"newer version", Document{Name: "zones", Version: 9, Data: []byte("d")}, "zones@5>9", nil, 9},
		{"version 0 bumps", Document{Name: "zones", Data: []byte("e")}, "zones@9>10", nil, 10},
		{"version 0 same data no-op", Document{Name: "zones", Data: []byte("e")}, "", nil, 10},
		{"version 0 creates at 1", Document{Name: "tariffs", Data: nil}, "tariffs@0>1", nil, 1},
		{"empty name", Document{Name: ""}, "", ErrInvalidName, 0},
		{"control char", Document{Name: "a\nb"}, "", ErrInvalidName, 0},
		{"bad utf8", Document{Name: "\xff"}, "", ErrInvalidName, 0},
		{"long name", Document{Name: strings.Repeat("n", MaxNameLen+1)}, "", ErrInvalidName, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			changes, err := s.Put(st.doc)
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("Put err = %v, want %v", err, st.wantErr)
			}
			if got := names(changes); got != st.want {
				t.Fatalf("changes %q, want %q", got, st.want)
			}
			if st.stored == 0 {
				return
			}
			doc, err := s.Get(st.doc.Name)
			if err != nil || doc.Version != st.stored || !doc.Updated.Equal(t0) {
				t.Fatalf("Get = %+v, %v; want version %d", doc, err, st.stored)
			}
		})
	}
	if doc, _ := s.Get("tariffs"); doc.Data == nil || len(doc.Data) != 0 {
		t.Fatalf("empty data should read back as empty, got %#v", doc.Data)
	}
	if _, err := s.Get("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v", err)
	}
}

func TestPutTooLarge(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "c.db"), Options{MaxDocSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(Document{Name: "x", Data: []byte("12345")}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put = %v", err)
	}
}

func TestListAndPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"vehicles/3", "zones", "vehicles/1", "vehicles/2", "vehiclesX"} {
		if _, err := s.Put(Document{Name: n, Version: 7, Data: []byte("data:" + n)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("zones"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
	if _, err := s.Put(Document{Name: "zones"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	docs, err := s.List("vehicles/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Name+"="+string(d.Data))
	}
	if strings.Join(got, ",") != "vehicles/1=data:vehicles/1,vehicles/2=data:vehicles/2,vehicles/3=data:vehicles/3" {
		t.Fatalf("List = %v", got)
	}
	if all, err := s.List(""); err != nil || len(all) != 5 {
		t.Fatalf("List all = %d, %v", len(all), err)
	}
}

func TestReplacePrefixIsAtomicSnapshot(t *testing.T) {
	s, _ := openTest(t)
	for _, d := range []Document{
		{Name: "vehicles/1", Version: 3, Data: []byte("h1")},
		{Name: "vehicles/2", Version: 3, Data: []byte("h2")},
		{Name: "vehicles/3", Version: 3, Data: []byte("h3")},
		{Name: "zones", Version: 1, Data: []byte("z")},
	} {
		if _, err := s.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	changes, err := s.ReplacePrefix("vehicles/", []Document{
		{Name: "vehicles/2", Version: 3, Data: []byte("h2")},  // unchanged
		{Name: "vehicles/3", Version: 2, Data: []byte("h3'")}, // snapshot may lower versions
		{Name: "vehicles/4", Version: 1, Data: []byte("h4")},  // new
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(changes); got != "-vehicles/1@3 vehicles/3@3>2 vehicles/4@0>1" {
		t.Fatalf("changes %q", got)
	}
	docs, _ := s.List("")
	var got []string
	for _, d := range docs {
		got = append(got, fmt.Sprintf("%s@%d=%s", d.Name, d.Version, d.Data))
	}
	if strings.Join(got, " ") != "vehicles/2@3=h2 vehicles/3@2=h3' vehicles/4@1=h4 zones@1=z" {
		t.Fatalf("after replace: %v", got)
	}

	// Invalid sets change nothing.
	for name, set := range map[string][]Document{
		"outside prefix": {{Name: "vehicles/9"}, {Name: "zones"}},
		"duplicate":      {{Name: "vehicles/9"}, {Name: "vehicles/9"}},
		"bad name":       {{Name: "vehicles/\x00"}},
	} {
		if _, err := s.ReplacePrefix("vehicles/", set); err == nil {
			t.Fatalf("%s: ReplacePrefix accepted an invalid set", name)
		}
	}
	if after, _ := s.List(""); len(after) != len(docs) {
		t.Fatalf("invalid set changed the store: %d docs, want %d", len(after), len(docs))
	}

	// Empty set under a prefix deletes it all; the rest is untouched.
	changes, err = s.ReplacePrefix("vehicles/", nil)
	if err != nil || names(changes) != "-vehicles/2@3 -vehicles/3@2 -vehicles/4@1" {
		t.Fatalf("empty replace = %q, %v", names(changes), err)
	}
	if _, err := s.Get("zones"); err != nil {
		t.Fatal(err)
	}
}

func TestReplacePrefixRollsBackOnFailure(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Put(Document{Name: "vehicles/1", Version: 1, Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	// A corrupt stored value makes the transaction fail half-way.
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDocs).Put([]byte("vehicles/2"), []byte("garbage"))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ReplacePrefix("vehicles/", []Document{{Name: "vehicles/3", Version: 1, Data: []byte("c")}})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReplacePrefix over corrupt value = %v", err)
	}
	if _, err := s.Get("vehicles/1"); err != nil {
		t.Fatalf("vehicles/1 should survive the failed replace: %v", err)
	}
	if _, err := s.Get("vehicles/3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("vehicles/3 should not exist after the failed replace: %v", err)
	}
}

func TestDelete(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Put(Document{Name: "zones", Version: 2, Data: []byte("z")}); err != nil {
		t.Fatal(err)
	}
	if ch, err := s.Delete("zones"); err != nil || names(ch) != "-zones@2" {
		t.Fatalf("Delete = %q, %v", names(ch), err)
	}
	if ch, err := s.Delete("zones"); err != nil || len(ch) != 0 {
		t.Fatalf("Delete again = %q, %v", names(ch), err)
	}
}

func TestSubscribe(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Put(Document{Name: "vehicles/1", Version: 1, Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	current, unsubscribe, err := s.Subscribe("vehicles/", func(cs []Change) {
		mu.Lock()
		seen = append(seen, names(cs))
		mu.Unlock()
		// Reading from the callback is allowed.
		if _, err := s.List("vehicles/"); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(current) != 1 || current[0].Name != "vehicles/1" {
		t.Fatalf("current = %+v", current)
	}
	mustPut := func(d Document) {
		t.Helper()
		if _, err := s.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(Document{Name: "zones", Version: 1})                         // other prefix: not seen
	mustPut(Document{Name: "vehicles/2", Version: 1, Data: []byte("b")}) // seen
	mustPut(Document{Name: "vehicles/2", Version: 1, Data: []byte("b")}) // no-op: not seen
	if _, err := s.ReplacePrefix("", []Document{{Name: "vehicles/3", Version: 4}}); err != nil {
		t.Fatal(err)
	}
	unsubscribe()
	unsubscribe()
	mustPut(Document{Name: "vehicles/5", Version: 1}) // after unsubscribe: not seen
	mu.Lock()
	defer mu.Unlock()
	want := []string{"vehicles/2@0>1", "-vehicles/1@1 -vehicles/2@1 vehicles/3@0>4"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("seen %q, want %q", seen, want)
	}
}

func TestConcurrentPutsNotifyInCommitOrder(t *testing.T) {
	s, _ := openTest(t)
	var mu sync.Mutex
	var versions []uint64
	_, unsubscribe, err := s.Subscribe("counter", func(cs []Change) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			versions = append(versions, c.Doc.Version)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if _, err := s.Put(Document{Name: "counter", Data: []byte(fmt.Sprint(i))}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i, v := range versions {
		if v != uint64(i+1) {
			t.Fatalf("notifications out of commit order: %v", versions)
		}
	}
	if len(versions) != 40 {
		t.Fatalf("%d notifications, want 40", len(versions))
	}
}

// TestSharesFileWithOutbox runs the outbox and the config store on one
// *bbolt.DB: each keeps to its own buckets, and both survive a reopen.
func TestSharesFileWithOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(db, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := New(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := ob.Append(ctx, outbox.Record{Class: outbox.ClassEvent, Kind: "k", Payload: []byte{byte(i)}}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := cs.Put(Document{Name: fmt.Sprintf("vehicles/%02d", i), Version: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := cs.ReplacePrefix("", []Document{{Name: "zones", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Get("zones"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get on a closed store sharing an open DB = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	ob2, err := outbox.Open(path, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := ob2.Stats(); s.Records != 20 || s.LastSeq != 20 {
		t.Fatalf("outbox after replace-all of config: %+v", s)
	}
	if err := ob2.Close(); err != nil {
		t.Fatal(err)
	}
	cs2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cs2.Close()
	if docs, err := cs2.List(""); err != nil || len(docs) != 1 || docs[0].Name != "zones" {
		t.Fatalf("config after reopen = %+v, %v", docs, err)
	}
}

// FuzzDecodeDoc feeds arbitrary bodies with a valid checksum appended.
func FuzzDecodeDoc(f *testing.F) {
	good := encodeDoc(&Document{Version: 3, Updated: t0, Data: []byte("zones")})
	f.Add(good[:len(good)-4])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		d, err := decodeDoc("n", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := decodeDoc("n", encodeDoc(&d))
		if err != nil || again.Version != d.Version || !again.Updated.Equal(d.Updated) || !bytes.Equal(again.Data, d.Data) {
			t.Fatalf("re-encode: %+v, %v; want %+v", again, err, d)
		}
	})
}
