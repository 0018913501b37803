package configstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// bucketDocs is the only bucket this package touches in a shared bbolt file.
var bucketDocs = []byte("configstore.docs")

// Limits.
const (
	MaxNameLen        = 512
	DefaultMaxDocSize = 64 << 20
)

var (
	// ErrNotFound means no document has that name.
	ErrNotFound = errors.New("config document not found")
	// ErrInvalidName means a document name is empty, too long, not UTF-8 or
	// contains control characters, or (ReplacePrefix) lacks the prefix.
	ErrInvalidName = errors.New("invalid config document name")
	// ErrTooLarge means a document exceeds Options.MaxDocSize.
	ErrTooLarge = errors.New("config document too large")
	// ErrStaleVersion means a Put carried a version older than the stored one.
	ErrStaleVersion = errors.New("config document version is older than stored")
	// ErrVersionConflict means a Put carried the stored version with different data.
	ErrVersionConflict = errors.New("config document version already stored with other data")
	// ErrDuplicateName means one ReplacePrefix set names a document twice.
	ErrDuplicateName = errors.New("config document named twice")
	// ErrCorrupt means a stored value does not decode.
	ErrCorrupt = errors.New("corrupt config document")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("config store closed")
)

// Document is one named, versioned configuration blob, e.g. "zones" (the
// GBFS geofencing document), "vehicles/<number>" (credential hash),
// "speedlimits", "tariffs". Data is opaque to the store.
type Document struct {
	Name string
	// Version comes from the source of truth (e.g. the JetStream KV
	// revision). In Put and ReplacePrefix, 0 means "the stored version + 1".
	Version uint64
	Data    []byte
	// Updated is set by the store (injected clock) when the document changes.
	Updated time.Time
}

// Change is one document that a write created, replaced or deleted.
type Change struct {
	Name        string
	PrevVersion uint64    // 0 if the document did not exist
	Doc         *Document // nil when deleted
}

// Deleted reports whether the change removed the document.
func (c Change) Deleted() bool { return c.Doc == nil }

// Options configures a Store; the zero value is usable.
type Options struct {
	MaxDocSize int              // 0 = DefaultMaxDocSize
	Now        func() time.Time // clock for Document.Updated
	Logger     *slog.Logger
}

// Store keeps the gateway's local configuration in bbolt. Safe for
// concurrent use; see doc.go.
type Store struct {
	db     *bolt.DB
	ownsDB bool
	opts   Options
	log    *slog.Logger

	// writeMu serialises writes and their notifications, so subscribers see
	// changes in commit order. Reads do not take it.
	writeMu sync.Mutex
	closed  atomic.Bool // set under writeMu; read without it by readers
	subs    map[int]subscriber
	nextSub int
}

type subscriber struct {
	prefix string
	fn     func([]Change)
}

// Open opens (creating if needed) a bbolt file used only by this Store.
// Close closes it.
func Open(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("configstore: open %s: %w", path, err)
	}
	s, err := New(db, opts)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s.ownsDB = true
	return s, nil
}

// New uses an open bbolt database (which may be shared, e.g. with the
// outbox), touching only the configstore.docs bucket. Close leaves db open; when sharing with the
// outbox, open db with outbox.BoltOptions().
func New(db *bolt.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("configstore: nil database")
	}
	if opts.MaxDocSize <= 0 {
		opts.MaxDocSize = DefaultMaxDocSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketDocs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("configstore: create bucket: %w", err)
	}
	return &Store{db: db, opts: opts, log: opts.Logger.With("component", "configstore"), subs: map[int]subscriber{}}, nil
}

// Close makes further calls fail with ErrClosed and closes the file if Open
// created it. Safe to call more than once.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return nil
	}
	s.closed.Store(true)
	clear(s.subs)
	if s.ownsDB {
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("configstore: close: %w", err)
		}
	}
	return nil
}

// Get returns the named document or ErrNotFound.
func (s *Store) Get(name string) (Document, error) {
	if err := validName(name); err != nil {
		return Document{}, fmt.Errorf("configstore: get: %w", err)
	}
	var doc Document
	err := s.view(func(b *bolt.Bucket) error {
		v := b.Get([]byte(name))
		if v == nil {
			return fmt.Errorf("%q: %w", name, ErrNotFound)
		}
		var err error
		doc, err = decodeDoc(name, v)
		return err
	})
	if err != nil {
		return Document{}, fmt.Errorf("configstore: get: %w", err)
	}
	return doc, nil
}

