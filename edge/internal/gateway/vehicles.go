package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/fleetedge/fleetedge/edge/internal/configstore"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// Names of the gateway's documents in the configstore: the same names the
// cloud link stores pushed documents under (link.ConfigVehicles, link.ConfigZones).
const (
	docVehicles = link.ConfigVehicles
	docZones    = link.ConfigZones
)

// ErrVehicles reports an unusable vehicles document.
var ErrVehicles = errors.New("invalid vehicles document")

// ErrZones reports an unusable zones document.
var ErrZones = errors.New("invalid zones document")

// vehicle is what the gateway keeps per configured vehicle.
type vehicle struct {
	cfg    link.VehicleConfig
	digest devicecred.Digest
}

// directory is the configured vehicles, swapped atomically when a new list
// arrives. It implements broker.Credentials (read on every CONNECT).
type directory struct {
	table atomic.Pointer[map[string]vehicle]
}

// Credential returns the credential digest of an enabled vehicle.
func (d *directory) Credential(id string) (devicecred.Digest, bool) {
	t := d.table.Load()
	if t == nil {
		return devicecred.Digest{}, false
	}
	v, ok := (*t)[id]
	if !ok || v.cfg.Disabled {
		return devicecred.Digest{}, false
	}
	return v.digest, true
}

// Vehicle returns a configured vehicle (type, normal limit) for rules and the API.
func (d *directory) Vehicle(id string) (link.VehicleConfig, bool) {
	t := d.table.Load()
	if t == nil {
		return link.VehicleConfig{}, false
	}
	v, ok := (*t)[id]
	return v.cfg, ok
}

// Len returns the number of configured vehicles.
func (d *directory) Len() int {
	if t := d.table.Load(); t != nil {
		return len(*t)
	}
	return 0
}

func (d *directory) set(t map[string]vehicle) { d.table.Store(&t) }

// parseVehicles validates a VehiclesDoc for city and builds the table.
func parseVehicles(data []byte, city string) (*link.VehiclesDoc, map[string]vehicle, error) {
	var doc link.VehiclesDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrVehicles, err)
	}
	if err := doc.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrVehicles, err)
	}
	if string(doc.City) != city {
		return nil, nil, fmt.Errorf("%w: document is for city %q, this gateway serves %q", ErrVehicles, doc.City, city)
	}
	t := make(map[string]vehicle, len(doc.Vehicles))
	for _, v := range doc.Vehicles {
		if _, err := protocol.ParseVehicleID(v.ID); err != nil {
			return nil, nil, fmt.Errorf("%w: vehicle %q: %w", ErrVehicles, v.ID, err)
		}
		d, err := devicecred.Parse(v.CredentialHash)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: vehicle %q: %w", ErrVehicles, v.ID, err)
		}
		t[v.ID] = vehicle{cfg: v, digest: d}
	}
	return &doc, t, nil
}

// loadDoc returns the document to apply: the file's content (validated by
// check, then stored so later starts without the file use it) or, without a
// file, the stored copy. found is false when neither exists.
// check validates a document and returns its version (0: the store picks one).
func loadDoc(store *configstore.Store, name, path string, check func([]byte) (uint64, error)) (data []byte, fromFile, found bool, err error) {
	if path == "" {
		doc, err := store.Get(name)
		if errors.Is(err, configstore.ErrNotFound) {
			return nil, false, false, nil
		}
		if err != nil {
			return nil, false, false, fmt.Errorf("read stored %s: %w", name, err)
		}
		if _, err := check(doc.Data); err != nil {
			return nil, false, false, fmt.Errorf("stored %s: %w", name, err)
		}
		return doc.Data, false, true, nil
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, false, false, fmt.Errorf("read %s file: %w", name, err)
	}
	version, err := check(data)
	if err != nil {
		return nil, false, false, fmt.Errorf("%s file %s: %w", name, path, err)
	}
	if cur, err := store.Get(name); err == nil && bytes.Equal(cur.Data, data) {
		return data, true, true, nil // unchanged: keep the stored version
	}
	_, err = store.Put(configstore.Document{Name: name, Version: version, Data: data})
	if errors.Is(err, configstore.ErrStaleVersion) || errors.Is(err, configstore.ErrVersionConflict) {
		// The operator's file wins over what was stored; bump past the stored version.
		_, err = store.Put(configstore.Document{Name: name, Data: data})
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("store %s: %w", name, err)
	}
	return data, true, true, nil
}

// parseZones validates a GBFS geofencing document.
func parseZones(data []byte) (*zone.Set, error) {
	s, err := zone.Load(data, zone.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrZones, err)
	}
	return s, nil
}