// List returns every document whose name starts with prefix, by name.
// An empty prefix lists everything.
func (s *Store) List(prefix string) ([]Document, error) {
	var docs []Document
	err := s.view(func(b *bolt.Bucket) error {
		var err error
		docs, err = listPrefix(b, prefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("configstore: list: %w", err)
	}
	return docs, nil
}

func listPrefix(b *bolt.Bucket, prefix string) ([]Document, error) {
	var docs []Document
	c := b.Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		doc, err := decodeDoc(string(k), v)
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

func (s *Store) view(fn func(*bolt.Bucket) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDocs)
		if b == nil {
			return fmt.Errorf("%w: bucket missing", ErrCorrupt)
		}
		return fn(b)
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Put stores doc under these version rules: Version 0 stores at the stored
// version + 1; a higher version replaces; the same version with the same
// data is a no-op (replays are harmless); the same version with other data
// is ErrVersionConflict; a lower version is ErrStaleVersion. It returns the
// change made (none for a no-op).
func (s *Store) Put(doc Document) ([]Change, error) {
	if err := s.checkDoc(&doc); err != nil {
		return nil, fmt.Errorf("configstore: put: %w", err)
	}
	return s.write("put", func(b *bolt.Bucket, now time.Time) ([]Change, error) {
		ch, err := putOne(b, doc, now, true)
		if err != nil || ch == nil {
			return nil, err
		}
		return []Change{*ch}, nil
	})
}

// Delete removes the named document; deleting a missing one is a no-op.
func (s *Store) Delete(name string) ([]Change, error) {
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("configstore: delete: %w", err)
	}
	return s.write("delete", func(b *bolt.Bucket, _ time.Time) ([]Change, error) {
		v := b.Get([]byte(name))
		if v == nil {
			return nil, nil
		}
		prev, err := decodeDoc(name, v)
		if err != nil {
			return nil, err
		}
		if err := b.Delete([]byte(name)); err != nil {
			return nil, err
		}
		return []Change{{Name: name, PrevVersion: prev.Version}}, nil
	})
}

// ReplacePrefix atomically makes the documents whose names start with
// prefix exactly docs: listed ones are created or replaced, the others under
// prefix are deleted, all in one transaction. It installs a snapshot from
// the source of truth, so versions may go down; a document whose version
// and data are unchanged is left alone (no change reported). Every name must
// start with prefix (ErrInvalidName) and appear once (ErrDuplicateName).
// An empty prefix replaces the whole store.
func (s *Store) ReplacePrefix(prefix string, docs []Document) ([]Change, error) {
	seen := make(map[string]bool, len(docs))
	for i := range docs {
		d := &docs[i]
		if err := s.checkDoc(d); err != nil {
			return nil, fmt.Errorf("configstore: replace: %w", err)
		}
		if !strings.HasPrefix(d.Name, prefix) {
			return nil, fmt.Errorf("configstore: replace: %w: %q lacks prefix %q", ErrInvalidName, d.Name, prefix)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("configstore: replace: %w: %q", ErrDuplicateName, d.Name)
		}
		seen[d.Name] = true
	}
	return s.write("replace", func(b *bolt.Bucket, now time.Time) ([]Change, error) {
		var changes []Change
		// Delete what the new set does not name.
		var gone [][]byte
		c := b.Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if seen[string(k)] {
				continue
			}
			prev, err := decodeDoc(string(k), v)
			if err != nil {
				return nil, err
			}
			gone = append(gone, bytes.Clone(k))
			changes = append(changes, Change{Name: string(k), PrevVersion: prev.Version})
		}
		for _, k := range gone {
			if err := b.Delete(k); err != nil {
				return nil, err
			}
		}
		for _, d := range docs {
			ch, err := putOne(b, d, now, false)
			if err != nil {
				return nil, err
			}
			if ch != nil {
				changes = append(changes, *ch)
			}
		}
		slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Name, b.Name) })
		return changes, nil
	})
}

// putOne writes d unless it is unchanged. With enforce, the version rules
// of Put apply; without, any version is installed.
func putOne(b *bolt.Bucket, d Document, now time.Time, enforce bool) (*Change, error) {
	var prev *Document
	if v := b.Get([]byte(d.Name)); v != nil {
		p, err := decodeDoc(d.Name, v)
		if err != nil {
			return nil, err
		}
		prev = &p
	}
	var prevVersion uint64
	if prev != nil {
		prevVersion = prev.Version
		same := bytes.Equal(prev.Data, d.Data)
		switch {
		case (d.Version == 0 || d.Version == prev.Version) && same:
			return nil, nil
		case !enforce || d.Version == 0 || d.Version > prev.Version:
		case d.Version == prev.Version:
			return nil, fmt.Errorf("%q version %d: %w", d.Name, d.Version, ErrVersionConflict)
		default:
			return nil, fmt.Errorf("%q version %d < %d: %w", d.Name, d.Version, prev.Version, ErrStaleVersion)
		}
	}
	if d.Version == 0 {
		d.Version = prevVersion + 1
	}
	d.Updated = now
	d.Data = bytes.Clone(d.Data)
	if d.Data == nil {
		d.Data = []byte{}
	}
	if err := b.Put([]byte(d.Name), encodeDoc(&d)); err != nil {
		return nil, err
	}
	return &Change{Name: d.Name, PrevVersion: prevVersion, Doc: &d}, nil
}

// write runs fn in one transaction and then notifies subscribers, holding
// writeMu so notifications follow commit order.
func (s *Store) write(op string, fn func(*bolt.Bucket, time.Time) ([]Change, error)) ([]Change, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("configstore: %s: %w", op, ErrClosed)
	}
	now := s.opts.Now()
	var changes []Change
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDocs)
		if b == nil {
			return fmt.Errorf("%w: bucket missing", ErrCorrupt)
		}
		var err error
		changes, err = fn(b, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("configstore: %s: %w", op, err)
	}
	if len(changes) > 0 {
		s.log.Debug("config changed", "op", op, "documents", len(changes))
		s.notify(changes)
	}
	return changes, nil
}

func (s *Store) notify(changes []Change) {
	ids := make([]int, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, id)
	}
	slices.Sort(ids) // subscription order
	for _, id := range ids {
		sub := s.subs[id]
		var mine []Change
		for _, c := range changes {
			if strings.HasPrefix(c.Name, sub.prefix) {
				mine = append(mine, c)
			}
		}
		if len(mine) > 0 {
			sub.fn(mine)
		}
	}
}

// Subscribe registers fn for changes to documents under prefix and returns,
// atomically with the registration, the documents currently under prefix:
// apply current, then every change fn receives, and nothing is missed or
// seen twice. fn runs synchronously in the writing goroutine after the
// commit, in commit order; it must not write to the Store (deadlock) but may
// read. Call unsubscribe to stop; it is safe to call more than once.
func (s *Store) Subscribe(prefix string, fn func([]Change)) (current []Document, unsubscribe func(), err error) {
	if fn == nil {
		return nil, nil, errors.New("configstore: subscribe: nil func")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return nil, nil, fmt.Errorf("configstore: subscribe: %w", ErrClosed)
	}
	current, err = s.List(prefix)
	if err != nil {
		return nil, nil, err
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = subscriber{prefix: prefix, fn: fn}
	return current, func() {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		delete(s.subs, id)
	}, nil
}

func (s *Store) checkDoc(d *Document) error {
	if err := validName(d.Name); err != nil {
		return err
	}
	if len(d.Data) > s.opts.MaxDocSize {
		return fmt.Errorf("%w: %q is %d bytes, limit %d", ErrTooLarge, d.Name, len(d.Data), s.opts.MaxDocSize)
	}
	return nil
}

func validName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("%w: control character in %q", ErrInvalidName, name)
	}
	return nil
}

// Stored value, format 1:
//
//	[0]     format version (1)
//	uvarint Version
//	varint  Updated, Unix nanoseconds
//	Data bytes
//	4 bytes CRC-32C, little endian, of everything before it
const docFormatV1 = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeDoc(d *Document) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(d.Data)+4)
	b = append(b, docFormatV1)
	b = binary.AppendUvarint(b, d.Version)
	b = binary.AppendVarint(b, d.Updated.UnixNano())
	b = append(b, d.Data...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeDoc(name string, v []byte) (Document, error) {
	bad := func(why string) (Document, error) {
		return Document{}, fmt.Errorf("%w: %q: %s", ErrCorrupt, name, why)
	}
	if len(v) < 1+1+1+4 {
		return bad("value too short")
	}
	body := v[:len(v)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(v[len(v)-4:]) {
		return bad("checksum mismatch")
	}
	if body[0] != docFormatV1 {
		return bad(fmt.Sprintf("unknown format %d", body[0]))
	}
	p := body[1:]
	ver, n := binary.Uvarint(p)
	if n <= 0 {
		return bad("bad version")
	}
	p = p[n:]
	upd, n := binary.Varint(p)
	if n <= 0 {
		return bad("bad time")
	}
	return Document{Name: name, Version: ver, Updated: time.Unix(0, upd), Data: bytes.Clone(p[n:])}, nil
}
